"""The simulated car behaves the way a driver and a Tesla API client would expect."""

from __future__ import annotations

import itertools
import json
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from pitstop.sim.commands import CommandOutcome
from pitstop.sim.model import CarModel
from pitstop.sim.routes import ROUTES, Route, bearing_deg
from pitstop.sim.spec import MODEL_3, MODEL_Y

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 (car local time is UTC)
HOME = (52.5096, 13.3762)


def make_car(**kwargs: object) -> CarModel:
    options: dict[str, object] = {"vin": "5YJ3SIM0000000001", "now": T0, "rng": random.Random(7)}
    options.update(kwargs)
    return CarModel(**options)  # type: ignore[arg-type]


def run(car: CarModel, seconds: float) -> None:
    car.advance_to(car.now + timedelta(seconds=seconds))


def sig(car: CarModel, key: str) -> object:
    return car.signals()[key]


def num(car: CarModel, key: str) -> float:
    value = car.signals()[key]
    assert isinstance(value, int | float), (key, value)
    return float(value)


def run_until(car: CarModel, done: object, *, step_s: float = 60, limit_s: float = 86_400) -> float:
    """Advance in `step_s` steps until `done(car)`; returns the seconds that took."""
    assert callable(done)
    elapsed = 0.0
    while not done(car):
        assert elapsed < limit_s, "condition never reached"
        run(car, step_s)
        elapsed += step_s
    return elapsed


# ------------------------------------------------------------------------- driving


def drive_for_an_hour(route: str) -> tuple[float, float]:
    """Returns (km driven, Wh per km) for an hour on `route`."""
    car = make_car(battery_level=95.0)
    car.start_driving(route)
    kwh0, km0 = num(car, "charge_state.energy_remaining"), num(car, "vehicle_state.odometer")
    run(car, 3600)
    km = (num(car, "vehicle_state.odometer") - km0) * 1.609344
    return km, (kwh0 - num(car, "charge_state.energy_remaining")) * 1000 / km


def test_highway_costs_clearly_more_per_km_than_town() -> None:
    town_km, town_wh = drive_for_an_hour("berlin-mitte")
    highway_km, highway_wh = drive_for_an_hour("berliner-ring")
    assert 15 < town_km < 45  # stop-and-go at ≤ 50 km/h
    assert 95 < highway_km < 135
    assert 120 < town_wh < 220
    assert highway_wh > 1.3 * town_wh


def test_battery_and_rated_range_fall_while_driving() -> None:
    car = make_car(battery_level=80.0)
    range0 = num(car, "charge_state.battery_range")
    car.start_driving("berliner-ring")
    run(car, 1800)
    assert num(car, "charge_state.battery_level") < 80
    assert num(car, "charge_state.battery_range") < range0
    assert num(car, "drive_state.power") > 10  # kW drawn at highway speed


def test_driving_moves_the_car_along_the_route_with_a_sensible_heading() -> None:
    car = make_car()
    car.start_driving("berlin-mitte")
    assert sig(car, "drive_state.shift_state") == "D"
    odo0 = num(car, "vehicle_state.odometer")
    run(car, 15)
    before = (num(car, "drive_state.latitude"), num(car, "drive_state.longitude"))
    run(car, 5)
    after = (num(car, "drive_state.latitude"), num(car, "drive_state.longitude"))
    assert after != before
    assert num(car, "vehicle_state.odometer") > odo0
    # Heading is the direction of travel (Unter den Linden runs roughly east).
    heading = num(car, "drive_state.heading")
    assert abs((bearing_deg(before, after) - heading + 180) % 360 - 180) < 10
    assert 60 < heading < 120


def test_speed_changes_gradually_around_the_limit() -> None:
    car = make_car()
    car.start_driving("berlin-mitte")
    speeds = []
    for _ in range(900):
        run(car, 1)
        speed = sig(car, "drive_state.speed")
        assert isinstance(speed, int)
        speeds.append(speed)
    assert max(speeds) <= 35  # mph: 50 km/h is 31 mph, drivers keep within ~5 %
    assert any(25 <= s for s in speeds)
    assert 0 in speeds  # red lights
    # At most 2.5 m/s² (5.6 mph per second), plus rounding to whole mph.
    assert max(abs(b - a) for a, b in itertools.pairwise(speeds)) <= 7


