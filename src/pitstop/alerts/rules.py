"""The alert policy: a car's observations in, the alerts its owner should get out.

Pure: no clock, no I/O. The watcher (alerts/watcher.py) feeds it one `Observation` of a car at
a time with the `Memory` it returned last time; `replay()` folds a whole history, which is how
the tests drive it. Times are epoch seconds.

The rules, and what stops each from flooding anyone:

- charging_complete: the car was charging and now reports "Complete".
- charging_stopped: the car was charging and now reports "Stopped" or "NoPower" while nothing
  expected explains it: the owner's charge_stop clears charge_enable_request, the charge limit
  gives "Complete" (or a level at the limit), a schedule's end holds it back with
  scheduled_charging_pending. Unplugging is a person's act, not a fault. It must still hold
  `stop_settle` seconds later (the car reports charging_state at once but other charge_state
  fields up to seconds later, and a power blip that recovers is not worth a message).
- plug_in_reminder: plugged in, below the limit, not held back by a schedule or by the owner,
  and not charging for `not_charging_after` seconds without having charged since it was plugged
  in ("plugged in but not charging"); or a scheduled charge start (StartAt, or a charge schedule
  that applies where the car is) came while the car was unplugged and below its limit.
- left_unlocked: unlocked while parked, with nobody in the car, for `unlocked_after` seconds.
- battery_low: below `battery_low` % and not charging.
- service_due: distance since service at least `service_km`, time since service at least
  `service_days`, or a tyre below `tyre_bar` (or its TPMS warning on); one alert names every
  reason, and a reason that joins later is worth a new alert.

Each kind is at most once per car per `min_interval` seconds. Conditions that last (unlocked,
low battery, not charging, service due) fire once and re-arm only after they have cleared:
the battery must climb `battery_rearm` points above the threshold, a tyre `tyre_rearm` bar
above its limit, so a signal wavering around a threshold gives one alert. A lasting condition
held back by the interval is sent when the interval has passed, if it still holds; an event
(charging complete or stopped, a scheduled start) held back is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

CHARGING_COMPLETE = "charging_complete"
CHARGING_STOPPED = "charging_stopped"
PLUG_IN_REMINDER = "plug_in_reminder"
LEFT_UNLOCKED = "left_unlocked"
BATTERY_LOW = "battery_low"
SERVICE_DUE = "service_due"
KINDS = (
    CHARGING_COMPLETE,
    CHARGING_STOPPED,
    PLUG_IN_REMINDER,
    LEFT_UNLOCKED,
    BATTERY_LOW,
    SERVICE_DUE,
)
#: Kinds that are a lasting condition (sent when allowed, re-armed when cleared).
LASTING = frozenset({PLUG_IN_REMINDER, LEFT_UNLOCKED, BATTERY_LOW, SERVICE_DUE})

KM_PER_MILE = 1.609344
DAY_S = 86_400
SCHEDULE_RADIUS_M = 1000.0  # a charge schedule applies this close to its place
WHEELS = {"fl": "front left", "fr": "front right", "rl": "rear left", "rr": "rear right"}
CHARGING_STATES = ("Charging", "Starting")
STOPPED_STATES = ("Stopped", "NoPower")


@dataclass(frozen=True)
class Rules:
    """The policy's parameters (PITSTOP_ALERT_* settings); durations in seconds."""

    unlocked_after: float = 600.0
    battery_low: float = 20.0  # %
    battery_rearm: float = 5.0  # % above battery_low before a new battery_low alert
    not_charging_after: float = 300.0
    stop_settle: float = 20.0
    service_km: float = 20_000.0
    service_days: float = 365.0
    tyre_bar: float = 2.4
    tyre_rearm: float = 0.1  # bar above tyre_bar before a tyre counts as fixed
    min_interval: float = 3600.0  # per car and kind


@dataclass(frozen=True)
class Schedule:
    """When a charge schedule opens: minute of the car's day (UTC), days, and where."""

    start_minute: int
    days_of_week: int  # Tesla's bitmask, Sunday = bit 0
    latitude: float = 0.0
    longitude: float = 0.0


