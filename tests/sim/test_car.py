"""The simulated car's side of the link: what it reports, what it keeps, how it reconnects."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from pitstop.clock import ManualClock
from pitstop.sim.car import SimulatedCar, link_url
from pitstop.sim.model import CarModel

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
