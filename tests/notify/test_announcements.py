"""Maintenance announcements through the real notification center to a real SMTP server:
scheduled, reminders, started, extended, updated, back online, cancelled; each once, in the
owner's own time, even with two server processes; moved along by the clock."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar

from pitstop.app import create_app
from pitstop.clock import ManualClock
from pitstop.settings import Settings
from tests.notify.support import SmtpSink
from tests.world import Account, World

BERLIN = ZoneInfo("Europe/Berlin")


def subjects(smtp: SmtpSink, to: str = "ada@example.com") -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages if to in str(m["To"])]


def last(smtp: SmtpSink, to: str = "ada@example.com") -> EmailMessage:
    return [m for m in smtp.messages if to in str(m["To"])][-1]


def text(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


async def schedule(ops: httpx.AsyncClient, start: datetime, **body: Any) -> dict[str, Any]:
    payload = {
        "title": "Charging backend upgrade",
        "reason": "hardware_upgrade",
        "description": "We replace the chargers' controller.",
        "components": ["charging"],
        "starts_at": start.isoformat(),
        "duration_minutes": 90,
    } | body
    r = await ops.post("/api/1/maintenance", json=payload)
    assert r.status_code == 200, r.text
    window: dict[str, Any] = r.json()["response"]
    return window


async def mails(world: World, smtp: SmtpSink, count: int, to: str = "ada@example.com") -> list[str]:
    """Wait for `count` mails to `to`, nudging the clock on a little meanwhile: the announcer
    and the delivery worker may have begun a new wait just before the test last moved it."""
    clock = world.clock
    assert isinstance(clock, ManualClock)
    for _ in range(600):  # at most ~30 s of real time, 10 min of the clock
        if len(subjects(smtp, to)) >= count:
            break
        await clock.advance(1)
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"expected {count} mails to {to}, got {subjects(smtp, to)}")
    # The sink has them; wait until the senders have also recorded them as delivered, without
    # moving the clock: a test that jumps it past the lease of a mail still being recorded
    # would have another worker take it over, as after a real stall of that long.
    async with asyncio.timeout(10):
        while any(c.get("delivering") for c in (await world.rt.notify.outbox.counts()).values()):
            await asyncio.sleep(0.02)
    return subjects(smtp, to)


async def jump(clock: ManualClock, seconds: float) -> None:
    """Move the clock far ahead at once: every loop wakes once, not once per interval."""
    clock.set(clock.now() + timedelta(seconds=seconds - 1))
    await clock.advance(1)


async def test_a_window_is_announced_reminded_started_extended_updated_and_back_online(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    async with world.client(ada.token) as me:
        r = await me.put("/api/1/notifications/preferences", json={"timezone": "Europe/Berlin"})
        assert r.status_code == 200, r.text
    start = (clock.now() + timedelta(hours=80)).replace(minute=0, second=0)
    window = await schedule(ops, start)
    local = start.astimezone(BERLIN)

    (announced,) = await mails(world, smtp, 1)
    assert announced == f"Planned maintenance: Charging backend upgrade, {local:%a %d %b, %H:%M %Z}"
    body = text(last(smtp))
    assert "Why: a hardware upgrade." in body
    assert f"When: {local:%a %d %b %Y, %H:%M %Z} to" in body and "(about 90 minutes)" in body
    assert "What will not work: charging commands and schedules." in body
    assert "What keeps working: " in body and "reading your cars' data" in body
    assert "We replace the chargers' controller." in body
    calendar_url = re.search(r"Add it to your calendar: (\S+)", body)
    assert calendar_url is not None
    async with world.client() as anyone:
        ics = await anyone.get(calendar_url[1].removeprefix("https://pitstop.test"))
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["summary"]) == "Pitstop maintenance: Charging backend upgrade"

    await jump(clock, 8 * 3600 + 60)  # 72 h before
    await mails(world, smtp, 2)
    await jump(clock, 48 * 3600)  # 24 h before
    await mails(world, smtp, 3)
    await jump(clock, 23 * 3600)  # 1 h before
    found = await mails(world, smtp, 4)
    assert found[1:] == [
        f"Reminder: maintenance in 3 days: Charging backend upgrade, {local:%a %d %b, %H:%M %Z}",
        f"Reminder: maintenance tomorrow: Charging backend upgrade, {local:%a %d %b, %H:%M %Z}",
        f"Reminder: maintenance in 1 hour: Charging backend upgrade, {local:%a %d %b, %H:%M %Z}",
    ]

    await jump(clock, 3600)  # the window starts on time, by itself
    assert (await mails(world, smtp, 5))[-1] == "Maintenance has started: Charging backend upgrade"
    # Days have passed: the operator signs in again.
    operator = await world.rt.users.by_email("ops@example.com")
    assert operator is not None
    ops.headers["authorization"] = f"Bearer {(await world.rt.tokens.issue(operator)).access_token}"
    extended = await ops.post(
        f"/api/1/maintenance/{window['id']}/extend",
        json={"minutes": 30, "message": "New firmware needed."},
    )
    end = datetime.fromisoformat(extended.json()["response"]["expected_end"]).astimezone(BERLIN)
    assert (await mails(world, smtp, 6))[-1] == (
        f"Maintenance extended: Charging backend upgrade, now until {end:%H:%M %Z}"
    )
    assert "New firmware needed." in text(last(smtp))
    await ops.post(f"/api/1/maintenance/{window['id']}/updates", json={"message": "Flashing now."})
    assert (await mails(world, smtp, 7))[-1] == "Maintenance update: Charging backend upgrade"
    await ops.post(
        f"/api/1/maintenance/{window['id']}/finish", json={"message": "All chargers back."}
    )
    assert (await mails(world, smtp, 8))[
        -1
    ] == "Pitstop is back online: Charging backend upgrade is complete"
    assert "All chargers back." in text(last(smtp))

    # Nothing twice: later passes find everything already sent.
    await jump(clock, 3600)
    assert len(subjects(smtp)) == 8 and len(set(subjects(smtp))) == 8


async def test_a_reminder_whose_time_had_passed_is_skipped(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    await schedule(ops, clock.now() + timedelta(hours=30))
    await mails(world, smtp, 1)
    await jump(clock, 6 * 3600 + 60)  # 24 h before
    await mails(world, smtp, 2)
    await jump(clock, 23 * 3600)  # 1 h before
    found = await mails(world, smtp, 3)
    assert [s.split(":")[0] for s in found] == [
        "Planned maintenance", "Reminder", "Reminder",
    ]  # fmt: skip
    assert "tomorrow" in found[1] and "in 1 hour" in found[2]


async def test_a_cancelled_window_says_so_and_reminds_no_one(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    window = await schedule(ops, clock.now() + timedelta(hours=10))
    await mails(world, smtp, 1)
    await ops.post(
        f"/api/1/maintenance/{window['id']}/cancel", json={"message": "Not needed after all."}
    )
    assert (await mails(world, smtp, 2))[-1] == "Maintenance cancelled: Charging backend upgrade"
    assert "Not needed after all." in text(last(smtp))
    await jump(clock, 10 * 3600)
    assert len(subjects(smtp)) == 2


async def test_one_message_per_owner_for_a_window_on_several_components(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    bob = await world.account("bob@example.com")
    cy = await world.account("cy@example.com")
    async with world.client(bob.token) as http:  # email for web only
        await http.put("/api/1/notifications/preferences", json={"channels": {
            "maintenance.charging": ["feed"], "maintenance.web": ["email"]}})  # fmt: skip
    async with world.client(cy.token) as http:  # no email for either
        await http.put("/api/1/notifications/preferences", json={"channels": {
            "maintenance.charging": [], "maintenance.web": ["feed"]}})  # fmt: skip
    await schedule(ops, clock.now() + timedelta(hours=10), components=["charging", "web"])
    await mails(world, smtp, 1)
    await mails(world, smtp, 1, to="bob@example.com")
    await clock.advance(60)
    assert len(subjects(smtp)) == 1 and len(subjects(smtp, "bob@example.com")) == 1
    assert subjects(smtp, "cy@example.com") == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_server_processes_send_each_message_once(
    world: World,
    settings: Settings,
    clock: ManualClock,
    ada: Account,
    ops: httpx.AsyncClient,
    smtp: SmtpSink,
) -> None:
    async with World.running(create_app(settings, clock=clock), clock) as other:
        window = await schedule(ops, clock.now() + timedelta(hours=2))
        await mails(world, smtp, 1)
        await jump(clock, 3600 + 60)
        await mails(world, smtp, 2)
        async with other.client(ops.headers["authorization"].removeprefix("Bearer ")) as ops2:
            await ops2.post(f"/api/1/maintenance/{window['id']}/updates", json={"message": "Soon."})
        await mails(world, smtp, 3)
        for _ in range(5):
            await clock.advance(60)
        assert len(subjects(smtp)) == 3 and len(set(subjects(smtp))) == 3