@dataclass(frozen=True)
class Observation:
    """What the server knew of a car at time `t`: the signals the rules read."""

    t: float
    charging_state: str | None = None
    battery_level: float | None = None
    charge_limit: float | None = None
    range_mi: float | None = None
    energy_added: float | None = None
    charge_enable_request: bool = True
    scheduled_pending: bool = False
    #: StartAt's next start (epoch seconds), when scheduled charging is on.
    scheduled_start: float | None = None
    schedules: tuple[Schedule, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    locked: bool | None = None
    shift_state: str | None = None
    user_present: bool = False
    service_km: float | None = None
    last_service_at: float | None = None
    #: (wheel, bar, TPMS soft warning) for each wheel reported.
    tyres: tuple[tuple[str, float, bool], ...] = ()

    @property
    def plugged(self) -> bool:
        return self.charging_state not in (None, "Disconnected")

    @property
    def charging(self) -> bool:
        return self.charging_state in CHARGING_STATES

    @property
    def below_limit(self) -> bool:
        if self.battery_level is None or self.charge_limit is None:
            return True
        return self.battery_level < self.charge_limit

    @property
    def parked(self) -> bool:
        return self.shift_state in (None, "P")


@dataclass(frozen=True)
class Alert:
    kind: str
    t: float
    #: What the message says: battery, range, place, times (ISO, UTC), the kind's own facts.
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class Memory:
    """What the rules keep about one car between observations."""

    last: Observation | None = None
    #: kind -> when an alert of that kind was last sent for this car.
    sent: Mapping[str, float] = field(default_factory=dict)
    #: Conditions that fired and have not cleared since ("left_unlocked", "service_due:tyre_fl").
    fired: frozenset[str] = frozenset()
    unlocked_since: float | None = None
    idle_since: float | None = None  # plugged in, should charge, does not
    charged_since_plug: bool = False
    stopped_at: float | None = None  # a charge stopped with no reason seen yet


# ------------------------------------------------------------------------------- reading


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _schedules(value: Any) -> tuple[Schedule, ...]:
    found: list[Schedule] = []
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict) or not item.get("enabled") or not item.get("start_enabled"):
            continue
        found.append(
            Schedule(
                start_minute=int(_num(item.get("start_time")) or 0),
                days_of_week=int(_num(item.get("days_of_week")) or 0),
                latitude=_num(item.get("latitude")) or 0.0,
                longitude=_num(item.get("longitude")) or 0.0,
            )
        )
    return tuple(found)


def observe(t: float, sections: Mapping[str, Mapping[str, Any]]) -> Observation:
    """An observation from a car's live state (Tesla's vehicle_data sections)."""
    charge = sections.get("charge_state", {})
    drive = sections.get("drive_state", {})
    body = sections.get("vehicle_state", {})
    schedules = sections.get("charge_schedule_data", {})
    tyres = []
    for wheel in WHEELS:
        bar = _num(body.get(f"tpms_pressure_{wheel}"))
        if bar is not None:
            tyres.append((wheel, bar, body.get(f"tpms_soft_warning_{wheel}") is True))
    locked = body.get("locked")
    mode = charge.get("scheduled_charging_mode")
    state = charge.get("charging_state")
    return Observation(
        t=t,
        charging_state=state if isinstance(state, str) else None,
        battery_level=_num(charge.get("battery_level")),
        charge_limit=_num(charge.get("charge_limit_soc")),
        range_mi=_num(charge.get("battery_range")),
        energy_added=_num(charge.get("charge_energy_added")),
        charge_enable_request=charge.get("charge_enable_request") is not False,
        scheduled_pending=charge.get("scheduled_charging_pending") is True,
        scheduled_start=(
            _num(charge.get("scheduled_charging_start_time")) if mode == "StartAt" else None
        ),
        schedules=_schedules(schedules.get("charge_schedules")),
        latitude=_num(drive.get("latitude")),
        longitude=_num(drive.get("longitude")),
        locked=locked if isinstance(locked, bool) else None,
        shift_state=drive.get("shift_state") if isinstance(drive.get("shift_state"), str) else None,
        user_present=body.get("is_user_present") is True,
        service_km=_num(body.get("service_distance_km")),
        last_service_at=_num(body.get("last_service_at")),
        tyres=tuple(tyres),
    )


# --------------------------------------------------------------------------- the rules


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _facts(obs: Observation, **more: Any) -> dict[str, Any]:
    """What every alert says about the car, plus the kind's own facts."""
    range_km = None if obs.range_mi is None else round(obs.range_mi * KM_PER_MILE)
    where = None
    if obs.latitude is not None and obs.longitude is not None:
        where = {
            "latitude": obs.latitude,
            "longitude": obs.longitude,
            "map_url": (
                "https://www.openstreetmap.org/"
                f"?mlat={obs.latitude:.5f}&mlon={obs.longitude:.5f}#map=17/"
                f"{obs.latitude:.5f}/{obs.longitude:.5f}"
            ),
        }
    return {
        "at": _iso(obs.t),
        "battery_level": None if obs.battery_level is None else round(obs.battery_level),
        "range_km": range_km,
        "range_mi": None if obs.range_mi is None else round(obs.range_mi),
        "charge_limit": None if obs.charge_limit is None else round(obs.charge_limit),
        "where": where,
        **more,
    }


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _opens(schedule: Schedule, t0: float, t1: float) -> float | None:
    """When in (t0, t1] `schedule` opens, if it does (the car's local time is UTC)."""
    day = math.floor(t1 / DAY_S) * DAY_S
    for instant in (day + schedule.start_minute * 60, day - DAY_S + schedule.start_minute * 60):
        weekday = (math.floor(instant / DAY_S) + 4) % 7  # Sunday = 0; the epoch was a Thursday
        if t0 < instant <= t1 and schedule.days_of_week & (1 << weekday):
            return instant
    return None


