"""Owners' Web Push subscriptions: one per browser they turned push on in.

A subscription is what the browser's `pushManager.subscribe()` returns: the push service's
endpoint URL and the browser's keys. The endpoint names the browser, so subscribing again
from the same browser (another user signed in, or fresh keys) replaces the old entry.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.clock import Clock
from pitstop.db.tables import push_subscriptions as t
from pitstop.notify.b64url import b64url_decode
from pitstop.notify.destinations import PrivateDestination, check_public

MAX_PER_USER = 20


class PushSubscription(msgspec.Struct, kw_only=True):
    id: int
    user_id: int
    endpoint: str
    device: str
    created_at: datetime
    last_delivered_at: datetime | None


class Keys(msgspec.Struct, kw_only=True):
    endpoint: str
    p256dh: str
    auth: str


class SubscriptionError(ValueError):
    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, *, allow_private: bool = True) -> str:
    """Browsers' push services are https; plain http only on this machine (a local push
    service), and only where private destinations are allowed (destinations.py)."""
    url = url.strip()
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("http", "https"):
        raise SubscriptionError("A push endpoint is an https:// URL.", "endpoint")
    if parts.scheme == "http" and not (allow_private and _loopback(parts.hostname)):
        raise SubscriptionError("A push endpoint is an https:// URL.", "endpoint")
    if len(url) > 2000:
        raise SubscriptionError("A push endpoint has at most 2000 characters.", "endpoint")
    return url


def check_keys(p256dh: str, auth: str) -> None:
    """The browser's keys must be usable, or every message to it would fail later."""
    try:
        point = b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise SubscriptionError(
            "keys.p256dh is not a P-256 public key (65 bytes, base64url).", "keys.p256dh"
        ) from exc
    try:
        secret = b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise SubscriptionError("keys.auth is not a 16-byte secret (base64url).", "keys.auth")


class PushSubscriptions:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, allow_private: bool = True) -> None:
        self.engine = engine
        self.clock = clock
        #: False: endpoints into a network are refused (destinations.py), as for webhooks.
        self.allow_private = allow_private

    @staticmethod
    def _subscription(row: Any) -> PushSubscription:
        return PushSubscription(
            id=row.id,
            user_id=row.user_id,
            endpoint=row.endpoint,
            device=row.device,
            created_at=row.created_at,
            last_delivered_at=row.last_delivered_at,
        )

    async def subscribe(
        self, user_id: int, endpoint: str, p256dh: str, auth: str, device: str = ""
    ) -> PushSubscription:
        """Store (or take over) the browser's subscription for `user_id`."""
        endpoint = check_endpoint(endpoint, allow_private=self.allow_private)
        check_keys(p256dh, auth)
        if not self.allow_private:
            try:
                await check_public(endpoint)
            except PrivateDestination as exc:
                raise SubscriptionError(str(exc), "endpoint") from exc
            except OSError as exc:
                raise SubscriptionError(
                    f"The push endpoint's host does not resolve: {exc}", "endpoint"
                ) from exc
        now = self.clock.now()
        async with self.engine.begin() as conn:
            existing = (await conn.execute(sa.select(t).where(t.c.endpoint == endpoint))).first()
            if existing is None:
                count = await conn.scalar(
                    sa.select(sa.func.count()).select_from(t).where(t.c.user_id == user_id)
                )
                if (count or 0) >= MAX_PER_USER:
                    raise SubscriptionError(
                        f"At most {MAX_PER_USER} browsers per user receive push notifications; "
                        "turn push off in one you no longer use."
                    )
            values = {
                "user_id": user_id,
                "p256dh": p256dh,
                "auth": auth,
                "device": device[:200],
                "updated_at": now,
            }
            statement: sa.Insert | sa.Update
            if existing is None:
                statement = t.insert().values(endpoint=endpoint, created_at=now, **values)
            else:
                statement = t.update().where(t.c.id == existing.id).values(**values)
            row = (await conn.execute(statement.returning(*t.c))).one()
        return self._subscription(row)

    async def of_user(self, user_id: int) -> list[PushSubscription]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(t).where(t.c.user_id == user_id).order_by(t.c.id))
            ).all()
        return [self._subscription(r) for r in rows]

    async def keys(self, subscription_id: int) -> Keys | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == subscription_id))).first()
        if row is None:
            return None
        return Keys(endpoint=row.endpoint, p256dh=row.p256dh, auth=row.auth)

    async def unsubscribe(
        self, user_id: int, *, subscription_id: int | None = None, endpoint: str | None = None
    ) -> bool:
        condition = t.c.id == subscription_id if endpoint is None else t.c.endpoint == endpoint
        async with self.engine.begin() as conn:
            result = await conn.execute(t.delete().where(condition, t.c.user_id == user_id))
        return bool(result.rowcount)

    async def forget(self, subscription_id: int) -> None:
        """The push service said the subscription is gone (404/410): nobody will read it."""
        async with self.engine.begin() as conn:
            await conn.execute(t.delete().where(t.c.id == subscription_id))

    async def delivered(self, subscription_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                t.update()
                .where(t.c.id == subscription_id)
                .values(last_delivered_at=self.clock.now())
            )

    async def for_users(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        """(user id, subscription id) of every subscription of `user_ids`."""
        if not user_ids:
            return []
        rows = (
            await conn.execute(sa.select(t.c.user_id, t.c.id).where(t.c.user_id.in_(user_ids)))
        ).all()
        return [(r.user_id, str(r.id)) for r in rows]
