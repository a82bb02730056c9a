"""People who follow the status page by email, without an account: double opt-in.

Subscribing stores the address as pending with the hash of a random token and mails a link
with the token; only following that link (a POST: mail scanners only GET) confirms it. Only
confirmed addresses are told anything else. Every mail carries a link that removes the address.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.availability.windows import COMPONENTS
from pitstop.clock import Clock
from pitstop.db import upsert
from pitstop.db.tables import status_subscribers as t

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class SubscriptionError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check(email: str, components: Sequence[str]) -> tuple[str, list[str]]:
    address = email.strip().lower()
    if len(address) > 320 or not _EMAIL.match(address):
        raise SubscriptionError(f"{email.strip()!r} is not an email address.", "email")
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise SubscriptionError(f"Unknown component(s): {', '.join(unknown)}.", "components")
    return address, sorted(set(components))


class Subscribers:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def subscribe(self, email: str, components: Sequence[str] = ()) -> tuple[int, str] | None:
        """Record `email` as pending; (its id, the token to mail), or None if it is confirmed
        already (its choice of components is updated; nothing needs mailing)."""
        address, chosen = check(email, components)
        token = secrets.token_urlsafe(24)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(sa.select(t.c.id, t.c.confirmed_at).where(t.c.email == address))
            ).first()
            if row is not None and row.confirmed_at is not None:
                await conn.execute(t.update().where(t.c.id == row.id).values(components=chosen))
                return None
            await conn.execute(
                upsert(
                    conn,
                    t,
                    index_elements=["email"],
                    update=["components", "token_hash", "created_at"],
                ).values(
                    email=address,
                    components=chosen,
                    token_hash=_hash(token),
                    created_at=self.clock.now(),
                )
            )
            sub_id = (
                await conn.execute(sa.select(t.c.id).where(t.c.email == address))
            ).scalar_one()
        return int(sub_id), token

    async def pending(self, token: str) -> str | None:
        """The address a confirmation token is for, if it is still pending."""
        async with self.engine.connect() as conn:
            email: str | None = (
                await conn.execute(
                    sa.select(t.c.email).where(
                        t.c.token_hash == _hash(token), t.c.confirmed_at.is_(None)
                    )
                )
            ).scalar()
        return email

    async def confirm(self, token: str) -> str | None:
        """Confirm the subscription `token` was mailed for; its address, or None."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            email: str | None = (
                await conn.execute(
                    t.update()
                    .where(t.c.token_hash == _hash(token), t.c.confirmed_at.is_(None))
                    .values(confirmed_at=now, token_hash=None)
                    .returning(t.c.email)
                )
            ).scalar()
        return email

    async def remove(self, email: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(t.delete().where(t.c.email == email.strip().lower()))
        return bool(result.rowcount)

    async def following(self, components: Iterable[str]) -> list[str]:
        """Confirmed addresses that follow any of `components` (or everything)."""
        wanted = set(components)
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.email, t.c.components).where(t.c.confirmed_at.is_not(None))
                )
            ).all()
        return [r.email for r in rows if not r.components or wanted & set(r.components)]

    async def confirmed_at(self, email: str) -> datetime | None:
        async with self.engine.connect() as conn:
            when: datetime | None = (
                await conn.execute(
                    sa.select(t.c.confirmed_at).where(t.c.email == email.strip().lower())
                )
            ).scalar()
        return when
