"""Service reminders through the real notification center to a real SMTP server: the day before
and an hour before, in the center's time; once each; again for a rescheduled appointment's new
time; none for a cancelled one, and no "tomorrow" for one booked less than a day ahead. Moved
along by a manual clock; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from pitstop.clock import ManualClock
from pitstop.service.reminders import ServiceReminders
from pitstop.settings import Settings, load_settings
from tests.notify.support import SmtpSink
from tests.service.support import START, book, make_center, utc
from tests.world import Account, World

#: Friday 27 March 2026, 10:00 in Berlin (CET): two days after START.
FRIDAY_10 = "2026-03-27T09:00:00Z"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpSink) -> Settings:
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        public_url="https://pitstop.test",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="Pitstop <noreply@pitstop.test>",
        smtp_timeout=5.0,
    )


def subjects(smtp: SmtpSink) -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages]


def text(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


async def at(world: World, when: datetime) -> None:
    """Jump the clock to `when` and let the reminder loop and the delivery worker run."""
    clock = world.clock
    assert isinstance(clock, ManualClock)
    clock.set(when - timedelta(seconds=1))
    await clock.advance(1)
    for _ in range(10):  # the loops may have begun a new wait just as the clock moved
        await asyncio.sleep(0.05)
        await clock.advance(1)


async def mails(world: World, smtp: SmtpSink, count: int) -> list[str]:
    clock = world.clock
    assert isinstance(clock, ManualClock)
    for _ in range(100):
        if len(smtp.messages) >= count:
            return subjects(smtp)
        await clock.advance(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} mails, got {subjects(smtp)}")


def reminders(world: World) -> ServiceReminders:
    found: ServiceReminders = world.app.state.service_reminders
    return found


async def test_an_appointment_is_reminded_the_day_before_and_an_hour_before_once_each(
    world: World, clock: ManualClock, ops: Account, owner: Account, smtp: SmtpSink
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, name="Blue Model 3", connect=False)
    async with world.client(owner.token) as me:
        r = await book(me, car.vin, center["id"], FRIDAY_10, "The left rear door squeaks")
        assert r.status_code == 200, r.text
    start = utc(FRIDAY_10)

    await at(world, start - timedelta(hours=24, minutes=5))
    assert smtp.messages == []  # not yet

    await at(world, start - timedelta(hours=24))
    (day_before,) = await mails(world, smtp, 1)
    assert day_before == "Reminder: Blue Model 3 at Berlin Mitte tomorrow, Fri 27 Mar, 10:00 CET"
    mail = smtp.messages[0]
    assert "ada@example.com" in str(mail["To"])
    body = text(mail)
    assert "your service appointment is tomorrow" in body
    assert "When: Friday 27 March 2026, 10:00 CET at the center" in body
    assert "Where: Berlin Mitte, Invalidenstraße 1." in body
    assert f"Car: Blue Model 3 ({car.vin})." in body
    assert "What you told us: The left rear door squeaks" in body
    assert "https://pitstop.test/app" in body
    assert mail.get_body(preferencelist=("html",)) is not None

    # Passes later that day find nothing new to send.
    await at(world, start - timedelta(hours=20))
    assert await reminders(world).remind_due() == 0

    await at(world, start - timedelta(minutes=59))
    subjects_now = await mails(world, smtp, 2)
    assert (
        subjects_now[1]
        == "Reminder: Blue Model 3 at Berlin Mitte in an hour, Fri 27 Mar, 10:00 CET"
    )
    assert "your service appointment is in an hour" in text(smtp.messages[1])

    await at(world, start - timedelta(minutes=10))
    assert await reminders(world).remind_due() == 0
    await asyncio.sleep(0.3)
    assert len(smtp.messages) == 2
    # Each went through the notification center under a key with the start time in it.
    keys = {d.key for d in await world.rt.notify.outbox.deliveries()}
    assert {k for k in keys if k.startswith("service:")} == {
        f"service:{r.json()['response']['id']}:20260327T0900:day-before",
        f"service:{r.json()['response']['id']}:20260327T0900:hour-before",
    }


async def test_a_rescheduled_appointment_is_reminded_again_for_its_new_time(
    world: World, clock: ManualClock, ops: Account, owner: Account, smtp: SmtpSink
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, name="Red Model 3", connect=False)
    async with world.client(owner.token) as me:
        r = await book(me, car.vin, center["id"], FRIDAY_10)
        assert r.status_code == 200, r.text
        appointment_id = r.json()["response"]["id"]
        await at(world, utc(FRIDAY_10) - timedelta(hours=23))
        await mails(world, smtp, 1)
        assert "10:00 CET" in subjects(smtp)[0]

    # Moved to 15:00 the same day: a new "tomorrow" for the new time, none for the old one.
    fresh = await world.rt.tokens.issue(owner.user, client_id="tests")  # a day later
    async with world.client(fresh.access_token) as me:
        r = await me.post(
            f"/api/1/service/appointments/{appointment_id}/reschedule",
            json={"starts_at": "2026-03-27T14:00:00Z"},
        )
        assert r.status_code == 200, r.text
    new_start = utc("2026-03-27T14:00:00Z")
    await at(world, new_start - timedelta(hours=24))
    assert (await mails(world, smtp, 2))[1] == (
        "Reminder: Red Model 3 at Berlin Mitte tomorrow, Fri 27 Mar, 15:00 CET"
    )
    await at(world, utc(FRIDAY_10) - timedelta(minutes=30))  # the old time's hour: nothing
    await asyncio.sleep(0.3)
    assert len(smtp.messages) == 2
    await at(world, new_start - timedelta(minutes=30))
    assert (await mails(world, smtp, 3))[2] == (
        "Reminder: Red Model 3 at Berlin Mitte in an hour, Fri 27 Mar, 15:00 CET"
    )


async def test_no_reminder_for_a_cancelled_appointment_nor_tomorrow_for_one_booked_today(
    world: World, clock: ManualClock, ops: Account, owner: Account, smtp: SmtpSink
) -> None:
    center = await make_center(world, ops)
    soon = await world.car(owner, name="Soon", connect=False)
    gone = await world.car(owner, name="Gone", connect=False)
    thursday_9 = "2026-03-26T08:00:00Z"  # 23 hours after START: less than a day ahead
    async with world.client(owner.token) as me:
        assert (await book(me, soon.vin, center["id"], thursday_9)).status_code == 200
        r = await book(me, gone.vin, center["id"], FRIDAY_10)
        assert r.status_code == 200, r.text
        cancelled = await me.post(
            f"/api/1/service/appointments/{r.json()['response']['id']}/cancel"
        )
        assert cancelled.status_code == 200, cancelled.text
    await at(world, START + timedelta(hours=1))
    await asyncio.sleep(0.3)
    assert smtp.messages == []  # booked 23 h ahead: "tomorrow" had passed already
    await at(world, utc(thursday_9) - timedelta(minutes=45))
    assert await mails(world, smtp, 1) == [
        "Reminder: Soon at Berlin Mitte in an hour, Thu 26 Mar, 09:00 CET"
    ]
    await at(world, utc(FRIDAY_10) - timedelta(minutes=45))
    await asyncio.sleep(0.3)
    assert len(smtp.messages) == 1  # nothing for the cancelled one
