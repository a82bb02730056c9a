"""Automatic incidents: the database goes away under a running server, the status page shows
an outage by itself (while the database is still away), and it resolves when health returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from pitstop.app import create_app
from pitstop.clock import ManualClock
from pitstop.settings import Settings
from tests.proxy import Proxy
from tests.world import World

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[Proxy]:
    url = make_url(database_url)
    p = await Proxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield p
    await p.stop()


async def _status(world: World) -> dict[str, Any]:
    async with world.client() as anyone:
        r = await anyone.get("/api/1/status")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["response"]
    return data


async def _checked(world: World, clock: ManualClock, seconds: float) -> None:
    """Move the clock, and let the health monitor finish the checks that became due."""
    await clock.advance(seconds)
    for _ in range(3):  # a check against a cut line takes a moment of real time
        await asyncio.sleep(0.3)
        await clock.advance(0)


async def test_a_failing_database_becomes_an_outage_on_the_status_page_and_resolves(
    settings: Settings, database_url: str, proxy: Proxy
) -> None:
    settings.database_url = (
        make_url(database_url).set(port=proxy.port).render_as_string(hide_password=False)
    )
    settings.health_check_interval = 5
    settings.incident_after = 60
    clock = ManualClock()
    async with World.running(create_app(settings, clock=clock), clock) as world:
        await world.account("ada@example.com")  # records begin
        assert (await _status(world))["state"] == "operational"

        proxy.cut()
        await _checked(world, clock, 5)
        # Failing, but not for long enough: no incident yet.
        assert (await _status(world))["state"] == "operational"
        for _ in range(12):
            await _checked(world, clock, 5)
        down = await _status(world)
        assert down["state"] == "outage" and down["text"] == "Pitstop is having an outage"
        assert {c["state"] for c in down["components"] if c["id"] != "vehicle_link"} == {"outage"}
        (incident,) = down["incidents"]
        assert (
            incident["title"] == "Pitstop's database is not answering"
            and incident["resolved_at"] is None
        )
        assert down["history"] is None  # it cannot be read now, and the page says so
        async with world.client() as anyone:
            page = (await anyone.get("/status")).text
        assert "Outage: Pitstop&#39;s database is not answering" in page
        assert "History is not available right now." in page

        proxy.restore()
        await _checked(world, clock, 5)
        await world.eventually(lambda: world.rt.monitor.open_incidents() == [])
        up = await _status(world)
        assert up["state"] == "operational"
        (resolved,) = up["incidents"]
        assert resolved["id"] is not None and resolved["resolved_at"] is not None
        assert resolved["started_at"] < resolved["resolved_at"]
        today = next(h for h in up["history"] if h["id"] == "vehicle_data")["days"][-1]
        assert today["state"] == "outage" and today["down_minutes"] >= 1
