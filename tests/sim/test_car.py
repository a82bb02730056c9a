"""The simulated car's side of the link: what it reports, what it keeps, how it reconnects."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from pitstop.clock import ManualClock
from pitstop.sim.car import SimulatedCar, link_url
from pitstop.sim.model import CarModel
from tests.world import World, new_vin

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _car(clock: ManualClock, **kwargs: object) -> SimulatedCar:
    model = CarModel(vin="5YJ3E1EA7PF000001", now=clock.now(), rng=random.Random(1))
    return SimulatedCar(
        server_url="http://127.0.0.1:9",
        vin=model.vin,
        secret="s",
        model=model,
        clock=clock,
        rng=random.Random(3),
        **kwargs,  # type: ignore[arg-type]
    )


def test_link_url_follows_the_servers_scheme() -> None:
    assert link_url("http://h:8000/") == "ws://h:8000/link/v1"
    assert link_url("https://h") == "wss://h/link/v1"


def test_records_are_numbered_and_kept_until_acked() -> None:
    clock = ManualClock(START)
    car = _car(clock)
    first = car.step()
    assert first is not None and first.seq == 1
    assert first.signals["state"] == "online" and "charge_state.battery_level" in first.signals
    car.model.apply("door_unlock", {})
    second = car.step(force=True)
    assert second is not None and second.seq == 2
    assert second.signals == {"vehicle_state.locked": False}
    assert [r.seq for r in car.unacked] == [1, 2]
    car._forget_through(1)
    assert [r.seq for r in car.unacked] == [2]


def test_minimum_intervals_hold_back_a_signal_but_not_the_state() -> None:
    clock = ManualClock(START)
    car = _car(clock, min_intervals={"drive_state": 10.0, "vehicle_state.locked": 0.0})
    car.model.start_driving("berlin-mitte")
    clock.set(START.replace(second=1))
    assert car.step() is not None
    clock.set(START.replace(second=5))
    car.model.apply("door_unlock", {})
    record = car.step()
    assert record is not None
    # The position changed, but it was reported 4 s ago: held back. The lock goes at once.
    assert "vehicle_state.locked" in record.signals
    assert "drive_state.latitude" not in record.signals
    clock.set(START.replace(second=12))
    record = car.step()
    assert record is not None and "drive_state.latitude" in record.signals


def test_a_sleeping_car_reports_only_that_it_sleeps() -> None:
    clock = ManualClock(START)
    car = _car(clock)
    car.model = CarModel(vin=car.vin, now=clock.now(), sleep_timeout_s=60, rng=random.Random(1))
    car.step()
    clock.set(START.replace(minute=5))
    record = car.step()
    assert record is not None and record.signals == {"state": "asleep"}
    clock.set(START.replace(minute=9))
    assert car.step() is None  # nothing streams while asleep


async def test_reconnect_backoff_grows_with_full_jitter_and_a_cap() -> None:
    waits: list[float] = []

    class RecordingClock(ManualClock):
        async def sleep(self, seconds: float) -> None:
            waits.append(seconds)
            if len(waits) >= 8:
                raise asyncio.CancelledError
            await asyncio.sleep(0)

    car = _car(RecordingClock(START), max_backoff=4.0)
    try:
        await car._stay_connected()  # port 9 refuses: every try fails at once
    except asyncio.CancelledError:
        pass
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(0 <= w <= cap for w, cap in zip(waits, caps, strict=True))
    assert len(set(waits)) == len(waits)  # jittered, not a fixed schedule
    assert max(waits[3:]) > 1.0  # and it does grow


async def test_a_weekends_schedule_sent_through_the_api_waits_for_saturday_night(
    world: World,
) -> None:
    """The fleet API passes days_of_week on as the owner wrote it; the car reads "Weekends"."""
    ada = await world.account("ada@example.com")
    physics = ManualClock(datetime(2026, 1, 10, 21, 59, tzinfo=UTC))  # a Saturday evening
    model = CarModel(vin=new_vin(), now=physics.now(), battery_level=30.0, rng=random.Random(1))
    model.plug_in()
    _vehicle, secret = await world.rt.registry.register(owner_id=ada.user.id, vin=model.vin)
    car = SimulatedCar(
        server_url=world.url,
        vin=model.vin,
        secret=secret,
        model=model,
        clock=world.clock,
        physics_clock=physics,
        tick=0.05,
    )
    world.start(car)
    await asyncio.wait_for(car.connected.wait(), 10)

    async def charge_state() -> dict[str, Any]:
        await world.settled(car)
        async with world.client(ada.token) as http:
            r = await http.get(
                f"/api/1/vehicles/{car.vin}/vehicle_data",
                params={"endpoints": "charge_state;charge_schedule_data"},
            )
        data: dict[str, Any] = r.json()["response"]
        return {**data["charge_state"], **data["charge_schedule_data"]}

    overnight = {"days_of_week": "Weekends", "start_time": 22 * 60, "end_time": 6 * 60}
    async with world.client(ada.token) as http:
        r = await http.post(
            f"/api/1/vehicles/{car.vin}/command/add_charge_schedule", json=overnight
        )
    assert r.json()["response"] == {"result": True, "reason": ""}
    before = await charge_state()
    assert [s["days_of_week"] for s in before["charge_schedules"]] == [0b1000001]  # Sat and Sun
    assert before["charging_state"] == "Stopped"
    assert before["scheduled_charging_pending"] is True

    physics.set(datetime(2026, 1, 10, 22, 1, tzinfo=UTC))
    await world.eventually(lambda: car.model.signals()["charge_state.charging_state"] == "Charging")
    assert (await charge_state())["charging_state"] == "Charging"


async def test_a_restarted_sim_reports_its_whole_state_again(world: World) -> None:
    """A new sim process counts its records from 1 again while the server remembers the last
    run's numbers: its first snapshot must still arrive, or the last run's state stays shown."""
    ada = await world.account("ada@example.com")
    before = await world.car(ada, battery_level=80.0)
    for _, task in world.cars:
        task.cancel()
    await asyncio.gather(*(task for _, task in world.cars), return_exceptions=True)
    model = CarModel(vin=before.vin, now=world.clock.now(), battery_level=55.0)
    after = SimulatedCar(
        server_url=world.url,
        vin=before.vin,
        secret=before.secret,
        model=model,
        clock=world.clock,
        tick=0.05,
    )
    world.start(after)
    await asyncio.wait_for(after.connected.wait(), 10)
    await world.settled(after)
    async with world.client(ada.token) as http:
        r = await http.get(f"/api/1/vehicles/{after.vin}/vehicle_data")
    assert r.json()["response"]["charge_state"]["battery_level"] == 55
