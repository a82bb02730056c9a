"""The alert policy on its own: a car's observations in, alerts out (no server, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from pitstop.alerts.rules import (
    BATTERY_LOW,
    CHARGING_COMPLETE,
    CHARGING_STOPPED,
    LEFT_UNLOCKED,
    PLUG_IN_REMINDER,
    SERVICE_DUE,
    Alert,
    Memory,
    Observation,
    Rules,
    Schedule,
    observe,
    replay,
    resume,
    step,
)
from pitstop.sim.model import CarModel

RULES = Rules()
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp()  # a Monday, 08:00 UTC
MIN = 60.0
BERLIN = (52.52, 13.405)

PARKED = Observation(
    t=T0,
    charging_state="Disconnected",
    battery_level=60,
    charge_limit=80,
    range_mi=180.0,
    latitude=BERLIN[0],
    longitude=BERLIN[1],
    locked=True,
    shift_state="P",
    service_km=1000.0,
    last_service_at=T0 - 100 * 86400,
    tyres=(("fl", 2.9, False), ("fr", 2.9, False), ("rl", 2.9, False), ("rr", 2.9, False)),
)


def at(minutes: float, base: Observation = PARKED, **changes: object) -> Observation:
    return replace(base, t=T0 + minutes * MIN, **changes)  # type: ignore[arg-type]


def kinds(alerts: list[Alert]) -> list[str]:
    return [a.kind for a in alerts]


def timeline(*steps: tuple[float, dict[str, object]], every: float = 0.5) -> list[Observation]:
    """Observations every `every` minutes; each step's changes hold from its minute on."""
    out: list[Observation] = []
    state = PARKED
    ordered = sorted(steps, key=lambda s: s[0])
    end = ordered[-1][0]
    i, minute = 0, 0.0
    while minute <= end + 1e-9:
        while i < len(ordered) and ordered[i][0] <= minute + 1e-9:
            state = replace(state, **ordered[i][1])  # type: ignore[arg-type]
            i += 1
        out.append(replace(state, t=T0 + minute * MIN))
        minute += every
    return out


CHARGING = {"charging_state": "Charging"}


# --- charging complete ------------------------------------------------------------------


def test_charging_complete_alerts_once_when_the_charge_reaches_the_limit() -> None:
    alerts = replay(
        RULES,
        timeline(
            (0, CHARGING),
            (30, {"charging_state": "Complete", "battery_level": 80, "energy_added": 15.0}),
            (120, {}),
        ),
    )
    assert kinds(alerts) == [CHARGING_COMPLETE]
    (alert,) = alerts
    assert alert.t == T0 + 30 * MIN
    assert alert.facts["battery_level"] == 80 and alert.facts["energy_added"] == 15.0
    assert alert.facts["range_km"] == round(180 * 1.609344)
    assert alert.facts["where"]["latitude"] == BERLIN[0]
    assert alert.facts["at"] == "2026-03-02T08:30:00Z"


def test_plugging_in_a_car_that_is_full_already_is_not_charging_complete() -> None:
    alerts = replay(RULES, timeline((0, {}), (5, {"charging_state": "Complete"}), (30, {})))
    assert alerts == []


def test_charging_complete_twice_within_the_interval_alerts_once() -> None:
    alerts = replay(
        RULES,
        timeline(
            (0, CHARGING),
            (10, {"charging_state": "Complete"}),
            (20, CHARGING),  # topped up again after drain
            (25, {"charging_state": "Complete"}),
            (30, {}),
        ),
    )
    assert kinds(alerts) == [CHARGING_COMPLETE]


# --- charging stopped -------------------------------------------------------------------


def test_a_power_cut_while_charging_is_charging_stopped() -> None:
    alerts = replay(RULES, timeline((0, CHARGING), (10, {"charging_state": "NoPower"}), (15, {})))
    assert kinds(alerts) == [CHARGING_STOPPED]
    assert alerts[0].facts["no_power"] is True
    # It must still hold stop_settle seconds later: the first look is not enough.
    assert alerts[0].t >= T0 + 10 * MIN + RULES.stop_settle


def test_a_charge_that_stops_by_itself_below_the_limit_is_charging_stopped() -> None:
    alerts = replay(RULES, timeline((0, CHARGING), (10, {"charging_state": "Stopped"}), (15, {})))
    assert kinds(alerts) == [CHARGING_STOPPED]
    assert alerts[0].facts["no_power"] is False