def test_an_empty_battery_stops_the_car() -> None:
    car = make_car(battery_level=1.0)
    car.start_driving("berliner-ring")
    run(car, 1800)
    assert sig(car, "drive_state.shift_state") == "P"
    assert sig(car, "drive_state.speed") is None
    assert sig(car, "charge_state.battery_level") == 0


def test_distance_since_service_grows_with_driving() -> None:
    car = make_car()
    serviced = T0 - timedelta(days=200)
    car.set_service(distance_km=100.0, last_service_at=serviced)
    odo0 = num(car, "vehicle_state.odometer")
    car.start_driving("berliner-ring")
    run(car, 600)
    driven_km = (num(car, "vehicle_state.odometer") - odo0) * 1.609344
    assert driven_km > 10
    assert num(car, "vehicle_state.service_distance_km") == pytest.approx(100 + driven_km, abs=0.2)
    assert sig(car, "vehicle_state.last_service_at") == int(serviced.timestamp())


# ------------------------------------------------------------------------ charging


def test_dc_fast_charging_from_20_to_80_takes_about_half_an_hour() -> None:
    car = make_car(battery_level=20.0)
    car.plug_in(dc=True)
    run(car, 120)
    assert sig(car, "charge_state.charging_state") == "Charging"
    assert sig(car, "charge_state.fast_charger_present") is True
    assert num(car, "charge_state.charger_power") > 200
    predicted = num(car, "charge_state.minutes_to_full_charge")
    took = 2 + run_until(car, lambda c: num(c, "charge_state.battery_level") >= 80) / 60
    assert 20 <= took <= 40
    assert predicted == pytest.approx(took - 2, rel=0.1)


def test_dc_power_tapers_as_the_battery_fills() -> None:
    def power_at(level: float) -> float:
        car = make_car(battery_level=level)
        car.apply("set_charge_limit", {"percent": 100})
        car.plug_in(dc=True)
        run(car, 10)
        return num(car, "charge_state.charger_power")

    assert power_at(20) >= 240
    assert power_at(20) > power_at(60) > power_at(80) > power_at(95)
    assert power_at(95) < 40


def test_ac_charging_takes_hours_at_11_kw() -> None:
    car = make_car(battery_level=20.0)
    car.plug_in()
    run(car, 60)
    assert num(car, "charge_state.charger_power") == 11
    assert sig(car, "charge_state.charger_phases") == 3
    assert num(car, "charge_state.charger_actual_current") == 16
    assert num(car, "charge_state.charge_rate") > 30  # mph of rated range
    took_h = run_until(car, lambda c: num(c, "charge_state.battery_level") >= 80) / 3600
    assert 4 < took_h < 5.5


def test_charging_stops_at_the_limit_with_complete() -> None:
    car = make_car(battery_level=70.0)
    car.plug_in()
    run(car, 2 * 3600)
    assert sig(car, "charge_state.charging_state") == "Complete"
    assert sig(car, "charge_state.battery_level") == 80
    assert sig(car, "charge_state.charger_power") == 0
    # 10 % of 75 kWh went in, and is counted.
    assert num(car, "charge_state.charge_energy_added") == pytest.approx(7.5, abs=0.3)
    assert num(car, "charge_state.charge_miles_added_rated") > 25
    assert car.state == "asleep"  # nothing left to do
    car.wake()
    run(car, 10)
    assert car.apply("charge_start", {}) == CommandOutcome(False, "complete")


def test_plugging_in_below_the_limit_starts_charging() -> None:
    car = make_car(battery_level=50.0)
    car.plug_in()
    assert sig(car, "charge_state.charging_state") == "Starting"
    assert sig(car, "charge_state.charge_port_latch") == "Engaged"
    assert sig(car, "charge_state.conn_charge_cable") == "IEC"
    run(car, 30)
    assert sig(car, "charge_state.charging_state") == "Charging"
    assert num(car, "drive_state.power") < 0  # energy flows into the battery
    car.unplug()
    assert sig(car, "charge_state.charging_state") == "Disconnected"
    assert sig(car, "charge_state.conn_charge_cable") == "<invalid>"


