"""The status page, its JSON and its feeds before, during and after a window (real server,
manual clock); the feeds read back with real parsers (feedparser, icalendar)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import feedparser
import httpx
import pytest
from icalendar import Calendar

from pitstop.clock import ManualClock
from tests.world import World


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def ops(world: World) -> AsyncIterator[httpx.AsyncClient]:
    operator = await world.account("ops@example.com", role="operator")
    async with world.client(operator.token) as http:
        yield http


async def _status(world: World) -> dict[str, Any]:
    async with world.client() as anyone:
        r = await anyone.get("/api/1/status")
    assert r.status_code == 200 and r.json()["error"] is None
    data: dict[str, Any] = r.json()["response"]
    return data


def _states(status: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["state"] for c in status["components"]}


async def _calendar(world: World) -> Calendar:
    async with world.client() as anyone:
        r = await anyone.get("/status/maintenance.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(r.content)


async def _feed(world: World) -> Any:
    async with world.client() as anyone:
        r = await anyone.get("/status/feed.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    return parsed


async def test_before_during_and_after_a_window(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    r = await ops.post("/api/1/maintenance", json={
        "title": "Charging backend upgrade", "reason": "hardware_upgrade",
        "description": "New chargers' controller.", "components": ["charging", "vehicle_commands"],
        "starts_at": (clock.now() + timedelta(hours=2)).isoformat(), "duration_minutes": 60,
    })  # fmt: skip
    window = r.json()["response"]
    before = await _status(world)
    assert before["state"] == "operational" and before["text"] == "All systems operational"
    assert set(_states(before).values()) == {"operational"}
    assert [w["title"] for w in before["upcoming"]] == ["Charging backend upgrade"]
    assert "created_by" not in before["upcoming"][0]  # no operator names in public
    async with world.client() as anyone:
        page = (await anyone.get("/status")).text
    assert "All systems operational" in page and "Upcoming maintenance" in page
    assert "Charging backend upgrade" in page and "Affected: Charging, Vehicle commands" in page

    await ops.post(f"/api/1/maintenance/{window['id']}/start")
    await ops.post(
        f"/api/1/maintenance/{window['id']}/updates", json={"message": "Controller swapped."}
    )
    during = await _status(world)
    assert during["state"] == "maintenance" and during["text"] == "Maintenance in progress"
    states = _states(during)
    assert states["charging"] == states["vehicle_commands"] == "maintenance"
    assert states["vehicle_data"] == "operational"
    (current,) = during["current"]
    assert [u["message"] for u in current["updates"]][-1] == "Controller swapped."
    async with world.client() as anyone:
        page = (await anyone.get("/status")).text
    assert "Maintenance in progress: Charging backend upgrade" in page
    assert 'class="countdown"' in page and f'data-until="{current["expected_end"]}"' in page
    assert "Controller swapped." in page

    await clock.advance(45 * 60)
    await ops.post(f"/api/1/maintenance/{window['id']}/finish")
    after = await _status(world)
    assert after["state"] == "operational" and after["current"] == []
    charging = next(h for h in after["history"] if h["id"] == "charging")
    today = charging["days"][-1]
    assert today["state"] == "maintenance" and today["down_minutes"] == pytest.approx(45, abs=0.2)
    assert charging["uptime"] < 1
    vehicle_data = next(h for h in after["history"] if h["id"] == "vehicle_data")
    assert vehicle_data["uptime"] == 1 and vehicle_data["days"][-1]["state"] == "operational"
    async with world.client() as anyone:
        page = (await anyone.get("/status")).text
    assert "Past maintenance" in page and "completed" in page


async def test_the_calendar_follows_every_change(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    start = clock.now() + timedelta(days=2)
    made = (await ops.post("/api/1/maintenance", json={
        "title": "Weekly tuning", "reason": "performance", "starts_at": start.isoformat(),
        "duration_minutes": 30, "rrule": "FREQ=WEEKLY;BYDAY=TU", "mode": "read_only",
    })).json()["response"]  # fmt: skip
    other = (await ops.post("/api/1/maintenance", json={
        "title": "Scrapped", "reason": "other", "starts_at": (start + timedelta(days=1)).isoformat(),
        "duration_minutes": 30, "components": ["web"],
    })).json()["response"]  # fmt: skip

    events = {str(e["uid"]): e for e in (await _calendar(world)).walk("VEVENT")}
    weekly = events[f"window-{made['id']}@127.0.0.1"]
    assert weekly["rrule"]["FREQ"] == ["WEEKLY"] and weekly["rrule"]["BYDAY"] == ["TU"]
    assert (
        weekly.decoded("dtstart") == start.replace(microsecond=0)
        or weekly.decoded("dtstart") == start
    )
    first_sequence = int(weekly["sequence"])
    assert [a["action"] for a in weekly.walk("VALARM")] == ["DISPLAY"]
    assert str(events[f"window-{other['id']}@127.0.0.1"]["status"]) == "CONFIRMED"

    await ops.post(f"/api/1/maintenance/{made['id']}/extend", json={"minutes": 15})
    await ops.post(f"/api/1/maintenance/{other['id']}/cancel", json={"message": "Not needed."})
    events = {str(e["uid"]): e for e in (await _calendar(world)).walk("VEVENT")}
    weekly = events[f"window-{made['id']}@127.0.0.1"]
    assert int(weekly["sequence"]) > first_sequence
    assert weekly.decoded("dtend") - weekly.decoded("dtstart") == timedelta(minutes=45)
    cancelled = events[f"window-{other['id']}@127.0.0.1"]
    assert str(cancelled["status"]) == "CANCELLED" and not cancelled.walk("VALARM")


async def test_the_atom_feed_has_a_stable_entry_per_step(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    made = (await ops.post("/api/1/maintenance", json={
        "title": "Database upgrade", "reason": "security_update",
        "starts_at": (clock.now() + timedelta(hours=1)).isoformat(), "duration_minutes": 30,
    })).json()["response"]  # fmt: skip
    first = await _feed(world)
    assert [e.title for e in first.entries] == ["Scheduled: Database upgrade"]
    await clock.advance(60)
    await ops.post(f"/api/1/maintenance/{made['id']}/start")
    await clock.advance(60)
    await ops.post(f"/api/1/maintenance/{made['id']}/finish", json={"message": "All done."})
    later = await _feed(world)
    assert [e.title for e in later.entries] == [
        "Completed: Database upgrade", "Started: Database upgrade", "Scheduled: Database upgrade",
    ]  # fmt: skip
    assert later.entries[-1].id == first.entries[0].id
    assert "All done." in later.entries[0].content[0].value
    assert later.feed.title == "Pitstop status"


async def test_the_status_page_needs_no_sign_in_and_is_never_gated(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    made = (await ops.post("/api/1/maintenance", json={
        "title": "Everything", "reason": "other",
        "starts_at": clock.now().isoformat(), "duration_minutes": 30,
    })).json()["response"]  # fmt: skip
    await ops.post(f"/api/1/maintenance/{made['id']}/start")
    async with world.client() as anyone:
        for path in ("/status", "/api/1/status", "/status/feed.atom", "/status/maintenance.ics"):
            r = await anyone.get(path, headers={"accept": "text/html"})
            assert r.status_code == 200, (path, r.status_code)
        assert (await anyone.get("/api/1/products")).status_code == 503
