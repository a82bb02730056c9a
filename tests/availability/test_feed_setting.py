"""PITSTOP_MAINTENANCE_FEED: what tells the other processes of a change, as an operator sees it."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest
from sqlalchemy.engine import make_url

from pitstop.app import create_app
from pitstop.clock import Clock
from pitstop.settings import Settings, load_settings
from tests.world import World


async def _listeners(database_url: str) -> int:
    """Connections to this database that LISTEN for maintenance changes."""
    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username or "postgres", database="postgres"
    )
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
            url.database,
        )
    finally:
        await conn.close()
    return count


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_poll_holds_no_listen_connection_on_postgresql(
    settings: Settings, clock: Clock, database_url: str
) -> None:
    polling = msgspec.structs.replace(settings, maintenance_feed="poll")
    async with World.running(create_app(polling, clock=clock), clock) as world:
        assert world.rt.maintenance.loaded_at is not None
        assert await _listeners(database_url) == 0
    async with World.running(create_app(settings, clock=clock), clock):
        for _ in range(100):  # the default (auto) listens on PostgreSQL, once connected
            if await _listeners(database_url) == 1:
                break
            await asyncio.sleep(0.05)
        assert await _listeners(database_url) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_feed_that_cannot_be_had_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="PITSTOP_REDIS_URL"):
        create_app(msgspec.structs.replace(settings, maintenance_feed="redis"))
    with pytest.raises(ValueError, match="PostgreSQL"):
        create_app(msgspec.structs.replace(settings, maintenance_feed="postgres"))
    with pytest.raises(ValueError, match="one of auto, poll, postgres, redis"):
        create_app(
            load_settings(env={"PITSTOP_MAINTENANCE_FEED": "pigeons"}, data_dir=settings.data_dir)
        )