def test_commands_the_car_refuses() -> None:
    car = make_car(battery_level=50.0)
    assert car.apply("charge_start", {}) == CommandOutcome(False, "cable_not_connected")
    assert car.apply("charge_stop", {}) == CommandOutcome(False, "not_charging")
    car.plug_in()
    assert car.apply("charge_start", {}) == CommandOutcome(False, "is_charging")
    assert car.apply("charge_port_door_close", {}) == CommandOutcome(False, "cable_connected")
    assert car.apply("fly", {}) == CommandOutcome(False, "unknown_command")
    car.start_driving("berlin-mitte")
    assert car.apply("remote_start_drive", {}).reason == "already_driving"


def test_charge_stop_and_start_by_command() -> None:
    car = make_car(battery_level=50.0)
    car.plug_in()
    run(car, 30)
    assert car.apply("charge_stop", {}).result
    run(car, 60)
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert sig(car, "charge_state.charger_power") == 0
    assert car.apply("charge_start", {}).result
    run(car, 30)
    assert sig(car, "charge_state.charging_state") == "Charging"


def test_set_charge_limit_and_locks() -> None:
    car = make_car(battery_level=80.0)
    assert sig(car, "charge_state.charge_limit_soc") == 80
    assert car.apply("set_charge_limit", {"percent": 90}).result
    assert sig(car, "charge_state.charge_limit_soc") == 90
    assert car.apply("set_charge_limit", {"percent": 90}).reason == "already_set"
    assert sig(car, "vehicle_state.locked") is True
    assert car.apply("door_unlock", {}).result
    assert sig(car, "vehicle_state.locked") is False
    assert car.apply("door_lock", {}).result
    assert sig(car, "vehicle_state.locked") is True


def test_raising_the_limit_resumes_a_complete_charge() -> None:
    car = make_car(battery_level=80.0)
    car.plug_in()
    assert sig(car, "charge_state.charging_state") == "Complete"
    car.apply("set_charge_limit", {"percent": 90})
    run(car, 30)
    assert sig(car, "charge_state.charging_state") == "Charging"


# ------------------------------------------------------------------------- climate


def test_cabin_approaches_the_setpoint_then_the_outside_temperature() -> None:
    car = make_car(outside_temp_c=5.0)
    assert car.apply("set_temps", {"driver_temp": 22.0, "passenger_temp": 22.0}).result
    assert car.apply("auto_conditioning_start", {}).result
    run(car, 60)
    assert 5.0 < num(car, "climate_state.inside_temp") < 15
    run(car, 20 * 60)
    assert num(car, "climate_state.inside_temp") == pytest.approx(22.0, abs=0.5)
    assert sig(car, "climate_state.is_climate_on") is True
    assert sig(car, "climate_state.is_preconditioning") is True
    car.apply("auto_conditioning_stop", {})
    run(car, 20 * 60)  # one time constant: about a third of the way back
    assert 9 < num(car, "climate_state.inside_temp") < 15
    run(car, 2 * 3600)
    assert num(car, "climate_state.inside_temp") == pytest.approx(5.0, abs=0.5)


def test_climate_draws_a_couple_of_kilowatts_from_the_battery() -> None:
    car = make_car(outside_temp_c=0.0)
    kwh0 = num(car, "charge_state.energy_remaining")
    car.apply("auto_conditioning_start", {})
    run(car, 3600)
    used = kwh0 - num(car, "charge_state.energy_remaining")
    assert 1.0 < used < 4.0
    assert car.state == "online"  # climate keeps the car awake


# ---------------------------------------------------------------------------- sleep


def test_an_idle_car_falls_asleep_after_the_timeout() -> None:
    car = make_car(sleep_timeout_s=900)
    run(car, 899)
    assert car.state == "online"
    assert not car.idle
    run(car, 2)
    assert car.state == "asleep"
    assert car.idle
    assert car.apply("door_lock", {}) == CommandOutcome(False, "vehicle_asleep")