def test_a_charge_stopped_by_the_owner_is_not_unexpected() -> None:
    stop = {"charging_state": "Stopped", "charge_enable_request": False}
    assert replay(RULES, timeline((0, CHARGING), (10, stop), (60, {}))) == []


def test_a_charge_stopped_by_a_schedules_end_is_not_unexpected() -> None:
    # The car reports charging_state at once and scheduled_charging_pending a moment later.
    observations = [
        at(0, charging_state="Charging"),
        at(10, charging_state="Stopped"),
        at(10.05, charging_state="Stopped", scheduled_pending=True),
        *(at(10 + m, charging_state="Stopped", scheduled_pending=True) for m in range(1, 60)),
    ]
    assert replay(RULES, observations) == []


def test_a_charge_that_reaches_the_limit_is_not_unexpected() -> None:
    done = {"charging_state": "Stopped", "battery_level": 80}
    assert replay(RULES, timeline((0, CHARGING), (10, done), (60, {}))) == []


def test_unplugging_while_charging_is_not_unexpected() -> None:
    alerts = replay(
        RULES, timeline((0, CHARGING), (10, {"charging_state": "Disconnected"}), (60, {}))
    )
    assert alerts == []


def test_power_that_blips_and_comes_back_is_not_an_alert() -> None:
    observations = [
        at(0, charging_state="Charging"),
        at(1, charging_state="NoPower"),
        at(1.1, charging_state="Charging"),
        *(at(2 + m, charging_state="Charging") for m in range(30)),
    ]
    assert replay(RULES, observations) == []


def test_a_flapping_power_supply_gives_one_charging_stopped_alert() -> None:
    observations = []
    for i in range(60):  # an hour of: charging one minute, no power the next
        observations.append(at(i, charging_state="Charging" if i % 2 == 0 else "NoPower"))
        observations.append(at(i + 0.5, charging_state="Charging" if i % 2 == 0 else "NoPower"))
    assert kinds(replay(RULES, observations)) == [CHARGING_STOPPED]


# --- plug in to be ready ----------------------------------------------------------------


def test_plugged_in_but_not_charging_alerts_after_the_grace_time() -> None:
    alerts = replay(RULES, timeline((0, {"charging_state": "NoPower"}), (30, {})))
    assert kinds(alerts) == [PLUG_IN_REMINDER]
    assert alerts[0].t == T0 + RULES.not_charging_after
    assert alerts[0].facts["plugged"] is True and alerts[0].facts["no_power"] is True
    assert alerts[0].facts["since"] == "2026-03-02T08:00:00Z"


def test_plugged_in_and_waiting_for_its_schedule_is_not_an_alert() -> None:
    waiting = {"charging_state": "Stopped", "scheduled_pending": True}
    assert replay(RULES, timeline((0, waiting), (120, {}))) == []


def test_plugged_in_and_stopped_by_the_owner_is_not_an_alert() -> None:
    stopped = {"charging_state": "Stopped", "charge_enable_request": False}
    assert replay(RULES, timeline((0, stopped), (120, {}))) == []


def test_plugged_in_at_the_limit_is_not_an_alert() -> None:
    full = {"charging_state": "Stopped", "battery_level": 80}
    assert replay(RULES, timeline((0, full), (120, {}))) == []


