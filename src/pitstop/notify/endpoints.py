"""Webhook endpoints that owners register, and their secrets with rotation.

Rotating adds a new secret and keeps the previous ones valid for a while (24 hours by
default), so the receiver can switch without losing a message: during that time every
message carries one signature per active secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.clock import Clock
from pitstop.db.tables import webhook_endpoints as t
from pitstop.notify.destinations import PrivateDestination, check_public
from pitstop.notify.signing import new_secret

MAX_PER_USER = 10


class Endpoint(msgspec.Struct, kw_only=True):
    id: int
    user_id: int
    url: str
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    #: How many secrets sign messages now (more than one during a rotation).
    active_secrets: int


class EndpointError(ValueError):
    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(
            "A webhook URL starts with http:// or https:// and names a host.", "url"
        )
    if len(url) > 2000:
        raise EndpointError("A webhook URL has at most 2000 characters.", "url")
    return url.strip()


def _active(raw: list[dict[str, Any]], now: datetime) -> list[str]:
    out = []
    for entry in raw:
        expires = entry.get("expires_at")
        if expires is None or datetime.fromisoformat(expires) > now:
            out.append(str(entry["secret"]))
    return out


class WebhookEndpoints:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, allow_private: bool = True) -> None:
        self.engine = engine
        self.clock = clock
        #: False: URLs into a network are refused (destinations.py).
        self.allow_private = allow_private

    def _endpoint(self, row: Any) -> Endpoint:
        return Endpoint(
            id=row.id,
            user_id=row.user_id,
            url=row.url,
            description=row.description,
            enabled=row.enabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
            active_secrets=len(_active(row.secrets, self.clock.now())),
        )

    async def create(self, user_id: int, url: str, description: str = "") -> tuple[Endpoint, str]:
        """A new endpoint and its secret (shown this once)."""
        url = check_url(url)
        if not self.allow_private:
            try:
                await check_public(url)
            except PrivateDestination as exc:
                raise EndpointError(str(exc), "url") from exc
            except OSError:
                pass  # does not resolve now: checked again before each delivery
        secret = new_secret()
        now = self.clock.now()
        async with self.engine.begin() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(t).where(t.c.user_id == user_id)
            )
            if (count or 0) >= MAX_PER_USER:
                raise EndpointError(f"At most {MAX_PER_USER} webhook endpoints per user.")
            row = (
                await conn.execute(
                    t.insert()
                    .values(
                        user_id=user_id,
                        url=url,
                        description=description[:200],
                        secrets=[{"secret": secret, "created_at": now.isoformat()}],
                        enabled=True,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(*t.c)
                )
            ).one()
        return self._endpoint(row), secret

    async def of_user(self, user_id: int) -> list[Endpoint]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(t).where(t.c.user_id == user_id).order_by(t.c.id))
            ).all()
        return [self._endpoint(r) for r in rows]

    async def get(self, endpoint_id: int) -> tuple[Endpoint, list[str]] | None:
        """The endpoint and its active secrets, newest first."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == endpoint_id))).first()
        if row is None:
            return None
        return self._endpoint(row), _active(row.secrets, self.clock.now())

    async def delete(self, user_id: int, endpoint_id: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                t.delete().where(t.c.id == endpoint_id, t.c.user_id == user_id)
            )
        return bool(result.rowcount)

    async def set_enabled(self, user_id: int, endpoint_id: int, enabled: bool) -> Endpoint | None:
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    t.update()
                    .where(t.c.id == endpoint_id, t.c.user_id == user_id)
                    .values(enabled=enabled, updated_at=self.clock.now())
                    .returning(*t.c)
                )
            ).first()
        return self._endpoint(row) if row else None

    async def rotate(
        self, user_id: int, endpoint_id: int, *, keep_previous: timedelta = timedelta(hours=24)
    ) -> tuple[Endpoint, str] | None:
        """A new secret; the ones still active stay valid for `keep_previous` at most."""
        now = self.clock.now()
        secret = new_secret()
        until = now + keep_previous
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(t).where(t.c.id == endpoint_id, t.c.user_id == user_id)
                )
            ).first()
            if row is None:
                return None
            kept = []
            for entry in row.secrets:
                if entry["secret"] not in _active([entry], now):
                    continue  # expired: forget it
                expires = entry.get("expires_at")
                capped = min(until, datetime.fromisoformat(expires)) if expires else until
                kept.append({**entry, "expires_at": capped.isoformat()})
            secrets = [{"secret": secret, "created_at": now.isoformat()}, *kept]
            row = (
                await conn.execute(
                    t.update()
                    .where(t.c.id == endpoint_id)
                    .values(secrets=secrets, updated_at=now)
                    .returning(*t.c)
                )
            ).one()
        return self._endpoint(row), secret

    async def for_users(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        """(user id, endpoint id) of every enabled endpoint of `user_ids`."""
        if not user_ids:
            return []
        rows = (
            await conn.execute(
                sa.select(t.c.user_id, t.c.id).where(t.c.user_id.in_(user_ids), t.c.enabled)
            )
        ).all()
        return [(r.user_id, str(r.id)) for r in rows]