def scheduled_start_between(prev: Observation, obs: Observation) -> float | None:
    """A scheduled charge start the car knew of at `prev` that came by `obs`, if any."""
    starts = []
    if prev.scheduled_start is not None and prev.t < prev.scheduled_start <= obs.t:
        starts.append(prev.scheduled_start)
    here = (obs.latitude, obs.longitude)
    for schedule in prev.schedules:
        place = (schedule.latitude, schedule.longitude)
        if place != (0.0, 0.0):
            if here[0] is None or here[1] is None:
                continue
            if _distance_m((here[0], here[1]), place) > SCHEDULE_RADIUS_M:
                continue
        opened = _opens(schedule, prev.t, obs.t)
        if opened is not None:
            starts.append(opened)
    return min(starts) if starts else None


def _service_reasons(rules: Rules, obs: Observation, fired: frozenset[str]) -> dict[str, bool]:
    """Service reasons: name -> whether it holds now (a fired tyre keeps holding until it
    is `tyre_rearm` above the limit)."""
    reasons: dict[str, bool] = {}
    if obs.service_km is not None:
        reasons["distance"] = obs.service_km >= rules.service_km
    if obs.last_service_at is not None:
        reasons["time"] = obs.t - obs.last_service_at >= rules.service_days * DAY_S
    for wheel, bar, warning in obs.tyres:
        name = f"tyre_{wheel}"
        limit = rules.tyre_bar + (rules.tyre_rearm if f"{SERVICE_DUE}:{name}" in fired else 0.0)
        reasons[name] = bar < limit or warning
    return reasons


def step(rules: Rules, memory: Memory, obs: Observation) -> tuple[Memory, list[Alert]]:
    """One observation of a car: the car's new memory and the alerts to send now."""
    prev = memory.last
    fired = set(memory.fired)
    sent = dict(memory.sent)
    alerts: list[Alert] = []

    def allowed(kind: str) -> bool:
        last = sent.get(kind)
        return last is None or obs.t - last >= rules.min_interval

    def send(kind: str, **facts: Any) -> bool:
        if not allowed(kind):
            return False
        sent[kind] = obs.t
        alerts.append(Alert(kind, obs.t, _facts(obs, **facts)))
        return True

    def lasting(name: str, holds: bool, clears: bool, kind: str, **facts: Any) -> None:
        """A condition: sent once when it holds, again only after it has cleared."""
        if clears:
            fired.discard(name)
        elif holds and name not in fired and send(kind, **facts):
            fired.add(name)

    # Charging: complete, or stopped with no reason the owner would know of.
    stopped_at = memory.stopped_at
    if prev is not None and prev.charging and obs.charging_state == "Complete":
        send(CHARGING_COMPLETE, energy_added=obs.energy_added)
    if prev is not None and prev.charging and obs.charging_state in STOPPED_STATES:
        stopped_at = obs.t
    expected = (
        not obs.charge_enable_request or obs.scheduled_pending or not obs.below_limit
    ) and obs.charging_state != "NoPower"
    if obs.charging_state not in STOPPED_STATES or expected:
        stopped_at = None
    elif stopped_at is not None and obs.t - stopped_at >= rules.stop_settle:
        send(
            CHARGING_STOPPED,
            no_power=obs.charging_state == "NoPower",
            energy_added=obs.energy_added,
        )
        stopped_at = None

    # Plugged in but not charging though it should; or unplugged at a scheduled start.
    charged = obs.plugged and (memory.charged_since_plug or obs.charging)
    should_charge = (
        obs.plugged
        and not obs.charging
        and not charged
        and obs.charging_state in STOPPED_STATES
        and obs.charge_enable_request
        and not obs.scheduled_pending
        and obs.below_limit
    )
    idle_since = (memory.idle_since or obs.t) if should_charge else None
    lasting(
        f"{PLUG_IN_REMINDER}:idle",
        holds=idle_since is not None and obs.t - idle_since >= rules.not_charging_after,
        clears=idle_since is None,
        kind=PLUG_IN_REMINDER,
        plugged=True,
        no_power=obs.charging_state == "NoPower",
        since=_iso(idle_since or obs.t),
    )
    if prev is not None and not obs.plugged and obs.below_limit:
        start = scheduled_start_between(prev, obs)
        if start is not None:
            send(PLUG_IN_REMINDER, plugged=False, no_power=False, scheduled_at=_iso(start))

    # Left unlocked while parked, nobody inside.
    unlocked = obs.locked is False and obs.parked and not obs.user_present
    unlocked_since = (memory.unlocked_since or obs.t) if unlocked else None
    lasting(
        LEFT_UNLOCKED,
        holds=unlocked_since is not None and obs.t - unlocked_since >= rules.unlocked_after,
        clears=unlocked_since is None,
        kind=LEFT_UNLOCKED,
        since=_iso(unlocked_since or obs.t),
        minutes=round((obs.t - (unlocked_since or obs.t)) / 60),
    )

    # Battery low, with hysteresis.
    level = obs.battery_level
    lasting(
        BATTERY_LOW,
        holds=level is not None and level < rules.battery_low and not obs.charging,
        clears=level is not None and level >= rules.battery_low + rules.battery_rearm,
        kind=BATTERY_LOW,
        threshold=round(rules.battery_low),
    )

    # Service due: every reason in one alert; a reason not yet told is worth a new one.
    reasons = _service_reasons(rules, obs, memory.fired)
    for name, holds in reasons.items():
        if not holds:
            fired.discard(f"{SERVICE_DUE}:{name}")
    due = [name for name, holds in reasons.items() if holds]
    if any(f"{SERVICE_DUE}:{name}" not in fired for name in due) and send(
        SERVICE_DUE, **_service_facts(rules, obs, due)
    ):
        fired.update(f"{SERVICE_DUE}:{name}" for name in due)

    return (
        Memory(
            last=obs,
            sent=sent,
            fired=frozenset(fired),
            unlocked_since=unlocked_since,
            idle_since=idle_since,
            charged_since_plug=charged,
            stopped_at=stopped_at,
        ),
        alerts,
    )


