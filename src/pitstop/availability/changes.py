"""How a change to maintenance state reaches every server process quickly.

Polling the database (every `maintenance_poll_interval`, 0.5 s by default) always runs and is
enough on its own; a change feed makes it near-instant: PostgreSQL LISTEN/NOTIFY when the
database is PostgreSQL, or Redis pub/sub when `PITSTOP_REDIS_URL` is set. A feed only says "something changed": each process then re-reads the
windows from the database, which stays the one source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

CHANNEL = "pitstop_maintenance"


class ChangeFeed(Protocol):
    async def publish(self) -> None:
        """Tell every process that maintenance state changed."""
        ...

    async def listen(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` for every change anyone publishes, until cancelled."""
        ...

    async def close(self) -> None: ...


class NoFeed:
    """Polling only."""

    async def publish(self) -> None:
        return None

    async def listen(self, on_change: Callable[[], None]) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


class PostgresFeed:
    """LISTEN/NOTIFY on a dedicated asyncpg connection, reconnecting after failures."""

    def __init__(self, dsn: str, *, retry_delay: float = 1.0) -> None:
        self.dsn = dsn.replace("postgresql+asyncpg://", "postgresql://")
        self.retry_delay = retry_delay
        self._publisher: Any = None
        self._lock = asyncio.Lock()

    async def publish(self) -> None:
        import asyncpg

        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        self._publisher = await asyncpg.connect(self.dsn, timeout=5)
                    await self._publisher.execute("SELECT pg_notify($1, '')", CHANNEL)
                    return
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    self._publisher = None
                    if attempt == 2:
                        log.warning("maintenance NOTIFY failed (polling will catch up): %s", exc)

    async def listen(self, on_change: Callable[[], None]) -> None:
        import asyncpg

        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, lambda *_: on_change())
                on_change()  # catch up on anything missed while not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.info("maintenance LISTEN lost (%s); retrying", exc)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(self.retry_delay)

    async def close(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.close()


class RedisFeed:
    """Redis pub/sub."""

    def __init__(self, url: str, *, retry_delay: float = 1.0) -> None:
        import redis.asyncio as redis

        self.url = url
        self.retry_delay = retry_delay
        self._redis = redis.from_url(url)

    async def publish(self) -> None:
        import redis

        try:
            await self._redis.publish(CHANNEL, b"")
        except (OSError, redis.RedisError) as exc:
            log.warning("maintenance publish to Redis failed (polling will catch up): %s", exc)

    async def listen(self, on_change: Callable[[], None]) -> None:
        import redis

        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    on_change()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            on_change()
            except asyncio.CancelledError:
                raise
            except (OSError, redis.RedisError) as exc:
                log.info("maintenance subscription to Redis lost (%s); retrying", exc)
            await asyncio.sleep(self.retry_delay)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()


FEEDS = ("auto", "poll", "postgres", "redis")


def make_feed(database_url: str, redis_url: str = "", kind: str = "auto") -> ChangeFeed:
    """The feed `kind` names (see `Settings.maintenance_feed`); ValueError if it cannot be had."""
    if kind not in FEEDS:
        raise ValueError(f"maintenance_feed must be one of {', '.join(FEEDS)}, not {kind!r}")
    if kind == "auto":
        kind = (
            "redis"
            if redis_url
            else "postgres"
            if database_url.startswith("postgresql")
            else "poll"
        )
    if kind == "redis":
        if not redis_url:
            raise ValueError("maintenance_feed redis needs a redis_url (PITSTOP_REDIS_URL)")
        return RedisFeed(redis_url)
    if kind == "postgres":
        if not database_url.startswith("postgresql"):
            raise ValueError("maintenance_feed postgres needs a PostgreSQL database_url")
        return PostgresFeed(database_url)
    return NoFeed()