def test_commands_restart_the_idle_timer() -> None:
    car = make_car(sleep_timeout_s=900)
    run(car, 800)
    car.apply("flash_lights", {})
    run(car, 800)
    assert car.state == "online"


@pytest.mark.parametrize("scene", ["charging", "climate", "driving"])
def test_a_busy_car_stays_awake(scene: str) -> None:
    car = make_car(battery_level=30.0, sleep_timeout_s=600)
    if scene == "charging":
        car.plug_in()
    elif scene == "climate":
        car.apply("auto_conditioning_start", {})
    else:
        car.start_driving("berlin-mitte")
    run(car, 3600)
    assert car.state == "online"
    assert not car.idle


def test_a_car_sleeps_once_its_charge_is_complete() -> None:
    car = make_car(battery_level=79.0, sleep_timeout_s=600)
    car.plug_in()
    run(car, 3600)
    assert sig(car, "charge_state.charging_state") == "Complete"
    assert car.state == "asleep"


def test_waking_takes_the_wake_duration_and_restarts_the_idle_timer() -> None:
    car = make_car(sleep_timeout_s=900, wake_duration_s=6.0)
    run(car, 1000)
    assert car.state == "asleep"
    car.wake()
    run(car, 5)
    assert car.state == "asleep"
    run(car, 1)
    assert car.state == "online"
    run(car, 890)
    assert car.state == "online"
    run(car, 20)
    assert car.state == "asleep"


def test_physics_runs_while_asleep() -> None:
    car = make_car(outside_temp_c=2.0, sleep_timeout_s=60)
    car.apply("auto_conditioning_start", {})
    run(car, 1800)
    car.apply("auto_conditioning_stop", {})
    run(car, 120)
    assert car.state == "asleep"
    warm, kwh = num(car, "climate_state.inside_temp"), num(car, "charge_state.energy_remaining")
    run(car, 24 * 3600)
    assert car.state == "asleep"
    assert num(car, "climate_state.inside_temp") < warm - 10  # cooled to outside
    drained = kwh - num(car, "charge_state.energy_remaining")
    assert 0.1 < drained < 1.0  # a small vampire drain, well under 2 % a day


# ------------------------------------------------------------------------ schedules


def test_scheduled_charging_waits_for_its_start_time() -> None:
    car = make_car(battery_level=40.0, latitude=HOME[0], longitude=HOME[1])
    assert car.apply("set_scheduled_charging", {"enable": True, "time": 10 * 60}).result
    car.plug_in()
    run(car, 10)
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert sig(car, "charge_state.scheduled_charging_pending") is True
    assert sig(car, "charge_state.scheduled_charging_mode") == "StartAt"
    start = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert sig(car, "charge_state.scheduled_charging_start_time") == int(start.timestamp())
    car.advance_to(start - timedelta(seconds=10))
    assert sig(car, "charge_state.charging_state") == "Stopped"
    car.advance_to(start + timedelta(seconds=30))
    assert sig(car, "charge_state.charging_state") == "Charging"
    assert sig(car, "charge_state.scheduled_charging_pending") is False


def test_scheduled_charging_survives_sleep() -> None:
    car = make_car(battery_level=40.0, sleep_timeout_s=600)
    car.apply("set_scheduled_charging", {"enable": True, "time": 11 * 60})
    car.plug_in()
    run(car, 3600)
    assert car.state == "asleep"
    car.advance_to(datetime(2026, 1, 5, 11, 1, tzinfo=UTC))
    assert car.state == "online"
    assert sig(car, "charge_state.charging_state") == "Charging"