def _service_facts(rules: Rules, obs: Observation, due: list[str]) -> dict[str, Any]:
    days = None if obs.last_service_at is None else int((obs.t - obs.last_service_at) // DAY_S)
    return {
        "distance_due": "distance" in due,
        "time_due": "time" in due,
        "service_km": None if obs.service_km is None else round(obs.service_km),
        "service_km_limit": round(rules.service_km),
        "days_since_service": days,
        "last_service_at": None if obs.last_service_at is None else _iso(obs.last_service_at),
        "tyres_low": [
            {"wheel": WHEELS[wheel], "bar": round(bar, 2)}
            for wheel, bar, _ in obs.tyres
            if f"tyre_{wheel}" in due
        ],
        "tyre_bar": rules.tyre_bar,
    }


def service_due(rules: Rules, obs: Observation) -> dict[str, Any] | None:
    """What a service_due alert would say of `obs` now, or None when no service is due.

    Without memory: a tyre counts while it is below `tyre_bar` or its warning is on. This is
    what the app shows on a car's card (through `/api/1/service/due`), with the same rules the
    alerts use."""
    due = [name for name, holds in _service_reasons(rules, obs, frozenset()).items() if holds]
    return _service_facts(rules, obs, due) if due else None


def replay(
    rules: Rules, observations: Iterable[Observation], memory: Memory | None = None
) -> list[Alert]:
    """Every alert a history of observations gives, in order."""
    memory = memory or Memory()
    out: list[Alert] = []
    for obs in observations:
        memory, alerts = step(rules, memory, obs)
        out.extend(alerts)
    return out


def resume(memory: Memory, sent: Mapping[str, float], obs: Observation, rules: Rules) -> Memory:
    """Memory for a car seen afresh (a restart, or a car that moved to this process), from
    what was sent for it before: the intervals hold, and a lasting condition that holds now
    and was told already counts as told (an alert sent just before a restart is not sent
    again after it)."""
    fired: set[str] = set()
    for kind, holds in (
        (LEFT_UNLOCKED, obs.locked is False and obs.parked),
        (BATTERY_LOW, obs.battery_level is not None and obs.battery_level < rules.battery_low),
    ):
        if holds and kind in sent:
            fired.add(kind)
    if SERVICE_DUE in sent:
        reasons = _service_reasons(rules, obs, frozenset())
        fired.update(f"{SERVICE_DUE}:{name}" for name, holds in reasons.items() if holds)
    return replace(memory, sent={**memory.sent, **sent}, fired=memory.fired | fired)