def test_a_flapping_latch_gives_one_plug_in_reminder() -> None:
    observations = []
    for i in range(120):  # two hours of the latch engaging and letting go every 6 minutes
        state = "NoPower" if (i // 6) % 2 == 0 else "Disconnected"
        observations.append(at(i, charging_state=state))
    alerts = replay(replace(RULES, min_interval=3 * 3600), observations)
    assert kinds(alerts) == [PLUG_IN_REMINDER]


def test_unplugged_at_a_scheduled_start_time_is_a_plug_in_reminder() -> None:
    start = T0 + 60 * MIN  # StartAt 09:00
    observations = [at(m, scheduled_start=start) for m in range(0, 70, 5)]
    alerts = replay(RULES, observations)
    assert kinds(alerts) == [PLUG_IN_REMINDER]
    assert alerts[0].facts["plugged"] is False
    assert alerts[0].facts["scheduled_at"] == "2026-03-02T09:00:00Z"


def test_unplugged_when_a_charge_schedule_opens_is_a_plug_in_reminder() -> None:
    weekdays = Schedule(9 * 60, 0b0111110, latitude=BERLIN[0] + 0.001, longitude=BERLIN[1])
    alerts = replay(RULES, [at(m, schedules=(weekdays,)) for m in range(0, 70, 5)])
    assert kinds(alerts) == [PLUG_IN_REMINDER]
    assert alerts[0].facts["scheduled_at"] == "2026-03-02T09:00:00Z"


def test_a_charge_schedule_for_another_place_or_day_is_not_an_alert() -> None:
    elsewhere = Schedule(start_minute=9 * 60, days_of_week=0b1111111, latitude=48.1, longitude=11.6)
    weekends = Schedule(start_minute=9 * 60, days_of_week=0b1000001)
    observations = [at(m, schedules=(elsewhere, weekends)) for m in range(0, 70, 5)]
    assert replay(RULES, observations) == []


def test_plugged_in_at_a_scheduled_start_is_not_an_alert() -> None:
    start = T0 + 60 * MIN
    observations = [
        *(at(m, scheduled_start=start, charging_state="Stopped", scheduled_pending=True)
          for m in range(0, 60, 5)),
        *(at(m, scheduled_start=start + 86400, charging_state="Charging")
          for m in range(60, 90, 5)),
    ]  # fmt: skip
    assert replay(RULES, observations) == []


# --- left unlocked ----------------------------------------------------------------------


def test_left_unlocked_for_ten_minutes_alerts_once_while_it_stays_unlocked() -> None:
    alerts = replay(RULES, timeline((0, {}), (5, {"locked": False}), (120, {})))
    assert kinds(alerts) == [LEFT_UNLOCKED]
    assert alerts[0].t == T0 + 15 * MIN
    assert alerts[0].facts["minutes"] == 10 and alerts[0].facts["since"] == "2026-03-02T08:05:00Z"


def test_left_unlocked_again_after_locking_alerts_again() -> None:
    alerts = replay(
        RULES,
        timeline(
            (0, {"locked": False}),
            (30, {"locked": True}),
            (70, {"locked": False}),
            (100, {}),
        ),
    )
    assert [a.t for a in alerts if a.kind == LEFT_UNLOCKED] == [T0 + 10 * MIN, T0 + 80 * MIN]


def test_unlocked_again_within_the_interval_is_told_once_the_interval_has_passed() -> None:
    alerts = replay(
        RULES,
        timeline((0, {"locked": False}), (20, {"locked": True}), (21, {"locked": False}), (90, {})),
    )
    assert [a.t for a in alerts] == [T0 + 10 * MIN, T0 + 70 * MIN]


def test_a_lock_that_flaps_gives_one_alert_per_interval() -> None:
    observations = [at(m / 2, locked=(m % 30 == 29)) for m in range(2 * 120)]  # 2 h
    assert len(replay(RULES, observations)) == 2  # at 10 min and one hour later


def test_unlocked_while_driving_or_with_someone_inside_is_not_an_alert() -> None:
    driving = {"locked": False, "shift_state": "D"}
    inside = {"locked": False, "user_present": True}
    assert replay(RULES, timeline((0, driving), (30, inside), (60, {}))) == []


# --- battery low ------------------------------------------------------------------------


def test_battery_below_the_threshold_alerts_once() -> None:
    alerts = replay(RULES, timeline((0, {}), (10, {"battery_level": 19}), (120, {})))
    assert kinds(alerts) == [BATTERY_LOW]
    assert alerts[0].facts["battery_level"] == 19 and alerts[0].facts["threshold"] == 20


def test_a_battery_wavering_around_the_threshold_gives_one_alert() -> None:
    observations = [at(m, battery_level=19 + (m % 2)) for m in range(0, 300)]  # 5 hours
    assert kinds(replay(RULES, observations)) == [BATTERY_LOW]


def test_battery_low_again_after_a_charge_alerts_again() -> None:
    alerts = replay(
        RULES,
        timeline(
            (0, {"battery_level": 18}),
            (10, {"battery_level": 40, "charging_state": "Charging"}),
            (200, {"battery_level": 15, "charging_state": "Disconnected"}),
            (210, {}),
        ),
    )
    assert [a.t for a in alerts] == [T0, T0 + 200 * MIN]


def test_a_low_battery_that_is_charging_is_not_an_alert() -> None:
    assert replay(RULES, timeline((0, {"battery_level": 10, **CHARGING}), (60, {}))) == []


def test_a_configured_threshold_is_used() -> None:
    observations = timeline((0, {"battery_level": 25}), (10, {}))
    assert kinds(replay(replace(RULES, battery_low=30), observations)) == [BATTERY_LOW]
    assert replay(RULES, observations) == []


# --- service due ------------------------------------------------------------------------


def test_service_due_by_distance() -> None:
    alerts = replay(RULES, timeline((0, {}), (10, {"service_km": 20_001.0}), (60, {})))
    assert kinds(alerts) == [SERVICE_DUE]
    assert alerts[0].facts["distance_due"] and not alerts[0].facts["time_due"]
    assert alerts[0].facts["service_km"] == 20_001


def test_service_due_by_time() -> None:
    alerts = replay(RULES, timeline((0, {"last_service_at": T0 - 400 * 86400}), (60, {})))
    assert kinds(alerts) == [SERVICE_DUE]
    assert alerts[0].facts["time_due"] and alerts[0].facts["days_since_service"] == 400


def test_service_due_for_a_low_tyre() -> None:
    tyres = (("fl", 2.1, True), ("fr", 2.9, False), ("rl", 2.9, False), ("rr", 2.9, False))
    alerts = replay(RULES, timeline((0, {}), (3, {"tyres": tyres}), (60, {})))
    assert kinds(alerts) == [SERVICE_DUE]
    assert alerts[0].facts["tyres_low"] == [{"wheel": "front left", "bar": 2.1}]


def test_a_tyre_wavering_around_the_limit_gives_one_alert() -> None:
    def tyres(bar: float) -> tuple[tuple[str, float, bool], ...]:
        return (("fl", bar, False), ("fr", 2.9, False), ("rl", 2.9, False), ("rr", 2.9, False))

    observations = [at(m, tyres=tyres(2.39 if m % 2 else 2.42)) for m in range(300)]
    assert kinds(replay(RULES, observations)) == [SERVICE_DUE]


def test_a_new_service_reason_is_worth_a_new_alert_but_a_known_one_is_not() -> None:
    tyres = (("fl", 2.1, True), ("fr", 2.9, False), ("rl", 2.9, False), ("rr", 2.9, False))
    alerts = replay(
        RULES,
        timeline(
            (0, {"service_km": 21_000.0}),
            (120, {"tyres": tyres}),  # a new reason
            (240, {}),
        ),
    )
    assert [a.t for a in alerts] == [T0, T0 + 120 * MIN]
    assert alerts[1].facts["distance_due"] and alerts[1].facts["tyres_low"]


def test_a_car_in_good_order_gives_no_alert_all_day() -> None:
    assert replay(RULES, [at(m) for m in range(0, 24 * 60, 5)]) == []


# --- memory across processes and restarts ----------------------------------------------


def test_a_car_seen_afresh_is_not_told_again_what_it_was_told_before() -> None:
    obs = at(0, locked=False, battery_level=12)
    told = {LEFT_UNLOCKED: T0 - 20 * MIN, BATTERY_LOW: T0 - 2 * 3600}
    memory = resume(Memory(), told, obs, RULES)
    alerts = replay(RULES, [at(m, locked=False, battery_level=12) for m in range(0, 120)], memory)
    assert alerts == []


def test_a_car_seen_afresh_still_waits_out_the_interval() -> None:
    obs = at(0, charging_state="Charging")
    memory = resume(Memory(), {CHARGING_COMPLETE: T0 - 10 * MIN}, obs, RULES)
    memory, _ = step(RULES, memory, obs)
    _, alerts = step(RULES, memory, at(5, charging_state="Complete"))
    assert alerts == []


# --- reading live state -----------------------------------------------------------------


def test_observe_reads_a_simulated_cars_signals() -> None:
    now = datetime.fromtimestamp(T0, UTC)
    model = CarModel(vin="5YJ3E1EA7PF000001", now=now, battery_level=50.0)
    model.set_tyre_pressure("rl", 2.2)
    model.plug_in()
    model.advance_to(datetime.fromtimestamp(T0 + 30, UTC))
    sections: dict[str, dict[str, object]] = {}
    for key, value in model.signals().items():
        section, _, name = key.partition(".")
        sections.setdefault(section, {})[name] = value
    obs = observe(T0 + 30, sections)
    assert obs.charging_state == "Charging" and obs.charging and obs.plugged
    assert obs.battery_level == 50 and obs.charge_limit == 80 and obs.locked is True
    assert obs.parked and not obs.user_present and obs.charge_enable_request
    assert ("rl", 2.2, True) in obs.tyres
    assert obs.latitude == 52.52 and obs.service_km == 0.0
