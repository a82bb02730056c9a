"""Vehicle alerts end to end: real simulated cars on a real server, the real notification
center and a real SMTP server; the clock moved in jumps. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import msgspec
import pytest

from pitstop.app import create_app
from pitstop.clock import ManualClock
from pitstop.settings import Settings
from pitstop.sim.car import SimulatedCar, link_url
from tests.notify.support import SmtpSink
from tests.world import Account, World

BERLIN = ZoneInfo("Europe/Berlin")
SCAN = 5.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings,
        alert_interval=SCAN,
        alert_unlocked_after=600.0,
        alert_min_interval=1800.0,
        telemetry_flush_interval=0.02,
    )


def subjects(smtp: SmtpSink, to: str = "ada@example.com") -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages if to in str(m["To"])]


def text(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


async def jump(clock: ManualClock, seconds: float) -> None:
    """Move the clock `seconds` on at once, waking the cars and the watcher only near the end:
    the cars integrate the gap in one go, the watcher looks at least once."""
    tail = min(seconds, SCAN + 1)
    clock.set(clock.now() + timedelta(seconds=seconds - tail))
    await clock.advance(tail)
    await asyncio.sleep(0.03)  # the link and the outbox run in real time


async def run_for(clock: ManualClock, seconds: float, step: float = 30.0) -> None:
    """Let `seconds` of clock time pass in jumps of `step`."""
    passed = 0.0
    while passed < seconds:
        await jump(clock, min(step, seconds - passed))
        passed += step


async def until_mails(
    clock: ManualClock, smtp: SmtpSink, count: int, *, within: float, step: float = 30.0
) -> list[str]:
    """Move the clock on in jumps until `count` mails reached ada, at most `within` seconds."""
    passed = 0.0
    while passed <= within:
        for _ in range(5):  # the delivery worker runs in real time
            if len(subjects(smtp)) >= count:
                return subjects(smtp)
            await asyncio.sleep(0.02)
        await jump(clock, step)
        passed += step
    raise AssertionError(f"expected {count} mails, got {subjects(smtp)}")


async def in_berlin(world: World, who: Account) -> None:
    async with world.client(who.token) as me:
        r = await me.put("/api/1/notifications/preferences", json={"timezone": "Europe/Berlin"})
        assert r.status_code == 200, r.text


async def command(
    world: World, who: Account, car: SimulatedCar, name: str, **params: object
) -> None:
    async with world.client(who.token) as me:
        r = await me.post(f"/api/1/vehicles/{car.vin}/command/{name}", json=params)
    assert r.status_code == 200 and r.json()["response"]["result"], r.text


async def test_charging_complete_sends_one_mail(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    await world.car(ada, name="Blue", battery_level=78.5, setup=lambda m: m.plug_in(power_kw=11.0))
    (subject,) = await until_mails(clock, smtp, 1, within=3600)
    assert subject == "Blue has finished charging: 80 %"
    body = text(smtp.messages[-1])
    assert "Blue has finished charging: it is at 80 %, its charge limit." in body
    assert "kWh were added" in body and "km (" in body and "openstreetmap.org" in body
    await run_for(clock, 3 * 3600, step=1800)  # plugged in and full for hours: nothing more
    assert subjects(smtp) == [subject]


async def test_left_unlocked_is_told_once_and_again_after_locking_and_unlocking(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    await in_berlin(world, ada)
    car = await world.car(ada, name="Red", sleep_timeout_s=1e9)
    await command(world, ada, car, "door_unlock")
    unlocked_at = clock.now()
    await run_for(clock, 9 * 60)
    assert subjects(smtp) == []  # not yet ten minutes
    (first,) = await until_mails(clock, smtp, 1, within=180)
    assert re.fullmatch(r"Red has been unlocked for 1\d minutes", first), first
    since = unlocked_at.astimezone(BERLIN)
    body = text(smtp.messages[-1])
    assert "Red is parked and has been unlocked since " in body
    assert f"{since:%Z}" in body  # the owner's own zone
    # Still unlocked half an hour later: not told again.
    await run_for(clock, 30 * 60, step=300)
    assert subjects(smtp) == [first]

    await command(world, ada, car, "door_lock")
    await run_for(clock, 60)
    await command(world, ada, car, "door_unlock")
    await run_for(clock, 5 * 60)
    assert len(subjects(smtp)) == 1
    second = (await until_mails(clock, smtp, 2, within=10 * 60))[-1]
    assert re.fullmatch(r"Red has been unlocked for 1\d minutes", second), second
    await run_for(clock, 20 * 60, step=300)
    assert len(subjects(smtp)) == 2


async def test_battery_low_while_driving_sends_one_mail(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    await world.car(
        ada, name="Green", battery_level=20.4, setup=lambda m: m.start_driving("berlin-mitte")
    )
    (subject,) = await until_mails(clock, smtp, 1, within=3600)
    match = re.fullmatch(r"Green's battery is low: (\d+) %, about (\d+) km left", subject)
    assert match is not None, subject
    assert int(match[1]) < 20
    assert "below 20 %" in text(smtp.messages[-1])
    await run_for(clock, 20 * 60, step=300)  # still low (and lower): not told again
    assert subjects(smtp) == [subject]


async def test_service_due_names_every_reason_once(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    def worn(model: object) -> None:
        from pitstop.sim.model import CarModel

        assert isinstance(model, CarModel)
        model.set_tyre_pressure("fl", 2.1)
        model.set_service(distance_km=20_500, last_service_at=clock.now() - timedelta(days=400))

    car = await world.car(ada, name="Grey", setup=worn)
    (subject,) = await until_mails(clock, smtp, 1, within=600)
    assert subject == "Grey is due for service"
    body = text(smtp.messages[-1])
    assert "20500 km driven since its last service (service every 20000 km)" in body
    assert "400 days since its last service" in body
    assert "The front left tyre is at 2.1 bar, below 2.4 bar." in body
    # It suggests booking, with a link to the app's booking screen for this car.
    assert re.search(
        rf"Book a service appointment now, .*: https?://\S+/app#service/book\?vin={car.vin} ", body
    ), body
    await run_for(clock, 2 * 3600, step=1800)  # still due: not told again
    assert subjects(smtp) == [subject]


async def test_an_owner_who_turned_an_alert_off_gets_no_mail(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    async with world.client(ada.token) as me:
        r = await me.put(
            "/api/1/notifications/preferences", json={"channels": {"alert.battery_low": ["feed"]}}
        )
        assert r.status_code == 200, r.text
    await world.car(ada, name="Low", battery_level=12.0)
    await run_for(clock, 120)
    assert subjects(smtp) == []
    async with world.client(ada.token) as me:
        r = await me.get("/api/1/notifications")
    assert r.status_code == 200, r.text
    assert "Low's battery is low: 12 %" in r.text


async def test_unplugged_at_the_scheduled_charge_time_is_told_to_plug_in(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    await in_berlin(world, ada)
    car = await world.car(ada, name="Night", battery_level=40.0, sleep_timeout_s=1e9)
    start = (clock.now() + timedelta(minutes=20)).replace(second=0)
    minute = start.hour * 60 + start.minute  # the car's local time is UTC
    await command(world, ada, car, "set_scheduled_charging", enable=True, time=minute)
    await run_for(clock, 15 * 60, step=300)
    assert subjects(smtp) == []
    (subject,) = await until_mails(clock, smtp, 1, within=15 * 60)
    assert subject == "Plug in Night to be ready: its scheduled charge has begun"
    local = start.astimezone(BERLIN)
    assert f"scheduled to begin charging at {local:%H:%M %Z}, but it is not plugged in" in text(
        smtp.messages[-1]
    )
    await run_for(clock, 3 * 3600, step=1800)  # the next start is tomorrow
    assert subjects(smtp) == [subject]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_car_that_moves_to_a_restarted_process_is_not_told_twice(
    world: World, settings: Settings, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    car = await world.car(ada, name="Red", sleep_timeout_s=1e9)
    await command(world, ada, car, "door_unlock")
    (first,) = await until_mails(clock, smtp, 1, within=15 * 60)
    await world.settled(car)
    # Another process starts (a rolling restart) and the car's link moves to it.
    async with World.running(create_app(settings, clock=clock), clock) as other:
        ((_, task),) = world.cars
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        car.url = link_url(other.url)
        other.start(car)
        await asyncio.wait_for(car.connected.wait(), 10)
        await world.eventually(lambda: len(other.rt.hub.links) == 1 and not world.rt.hub.links)
        await run_for(clock, 40 * 60, step=300)  # still unlocked, past the interval
        assert subjects(smtp) == [first]
        # Locked and left unlocked again: told again, by the new process.
        await command(other, ada, car, "door_lock")
        await run_for(clock, 60)
        await command(other, ada, car, "door_unlock")
        (_, second) = await until_mails(clock, smtp, 2, within=15 * 60)
        assert re.fullmatch(r"Red has been unlocked for 1\d minutes", second), second


async def test_a_charge_the_owner_stops_is_not_told_but_a_power_cut_is(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    car = await world.car(
        ada, name="Plug", battery_level=50.0, sleep_timeout_s=1e9, setup=lambda m: m.plug_in()
    )
    await run_for(clock, 120)
    await command(world, ada, car, "charge_stop")
    await run_for(clock, 20 * 60, step=120)  # neither "stopped" nor "not charging"
    assert subjects(smtp) == []
    await command(world, ada, car, "charge_start")
    await run_for(clock, 120)
    car.model._charging.supply_kw = 0.0  # the charger's breaker trips
    (subject,) = await until_mails(clock, smtp, 1, within=10 * 60)
    assert re.fullmatch(r"Plug stopped charging at \d+ %: the charger gives no power", subject)
    assert "check the charger, its breaker or the power supply" in text(smtp.messages[-1])
    await run_for(clock, 30 * 60, step=300)  # one message, not a reminder on top
    assert subjects(smtp) == [subject]


async def test_a_charge_that_a_schedule_ends_is_not_told(
    world: World, clock: ManualClock, ada: Account, smtp: SmtpSink
) -> None:
    car = await world.car(ada, name="Timer", battery_level=50.0, sleep_timeout_s=1e9)
    now = clock.now()
    begin, end = now - timedelta(minutes=10), now + timedelta(minutes=10)
    await command(
        world,
        ada,
        car,
        "add_charge_schedule",
        days_of_week="All",
        start_time=begin.hour * 60 + begin.minute,
        end_enabled=True,
        end_time=end.hour * 60 + end.minute,
    )
    car.model.plug_in()  # inside the schedule's window: it charges
    await run_for(clock, 60)
    assert world.rt.states.get(car_id(world, car)).sections["charge_state"]["charging_state"] in (
        "Starting",
        "Charging",
    )
    await run_for(clock, 40 * 60, step=60)  # the window closes; the car waits for the next
    state = world.rt.states.get(car_id(world, car)).sections["charge_state"]
    assert state["charging_state"] == "Stopped" and state["scheduled_charging_pending"] is True
    assert subjects(smtp) == []


def car_id(world: World, car: SimulatedCar) -> int:
    vehicle = world.rt.registry.known(car.vin)
    assert vehicle is not None
    return vehicle.id
