"""Who wants what, how: per user, a set of channels per topic, and a time zone.

Only what a user changed is stored; every other topic uses `DEFAULT_CHANNELS`. An update is
validated whole before anything is written, so a request with one bad entry changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.clock import Clock
from pitstop.db import upsert
from pitstop.db.tables import notification_preferences as t
from pitstop.db.tables import users
from pitstop.notify.topics import CHANNELS, DEFAULT_CHANNELS, EMAIL, USER_TOPICS

_CHUNK = 5000


class UserPreferences(msgspec.Struct, kw_only=True):
    timezone: str
    #: Every topic, with the channels that carry it to this user.
    channels: dict[str, list[str]]


class PreferencesUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    timezone: str | None = None
    #: Only the topics named change.
    channels: dict[str, list[str]] | None = None


class PreferencesError(ValueError):
    def __init__(self, messages: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in messages.items()))
        self.messages = messages


@dataclass(frozen=True)
class Profile:
    """What the delivery side needs to address a user."""

    name: str
    email: str
    timezone: str


def validate(change: PreferencesUpdate) -> dict[str, list[str]]:
    """Every problem with `change`, by field; empty if none."""
    problems: dict[str, list[str]] = {}
    if change.timezone is not None:
        try:
            ZoneInfo(change.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems["timezone"] = [f"{change.timezone!r} is not a time zone (e.g. Europe/Paris)"]
    for topic, channels in (change.channels or {}).items():
        field = f"channels.{topic}"
        if topic not in USER_TOPICS:
            problems.setdefault(field, []).append("unknown topic")
        for channel in channels:
            if channel not in CHANNELS:
                problems.setdefault(field, []).append(
                    f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})"
                )
        if len(set(channels)) != len(channels):
            problems.setdefault(field, []).append("a channel is named twice")
    return problems


def _merge(stored: dict[str, Any] | None) -> dict[str, list[str]]:
    stored = stored or {}
    return {
        topic: list(stored[topic]) if topic in stored else list(DEFAULT_CHANNELS)
        for topic in USER_TOPICS
    }


class Preferences:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def get(self, user_id: int) -> UserPreferences:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.user_id == user_id))).first()
        if row is None:
            return UserPreferences(timezone="UTC", channels=_merge(None))
        return UserPreferences(timezone=row.timezone, channels=_merge(row.channels))

    async def update(self, user_id: int, change: PreferencesUpdate) -> UserPreferences:
        problems = validate(change)
        if problems:
            raise PreferencesError(problems)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(sa.select(t).where(t.c.user_id == user_id).with_for_update())
            ).first()
            timezone = row.timezone if row else "UTC"
            stored: dict[str, list[str]] = dict(row.channels) if row else {}
            if change.timezone is not None:
                timezone = change.timezone
            for topic, channels in (change.channels or {}).items():
                stored[topic] = [c for c in CHANNELS if c in channels]  # a stable order
            await self._write(conn, user_id, timezone, stored)
        return UserPreferences(timezone=timezone, channels=_merge(stored))

    async def unsubscribe(self, user_id: int, topic: str, channel: str = EMAIL) -> bool:
        """Stop `channel` for `topic`; False if the user does not exist."""
        async with self.engine.begin() as conn:
            exists = await conn.scalar(sa.select(users.c.id).where(users.c.id == user_id))
            if exists is None:
                return False
            row = (
                await conn.execute(sa.select(t).where(t.c.user_id == user_id).with_for_update())
            ).first()
            stored: dict[str, list[str]] = dict(row.channels) if row else {}
            current = _merge(stored)[topic] if topic in USER_TOPICS else []
            stored[topic] = [c for c in current if c != channel]
            await self._write(conn, user_id, row.timezone if row else "UTC", stored)
        return True

    async def _write(
        self, conn: AsyncConnection, user_id: int, timezone: str, stored: dict[str, list[str]]
    ) -> None:
        await conn.execute(
            upsert(
                conn, t, index_elements=["user_id"], update=["timezone", "channels", "updated_at"]
            ).values(
                user_id=user_id, timezone=timezone, channels=stored, updated_at=self.clock.now()
            )
        )

    async def choices(
        self, conn: AsyncConnection, topic: str | Sequence[str], user_ids: Sequence[int]
    ) -> dict[int, tuple[str, ...]]:
        """user id -> the channels `topic` goes to, for each of `user_ids`.

        With several topics (a maintenance window touching several components), a user gets
        it once, on every channel they chose for any of them.
        """
        topics = [topic] if isinstance(topic, str) else list(topic)
        out = {uid: DEFAULT_CHANNELS for uid in user_ids}
        ids = list(out)
        for start in range(0, len(ids), _CHUNK):
            rows = (
                await conn.execute(
                    sa.select(t.c.user_id, t.c.channels).where(
                        t.c.user_id.in_(ids[start : start + _CHUNK])
                    )
                )
            ).all()
            for r in rows:
                chosen = r.channels or {}
                if any(x in chosen for x in topics):
                    channels = (c for x in topics for c in chosen.get(x, DEFAULT_CHANNELS))
                    out[r.user_id] = tuple(dict.fromkeys(channels))
        return out

    async def profiles(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        query = (
            sa.select(users.c.id, users.c.full_name, users.c.email, t.c.timezone)
            .select_from(users.outerjoin(t, t.c.user_id == users.c.id))
            .where(users.c.id.in_(ids))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r.id: Profile(r.full_name, r.email, r.timezone or "UTC") for r in rows}
