"""The in-app feed: one list of notifications per user, in the database, pushed live.

`FeedChannel` is the outbox's way into the feed (a delivery is an insert, idempotent per
notification); `FeedStore` reads and marks items; `FeedHub` wakes this process's open
streams: at once for items this process wrote, and within `poll_interval` for items another
process wrote (it watches the newest item id while anyone is listening).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.clock import Clock
from pitstop.db import upsert
from pitstop.db.tables import feed_items as t
from pitstop.notify.outcomes import Delivered, Message, Outcome
from pitstop.notify.topics import FEED

log = logging.getLogger(__name__)


class FeedItem(msgspec.Struct, kw_only=True):
    id: int
    key: str
    topic: str
    subject: str
    text: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def _item(row: Any) -> FeedItem:
    return FeedItem(
        id=row.id,
        key=row.key,
        topic=row.topic,
        subject=row.subject,
        text=row.text,
        data=row.data,
        created_at=row.created_at,
        read_at=row.read_at,
    )


class FeedHub:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, poll_interval: float = 2.0) -> None:
        self.engine = engine
        self.clock = clock
        self.poll_interval = poll_interval
        self._listeners: dict[int, set[asyncio.Event]] = {}
        self._anyone = asyncio.Event()  # set while someone listens
        self._newest = 0

    @contextlib.contextmanager
    def listen(self, user_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever `user_id` may have new items (clear it before reading)."""
        event = asyncio.Event()
        self._listeners.setdefault(user_id, set()).add(event)
        self._anyone.set()
        try:
            yield event
        finally:
            group = self._listeners.get(user_id)
            if group is not None:
                group.discard(event)
                if not group:
                    del self._listeners[user_id]
            if not self._listeners:
                self._anyone.clear()

    def publish(self, user_id: int) -> None:
        for event in self._listeners.get(user_id, ()):
            event.set()

    def publish_all(self) -> None:
        for group in self._listeners.values():
            for event in group:
                event.set()

    @property
    def listeners(self) -> int:
        return sum(len(group) for group in self._listeners.values())

    async def run(self) -> None:
        """Notice items written by other processes."""
        while True:
            await self._anyone.wait()  # nobody listening: nothing to poll for
            await self.clock.sleep(self.poll_interval)
            try:
                async with self.engine.connect() as conn:
                    newest = int(await conn.scalar(sa.select(sa.func.max(t.c.id))) or 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("feed poll failed (will retry): %s", exc)
                continue
            if newest > self._newest:
                self._newest = newest
                self.publish_all()


class FeedStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def page(
        self, user_id: int, *, limit: int = 20, before_id: int | None = None, unread: bool = False
    ) -> list[FeedItem]:
        """Newest first; `before_id` pages on."""
        query = sa.select(t).where(t.c.user_id == user_id).order_by(t.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(t.c.id < before_id)
        if unread:
            query = query.where(t.c.read_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_item(r) for r in rows]

    async def since(self, user_id: int, after_id: int, *, limit: int = 100) -> list[FeedItem]:
        """Oldest first, after `after_id` (what a stream has not sent yet)."""
        query = (
            sa.select(t)
            .where(t.c.user_id == user_id, t.c.id > after_id)
            .order_by(t.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_item(r) for r in rows]

    async def newest_id(self, user_id: int) -> int:
        async with self.engine.connect() as conn:
            value = await conn.scalar(sa.select(sa.func.max(t.c.id)).where(t.c.user_id == user_id))
        return int(value or 0)

    async def unread_count(self, user_id: int) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(t)
            .where(t.c.user_id == user_id, t.c.read_at.is_(None))
        )
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def mark_read(
        self, user_id: int, *, ids: list[int] | None = None, up_to: int | None = None
    ) -> int:
        """Mark `ids`, or everything up to `up_to`, or (neither) everything, as read."""
        stmt = t.update().where(t.c.user_id == user_id, t.c.read_at.is_(None))
        if ids is not None:
            stmt = stmt.where(t.c.id.in_(ids))
        if up_to is not None:
            stmt = stmt.where(t.c.id <= up_to)
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt.values(read_at=self.clock.now()))
        return int(result.rowcount)


class FeedChannel:
    name = FEED

    def __init__(self, engine: AsyncEngine, clock: Clock, hub: FeedHub) -> None:
        self.engine = engine
        self.clock = clock
        self.hub = hub

    async def recipients(self, conn: AsyncConnection, user_ids: list[int]) -> list[tuple[int, str]]:
        return [(uid, str(uid)) for uid in user_ids]

    async def send(self, message: Message) -> Outcome:
        user_id = int(message.recipient.address)
        notification_id = int(message.extra["notification_id"])
        async with self.engine.begin() as conn:
            await conn.execute(
                upsert(conn, t, index_elements=["user_id", "notification_id"]).values(
                    user_id=user_id,
                    notification_id=notification_id,
                    key=message.key,
                    topic=message.topic,
                    subject=message.subject[:300],
                    text=message.text,
                    data=message.data,
                    created_at=message.created_at,
                )
            )
        self.hub.publish(user_id)
        return Delivered()

    async def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        """A batch of items in one transaction (the worker prefers this to `send`)."""
        rows: list[dict[str, Any]] = [
            {
                "user_id": int(m.recipient.address),
                "notification_id": int(m.extra["notification_id"]),
                "key": m.key,
                "topic": m.topic,
                "subject": m.subject[:300],
                "text": m.text,
                "data": m.data,
                "created_at": m.created_at,
            }
            for m in messages
        ]
        if rows:
            async with self.engine.begin() as conn:
                stmt = upsert(conn, t, index_elements=["user_id", "notification_id"])
                await conn.execute(stmt, rows)
        for row in rows:
            self.hub.publish(row["user_id"])
        return [Delivered()] * len(rows)

    async def close(self) -> None:
        return None