def test_charge_schedule_charges_only_inside_its_window() -> None:
    car = make_car(battery_level=40.0, latitude=HOME[0], longitude=HOME[1])
    window = {"days_of_week": "All", "enabled": True, "start_time": 600, "end_time": 660}
    assert car.apply("add_charge_schedule", {**window, "lat": HOME[0], "lon": HOME[1]}).result
    schedules = sig(car, "charge_schedule_data.charge_schedules")
    assert isinstance(schedules, list) and schedules[0]["days_of_week"] == 127
    assert schedules[0]["start_enabled"] and schedules[0]["end_enabled"]
    car.plug_in()
    car.advance_to(datetime(2026, 1, 5, 9, 59, 50, tzinfo=UTC))
    assert sig(car, "charge_state.charging_state") == "Stopped"
    car.advance_to(datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC))
    assert sig(car, "charge_state.charging_state") == "Charging"
    car.advance_to(datetime(2026, 1, 5, 11, 0, 30, tzinfo=UTC))
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert num(car, "charge_state.battery_level") < 80


def test_charge_schedule_respects_days_and_location() -> None:
    monday_only_on_tuesday = make_car(battery_level=40.0, now=T0 + timedelta(days=1))
    monday_only_on_tuesday.apply(
        "add_charge_schedule",
        {"days_of_week": "Monday", "enabled": True, "start_time": 600, "end_time": 660},
    )
    monday_only_on_tuesday.plug_in()
    run(monday_only_on_tuesday, 3 * 3600)
    assert num(monday_only_on_tuesday, "charge_state.charge_energy_added") == 0

    elsewhere = make_car(battery_level=40.0, latitude=HOME[0], longitude=HOME[1])
    far = {"lat": 48.137, "lon": 11.575}  # Munich
    elsewhere.apply("add_charge_schedule", {"start_time": 600, "end_time": 660, **far})
    elsewhere.plug_in()
    run(elsewhere, 30)
    assert sig(elsewhere, "charge_state.charging_state") == "Charging"


WEDNESDAY_EVENING = datetime(2026, 1, 7, 20, 0, tzinfo=UTC)
FRIDAY_EVENING = datetime(2026, 1, 9, 20, 0, tzinfo=UTC)
SATURDAY_EVENING = datetime(2026, 1, 10, 20, 0, tzinfo=UTC)
WEEKEND_NIGHTS = {"days_of_week": "Weekends", "start_time": 22 * 60, "end_time": 6 * 60}


def test_a_weekends_schedule_does_not_charge_on_a_wednesday_night() -> None:
    car = make_car(battery_level=30.0, now=WEDNESDAY_EVENING)
    assert car.apply("add_charge_schedule", WEEKEND_NIGHTS).result
    schedules = sig(car, "charge_schedule_data.charge_schedules")
    assert isinstance(schedules, list)
    assert schedules[0]["days_of_week"] == 0b1000001  # Tesla's bitmask: Sunday (1), Saturday (64)
    car.plug_in()
    car.advance_to(WEDNESDAY_EVENING.replace(hour=23))  # inside the window's hours
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert sig(car, "charge_state.scheduled_charging_pending") is True
    assert num(car, "charge_state.charge_energy_added") == 0


def test_a_weekends_schedule_starts_charging_on_saturday_night() -> None:
    car = make_car(battery_level=30.0, now=FRIDAY_EVENING)
    assert car.apply("add_charge_schedule", WEEKEND_NIGHTS).result
    car.plug_in()
    # Friday night's window would begin on a weekday: it does not run, into Saturday either.
    car.advance_to(SATURDAY_EVENING.replace(hour=21, minute=59))
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert num(car, "charge_state.charge_energy_added") == 0
    car.advance_to(SATURDAY_EVENING.replace(hour=22, minute=1))
    assert car.state == "online"  # the schedule woke the sleeping car
    assert sig(car, "charge_state.charging_state") == "Charging"


def test_a_weekends_schedule_as_a_bitmask_runs_on_the_same_nights() -> None:
    for days in ("Weekends", "Saturday,Sunday", 65):
        wednesday = make_car(battery_level=30.0, now=WEDNESDAY_EVENING)
        saturday = make_car(battery_level=30.0, now=SATURDAY_EVENING)
        for car in (wednesday, saturday):
            car.apply("add_charge_schedule", {"days_of_week": days, "start_time": 22 * 60})
            car.plug_in()
            car.advance_to(car.now + timedelta(hours=2, minutes=1))
        assert sig(wednesday, "charge_state.charging_state") == "Stopped", days
        assert sig(saturday, "charge_state.charging_state") == "Charging", days


