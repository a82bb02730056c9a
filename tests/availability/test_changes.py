"""A change to maintenance state reaches another process: by polling alone, and by a change feed
(PostgreSQL LISTEN/NOTIFY, Redis pub/sub) with polling turned down to once an hour, so only the
feed can have carried it. How fast is measured in bench/, not here."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from pitstop.availability.changes import ChangeFeed, NoFeed, PostgresFeed, RedisFeed
from pitstop.availability.state import MaintenanceState
from pitstop.availability.store import WindowStore
from pitstop.availability.windows import WindowRequest
from pitstop.clock import SystemClock
from pitstop.db import create_engine, migrate

REDIS_ENV = "PITSTOP_TEST_REDIS_URL"
HOUR = 3600.0


def _redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{REDIS_ENV} is not set: CI needs Redis")
        pytest.skip(f"{REDIS_ENV} is not set")
    return url


@dataclass
class Process:
    """What one server process holds of maintenance: its store and its in-memory state."""

    store: WindowStore
    state: MaintenanceState


@contextlib.asynccontextmanager
async def process(database_url: str, feed: ChangeFeed, poll: float) -> AsyncIterator[Process]:
    engine = create_engine(database_url)
    await migrate(engine)
    store = WindowStore(engine, SystemClock())
    state = MaintenanceState(store, SystemClock(), feed=feed, poll_interval=poll)
    store.on_change = state.publish
    await state.refresh()
    task = asyncio.create_task(state.run())
    try:
        yield Process(store, state)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await feed.close()
        await engine.dispose()


async def _start_a_window(p: Process) -> None:
    window = await p.store.schedule(
        WindowRequest(
            title="Replica test",
            reason="configuration",
            starts_at=p.store.clock.now() + timedelta(minutes=5),
            duration_minutes=30,
        ),
        "ops@example.com",
    )
    await p.store.start(window.id, "ops@example.com")


async def _sees_it(p: Process) -> None:
    async with asyncio.timeout(10):
        while p.state.closing("vehicle_data") is None:
            await asyncio.sleep(0.01)


async def test_polling_alone_carries_a_change(database_url: str) -> None:
    async with (
        process(database_url, NoFeed(), poll=HOUR) as a,
        process(database_url, NoFeed(), poll=0.05) as b,
    ):
        await _start_a_window(a)
        assert a.state.closing("vehicle_data") is not None  # the acting process knows at once
        await _sees_it(b)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_listen_notify_carries_a_change_without_polling(database_url: str) -> None:
    async with (
        process(database_url, PostgresFeed(database_url), poll=HOUR) as a,
        process(database_url, PostgresFeed(database_url), poll=HOUR) as b,
    ):
        await asyncio.sleep(0.3)  # b is listening
        await _start_a_window(a)
        await _sees_it(b)


async def test_redis_carries_a_change_without_polling(database_url: str) -> None:
    url = _redis_url()
    async with (
        process(database_url, RedisFeed(url), poll=HOUR) as a,
        process(database_url, RedisFeed(url), poll=HOUR) as b,
    ):
        await asyncio.sleep(0.3)  # b is subscribed
        await _start_a_window(a)
        await _sees_it(b)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_changes_still_arrive_after_the_database_drops_every_connection(
    database_url: str,
) -> None:
    """Each process reads on a connection it keeps open: one the database has dropped (a
    restart, a failover) must be replaced, not keep the process blind."""
    async with (
        process(database_url, NoFeed(), poll=HOUR) as a,
        process(database_url, NoFeed(), poll=0.05) as b,
    ):
        async with asyncio.timeout(10):  # b has polled: its reading connection is open
            while (reader := b.state._reader) is None:
                await asyncio.sleep(0.02)
        raw = await reader.get_raw_connection()
        reader_pid = raw.driver_connection.get_server_pid()  # type: ignore[union-attr]
        name = make_url(database_url).database
        admin = await asyncpg.connect(database_url)
        try:
            rows = await admin.fetch(
                "SELECT pid, pg_terminate_backend(pid) AS killed FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        assert reader_pid in {r["pid"] for r in rows if r["killed"]}  # b's reader is gone
        await _start_a_window(a)
        await _sees_it(b)


async def test_without_a_feed_or_polling_nothing_arrives(database_url: str) -> None:
    """The control for the two tests above: with no feed and no poll, b stays unaware."""
    async with (
        process(database_url, NoFeed(), poll=HOUR) as a,
        process(database_url, NoFeed(), poll=HOUR) as b,
    ):
        await _start_a_window(a)
        await asyncio.sleep(0.5)
        assert b.state.closing("vehicle_data") is None