def test_a_schedule_with_a_day_the_car_cannot_read_is_refused_not_run_every_day() -> None:
    car = make_car(battery_level=30.0, now=WEDNESDAY_EVENING)
    for days in ("Weekend", "Saturday,Funday", "", 0, 200):
        outcome = car.apply("add_charge_schedule", {"days_of_week": days, "start_time": 22 * 60})
        assert outcome == CommandOutcome(False, "invalid_days_of_week"), days
    assert sig(car, "charge_schedule_data.charge_schedules") == []
    car.plug_in()  # no schedule: charges at once
    run(car, 30)
    assert sig(car, "charge_state.charging_state") == "Charging"


def test_removing_the_schedule_lets_charging_start() -> None:
    car = make_car(battery_level=40.0)
    car.apply("add_charge_schedule", {"id": 5, "start_time": 1200, "end_time": 1320})
    car.plug_in()
    run(car, 30)
    assert sig(car, "charge_state.scheduled_charging_pending") is True
    assert car.apply("remove_charge_schedule", {"id": 5}).result
    assert car.apply("remove_charge_schedule", {"id": 5}).reason == "not_found"
    run(car, 30)
    assert sig(car, "charge_state.charging_state") == "Charging"


def test_charge_start_overrides_a_schedule_and_a_one_time_schedule_is_deleted() -> None:
    car = make_car(battery_level=40.0)
    car.apply("add_charge_schedule", {"start_time": 600, "end_time": 630, "one_time": True})
    car.plug_in()
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert car.apply("charge_start", {}).result
    run(car, 30)
    assert sig(car, "charge_state.charging_state") == "Charging"
    assert car.apply("charge_stop", {}).result
    car.advance_to(datetime(2026, 1, 5, 10, 10, tzinfo=UTC))
    assert sig(car, "charge_state.charging_state") == "Charging"
    car.advance_to(datetime(2026, 1, 5, 10, 40, tzinfo=UTC))
    assert sig(car, "charge_state.charging_state") == "Stopped"
    assert sig(car, "charge_schedule_data.charge_schedules") == []


def test_chargers_that_offer_less_or_nothing() -> None:
    slow = make_car(battery_level=20.0)
    slow.plug_in(dc=True, power_kw=50.0)
    run(slow, 60)
    assert num(slow, "charge_state.charger_power") == 50
    dead = make_car(battery_level=20.0)
    dead.plug_in(power_kw=0.0)
    run(dead, 60)
    assert sig(dead, "charge_state.charging_state") == "NoPower"
    assert dead.apply("charge_start", {}).reason == "no_power"


def test_scheduled_departure_preconditions_the_cabin() -> None:
    car = make_car(outside_temp_c=0.0)
    params = {"enable": True, "departure_time": 10 * 60, "preconditioning_enabled": True}
    assert car.apply("set_scheduled_departure", params).result
    assert sig(car, "charge_state.scheduled_charging_mode") == "DepartBy"
    assert sig(car, "charge_state.preconditioning_enabled") is True
    car.advance_to(datetime(2026, 1, 5, 9, 39, tzinfo=UTC))
    assert sig(car, "climate_state.is_climate_on") is False
    car.advance_to(datetime(2026, 1, 5, 9, 41, tzinfo=UTC))
    assert car.state == "online"
    assert sig(car, "climate_state.is_climate_on") is True
    car.advance_to(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    assert num(car, "climate_state.inside_temp") > 15
    car.advance_to(datetime(2026, 1, 5, 10, 11, tzinfo=UTC))
    assert sig(car, "climate_state.is_climate_on") is False


def test_off_peak_charging_finishes_by_the_end_of_off_peak() -> None:
    car = make_car(battery_level=60.0, now=datetime(2026, 1, 5, 20, 0, tzinfo=UTC))
    car.apply(
        "set_scheduled_departure",
        {
            "enable": True,
            "departure_time": 7 * 60,
            "off_peak_charging_enabled": True,
            "end_off_peak_time": 6 * 60,
        },
    )
    car.plug_in()
    run(car, 3600)
    assert sig(car, "charge_state.charging_state") == "Stopped"
    car.advance_to(datetime(2026, 1, 6, 6, 0, tzinfo=UTC))
    assert sig(car, "charge_state.charging_state") == "Complete"
    assert num(car, "charge_state.charge_energy_added") > 14


# --------------------------------------------------------------------- determinism


def drive_with_climate(step_s: float) -> dict[str, object]:
    car = make_car(battery_level=60.0, rng=random.Random(42))
    car.apply("auto_conditioning_start", {})
    car.start_driving("berlin-mitte")
    end = T0 + timedelta(hours=2)
    while car.now < end:
        car.advance_to(min(end, car.now + timedelta(seconds=step_s)))
    return car.signals()


def test_one_long_jump_matches_many_small_steps() -> None:
    jump, small = drive_with_climate(7200), drive_with_climate(10)
    assert jump == small
    odd = drive_with_climate(7.3)  # steps that do not land on whole seconds
    for key in ("vehicle_state.odometer", "charge_state.energy_remaining"):
        assert num_of(odd, key) == pytest.approx(num_of(jump, key), rel=0.01)


def num_of(signals: dict[str, object], key: str) -> float:
    value = signals[key]
    assert isinstance(value, int | float)
    return float(value)


def test_same_seed_same_story() -> None:
    def story(seed: int) -> list[object]:
        car = make_car(rng=random.Random(seed))
        car.start_driving("berlin-mitte")
        positions: list[object] = []
        for _ in range(20):
            run(car, 30)
            positions.append((sig(car, "drive_state.latitude"), sig(car, "drive_state.speed")))
        return positions

    assert story(1) == story(1)
    assert story(1) != story(2)


# ------------------------------------------------------------------------- signals


def test_signals_use_tesla_names_and_json_types() -> None:
    car = make_car(name="Red Rocket", battery_level=50.0)
    car.plug_in()
    car.apply("add_charge_schedule", {"start_time": 60, "end_time": 120})
    signals = car.signals()
    json.loads(json.dumps(signals))  # plain JSON values only
    assert all(key.count(".") == 1 for key in signals)
    assert "state" not in signals and not any(k.endswith("timestamp") for k in signals)
    expected = {
        "charge_state.battery_level",
        "charge_state.battery_range",
        "charge_state.charging_state",
        "charge_state.est_battery_range",
        "charge_state.ideal_battery_range",
        "charge_state.usable_battery_level",
        "charge_state.charge_limit_soc",
        "charge_state.charge_limit_soc_min",
        "charge_state.charge_limit_soc_max",
        "charge_state.charge_limit_soc_std",
        "charge_state.charger_power",
        "charge_state.charger_voltage",
        "charge_state.charger_actual_current",
        "charge_state.charge_rate",
        "charge_state.charge_energy_added",
        "charge_state.charge_miles_added_rated",
        "charge_state.minutes_to_full_charge",
        "charge_state.time_to_full_charge",
        "charge_state.charge_port_door_open",
        "charge_state.charge_port_latch",
        "charge_state.conn_charge_cable",
        "charge_state.fast_charger_present",
        "charge_state.scheduled_charging_mode",
        "charge_state.scheduled_charging_pending",
        "charge_state.scheduled_charging_start_time_app",
        "charge_state.scheduled_departure_time_minutes",
        "charge_state.preconditioning_enabled",
        "charge_state.off_peak_charging_enabled",
        "charge_state.energy_remaining",
        "charge_state.lifetime_energy_used",
        "charge_schedule_data.charge_schedules",
        "climate_state.inside_temp",
        "climate_state.outside_temp",
        "climate_state.driver_temp_setting",
        "climate_state.passenger_temp_setting",
        "climate_state.is_climate_on",
        "climate_state.is_auto_conditioning_on",
        "climate_state.is_preconditioning",
        "climate_state.fan_status",
        "climate_state.min_avail_temp",
        "climate_state.max_avail_temp",
        "climate_state.seat_heater_left",
        "drive_state.latitude",
        "drive_state.longitude",
        "drive_state.heading",
        "drive_state.speed",
        "drive_state.shift_state",
        "drive_state.power",
        "drive_state.gps_as_of",
        "drive_state.native_latitude",
        "drive_state.native_longitude",
        "drive_state.native_type",
        "vehicle_state.locked",
        "vehicle_state.odometer",
        "vehicle_state.df",
        "vehicle_state.dr",
        "vehicle_state.pf",
        "vehicle_state.pr",
        "vehicle_state.fd_window",
        "vehicle_state.ft",
        "vehicle_state.rt",
        "vehicle_state.car_version",
        "vehicle_state.vehicle_name",
        "vehicle_state.is_user_present",
        "vehicle_state.sentry_mode",
        "vehicle_state.remote_start",
        "vehicle_state.remote_start_enabled",
        "vehicle_state.tpms_pressure_fl",
        "vehicle_state.tpms_pressure_rr",
        "vehicle_state.tpms_soft_warning_fl",
        "vehicle_state.valet_mode",
        "vehicle_state.service_distance_km",
        "vehicle_state.last_service_at",
        "gui_settings.gui_distance_units",
        "gui_settings.gui_temperature_units",
        "gui_settings.gui_charge_rate_units",
        "gui_settings.gui_24_hour_time",
        "gui_settings.gui_range_display",
        "vehicle_config.car_type",
        "vehicle_config.trim_badging",
        "vehicle_config.exterior_color",
        "vehicle_config.wheel_type",
        "vehicle_config.charge_port_type",
        "vehicle_config.can_accept_navigation_requests",
    }
    assert expected <= signals.keys()
    assert signals["vehicle_state.vehicle_name"] == "Red Rocket"
    assert signals["drive_state.native_type"] == "wgs"
    assert signals["drive_state.gps_as_of"] == int(T0.timestamp())
    assert signals["gui_settings.gui_distance_units"] == "mi/hr"


def test_rated_range_follows_the_efficiency() -> None:
    car = make_car(battery_level=50.0)
    expected_miles = 0.5 * 75_000 / 150 / 1.609344
    assert num(car, "charge_state.battery_range") == pytest.approx(expected_miles, abs=0.01)
    assert num(car, "charge_state.est_battery_range") < expected_miles
    y = make_car(battery_level=50.0, spec=MODEL_Y)
    assert num(y, "charge_state.battery_range") < expected_miles
    assert sig(y, "vehicle_config.car_type") == "modely"
    assert MODEL_3.car_type == "model3"


def test_tiny_changes_do_not_change_the_signals() -> None:
    car = make_car()
    before = car.signals()
    run(car, 1)
    after = car.signals()
    changed = {k for k in before if before[k] != after[k]}
    assert changed <= {"drive_state.gps_as_of"}


def test_tyre_pressure_warning() -> None:
    car = make_car()
    assert sig(car, "vehicle_state.tpms_soft_warning_fl") is False
    car.set_tyre_pressure("fl", 2.1)
    assert sig(car, "vehicle_state.tpms_pressure_fl") == 2.1
    assert sig(car, "vehicle_state.tpms_soft_warning_fl") is True
    with pytest.raises(ValueError):
        car.set_tyre_pressure("spare", 2.0)


def test_remote_start_lasts_two_minutes() -> None:
    car = make_car()
    assert car.apply("remote_start_drive", {}).result
    assert sig(car, "vehicle_state.remote_start") is True
    run(car, 121)
    assert sig(car, "vehicle_state.remote_start") is False


def test_custom_routes_are_followed() -> None:
    square = Route(
        name="square",
        waypoints=[(52.5, 13.4), (52.5, 13.41), (52.51, 13.41), (52.51, 13.4)],
        speed_limits_kmh=[30, 30, 30, 30],
    )
    assert 3 < square.length_km < 4
    assert set(ROUTES) >= {"berlin-mitte", "berliner-ring"}
    car = make_car(latitude=52.5, longitude=13.4)
    car.start_driving(square)
    run(car, 600)
    assert math.isclose(num(car, "drive_state.speed"), 19, abs_tol=2)  # ~30 km/h
