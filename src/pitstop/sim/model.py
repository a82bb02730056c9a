"""A simulated electric car: deterministic physics behind Tesla's vehicle_data names.

The model has no clock and does no I/O: its owner calls `advance_to()` with the current
time and the model integrates in steps of at most one simulated second, aligned to whole
epoch seconds, so one long jump and many short calls land on (almost) the same states.
All randomness comes from the injected `random.Random` and is drawn per event (a new road
segment, a red light), never per step.

The car's local time, which schedules use, is UTC. Charge-schedule weekday bitmasks have
Sunday as bit 0 (1) up to Saturday as bit 6 (64).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pitstop.sim.routes import ROUTES, Route, RouteFollower, distance_m
from pitstop.sim.spec import MODEL_3, MODEL_Y, CarSpec

__all__ = ["MODEL_3", "MODEL_Y", "ROUTES", "CarModel", "CarSpec", "CommandOutcome", "Route"]

KM_PER_MILE = 1.609344
DAY_S = 86_400
STARTING_S = 5.0  # charging_state "Starting" before current flows
REMOTE_START_S = 120.0  # remote_start_drive allows keyless driving this long
PRECONDITION_LEAD_MIN = 20  # departure preconditioning starts this long before departure
PRECONDITION_TAIL_MIN = 10  # ... and ends this long after, if nobody drove off
EMPTY_SOC = 0.5  # %: below this the car will not move and climate shuts off
COMPLETE_HYSTERESIS = 2.0  # %: a completed charge resumes only after this much drain
OFF_PEAK_MARGIN_MIN = 15  # off-peak charging aims to finish this early
SCHEDULE_RADIUS_M = 1000.0  # a charge schedule applies this close to its location
TYRES = ("fl", "fr", "rl", "rr")
SOFT_WARNING_BAR = 2.4  # tyre pressure below which TPMS warns
EST_RANGE_FACTOR = 0.9  # estimated range: rated, less real-world losses
ALL_DAYS, WEEKDAYS = 0b1111111, 0b0111110
DAY_BITS = {d: 1 << i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}

Params = Mapping[str, object]


@dataclass(frozen=True)
class CommandOutcome:
    """What the car answers to a command; `reason` (snake_case) explains a refusal."""

    result: bool
    reason: str = ""


OK = CommandOutcome(True)


@dataclass
class ChargeSchedule:
    """One entry of Tesla's charge_schedule_data.charge_schedules; times in minutes of day."""

    id: int
    name: str
    days_of_week: int
    enabled: bool
    start_enabled: bool
    start_time: int
    end_enabled: bool
    end_time: int
    one_time: bool
    latitude: float
    longitude: float


class CarModel:
    """One simulated car, moved by scene calls (plug_in, start_driving...) and commands."""

    def __init__(
        self,
        *,
        vin: str,
        spec: CarSpec = MODEL_3,
        now: datetime,
        name: str = "",
        battery_level: float = 80.0,  # %
        odometer_km: float = 10000.0,
        latitude: float = 52.52,  # degrees, WGS84
        longitude: float = 13.405,
        outside_temp_c: float = 12.0,
        sleep_timeout_s: float = 900.0,  # idle seconds before falling asleep
        wake_duration_s: float = 6.0,  # seconds from wake() to online
        rng: random.Random | None = None,
    ) -> None:
        self.vin, self.spec, self.name = vin, spec, name
        self.outside_temp_c = outside_temp_c  # public: a scene may change the weather
        self.sleep_timeout_s, self.wake_duration_s = sleep_timeout_s, wake_duration_s
        self._rng = rng or random.Random(vin)
        self._t = now.timestamp()
        self._energy_kwh = spec.battery_kwh * battery_level / 100
        self._lifetime_kwh = 0.0
        self._power_kw = 0.0  # out of the battery; negative when charging or regenerating
        self._odometer_km = odometer_km
        self._lat, self._lon, self._heading = latitude, longitude, 0.0
        self._driver: RouteFollower | None = None  # set while driving
        # Body.
        self._locked, self._user_present, self._remote_start_until = True, False, 0.0
        self._tyres = {w: round(2.9 + self._rng.uniform(-0.05, 0.05), 2) for w in TYRES}
        self._service_km, self._service_at = 0.0, self._t
        # Climate, °C.
        self._inside_c, self._driver_c, self._passenger_c = outside_temp_c, 21.0, 21.0
        self._climate_on = self._precond_by_schedule = False
        self._hvac_kw = 0.0
        # Charging.
        self._plugged = self._dc = self._port_open = self._charging = False
        self._supply_kw = self._charge_kw = self._energy_added = self._charge_since = 0.0
        self._limit = 80
        # Overrides: charge_start beats schedules; charge_stop (or a finished one-time
        # schedule) holds charging until charge_start or the next plug-in.
        self._user_started = self._stopped = False
        self._complete = False  # reached the limit; resumes only after real drain
        self._pending = False  # waiting for the scheduled-charging or off-peak start
        self._sched_on = False  # a charge schedule's window is open
        self._start_at_on, self._start_at_min = False, 0
        self._depart_on, self._depart_min, self._off_peak_end_min = False, 7 * 60, 6 * 60
        self._precondition = self._precondition_weekdays = False
        self._off_peak = self._off_peak_weekdays = False
        self._schedules: list[ChargeSchedule] = []
        # Sleep.
        self._asleep, self._last_activity = False, self._t
        self._wake_at: float | None = None

    # ----------------------------------------------------------------- situations

    def plug_in(self, *, dc: bool = False, power_kw: float | None = None) -> None:
        """Connect a cable; the charger offers `power_kw` kW (default: what the car takes).

        Charging starts at once when below the limit, unless a schedule says to wait.
        """
        if self._driver is not None:
            self.park()
        self._rouse()
        self._plugged, self._dc, self._port_open = True, dc, True
        default_kw = self.spec.max_dc_kw if dc else self.spec.max_ac_kw
        self._supply_kw = max(0.0, default_kw if power_kw is None else power_kw)
        self._energy_added = 0.0
        self._user_started = self._stopped = self._complete = False
        self._pending = self._pending_applies()
        self._sched_on = self._schedule_window_open(self._t)
        self._update_charging(self._t)

    def unplug(self) -> None:
        """Remove the cable; the charge port door closes behind it."""
        self._rouse()
        self._plugged = self._port_open = self._charging = self._pending = False
        self._charge_kw = 0.0

    def start_driving(self, route: str | Route) -> None:
        """Shift to D and follow `route` (a ROUTES name or a Route) round and round.

        The car starts from the route's waypoint nearest to it, unplugging if needed.
        """
        chosen = ROUTES[route] if isinstance(route, str) else route
        if self._plugged:
            self.unplug()
        self._rouse()
        self._driver = RouteFollower(chosen, start_near=(self._lat, self._lon), rng=self._rng)
        (self._lat, self._lon), self._heading = self._driver.position, self._driver.heading_deg
        self._locked, self._user_present, self._precond_by_schedule = True, True, False

    def park(self) -> None:
        """Shift to P; the driver walks away, the car locks and climate goes off."""
        self._driver, self._user_present, self._locked = None, False, True
        self._climate_on = self._precond_by_schedule = False
        self._rouse()

    def wake(self) -> None:
        """Begin waking: online after wake_duration_s of simulated time."""
        if not self._asleep:
            self._last_activity = self._t
        elif self._wake_at is None:
            self._wake_at = self._t + self.wake_duration_s

    def set_tyre_pressure(self, wheel: str, bar: float) -> None:
        """Set one tyre (fl, fr, rl, rr) to `bar`; below 2.4 bar raises a soft warning."""
        if wheel not in self._tyres:
            raise ValueError(f"wheel must be one of {TYRES}")
        self._tyres[wheel] = bar

    def set_service(self, *, distance_km: float, last_service_at: datetime) -> None:
        self._service_km, self._service_at = distance_km, last_service_at.timestamp()

    # ------------------------------------------------------------------- queries

    @property
    def now(self) -> datetime:
        """The simulated time the model has reached."""
        return datetime.fromtimestamp(self._t, UTC)

    @property
    def state(self) -> str:
        return "asleep" if self._asleep else "online"

    @property
    def idle(self) -> bool:
        """Parked, not charging, climate off and no activity for sleep_timeout_s."""
        quiet = self._driver is None and not self._charging and not self._climate_on
        return quiet and self._t - self._last_activity >= self.sleep_timeout_s

    @property
    def _soc(self) -> float:
        return 100 * self._energy_kwh / self.spec.battery_kwh

    # -------------------------------------------------------------------- physics

    def advance_to(self, now: datetime) -> None:
        """Integrate from the last time to `now` (timezone-aware) in steps of ≤ 1 s."""
        target = now.timestamp()
        while self._t < target:
            t0, self._t = self._t, min(target, math.floor(self._t) + 1.0)
            self._step(t0, self._t)

    def _step(self, t0: float, t1: float) -> None:
        dt, spec = t1 - t0, self.spec
        self._run_schedules(t0, t1)
        if self._wake_at is not None and t1 >= self._wake_at:
            self._rouse()
        self._update_charging(t0)
        driving = self._driver is not None
        drive_kw = self._drive(dt) if driving else 0.0  # includes the auxiliary load
        self._update_climate(dt)
        idle_kw = 0.0 if driving else spec.sleep_w / 1000 if self._asleep else spec.aux_kw
        load_kw = drive_kw + self._hvac_kw + idle_kw
        into_kw = self._charge_kw * spec.charge_eff(dc=self._dc) - load_kw
        if self._plugged and self._supply_kw > 0 and not self._charging:
            into_kw = 0.0  # plugged in, the car runs on shore power and spares the battery
        self._power_kw = -into_kw
        self._lifetime_kwh += max(0.0, load_kw) * dt / 3600
        self._energy_kwh = max(0.0, self._energy_kwh + into_kw * dt / 3600)
        if self._charging:
            self._energy_added += max(0.0, into_kw) * dt / 3600
            full_kwh = spec.battery_kwh * self._limit / 100
            if self._energy_kwh >= full_kwh:  # stop exactly at the limit
                self._energy_kwh, self._complete = full_kwh, True
                self._charging, self._charge_kw, self._user_started = False, 0.0, False
        if self._soc <= EMPTY_SOC:
            self._climate_on = False
            if self._driver is not None:
                self.park()
        if not self._asleep and self._wake_at is None and self.idle:
            self._asleep = True

    def _rouse(self) -> None:
        """Something happened to the car: it is awake and its idle timer restarts."""
        self._asleep, self._wake_at, self._last_activity = False, None, self._t

    def _drive(self, dt: float) -> float:
        """Follow the route for `dt` seconds; returns the drive power in kW."""
        assert self._driver is not None
        spec, driver = self.spec, self._driver
        moved_m, speed_ms, accel_ms2 = driver.step(
            dt, accel_ms2=spec.max_accel_ms2, decel_ms2=spec.max_decel_ms2
        )
        self._odometer_km += moved_m / 1000
        self._service_km += moved_m / 1000
        (self._lat, self._lon), self._heading = driver.position, driver.heading_deg
        return spec.drive_power_kw(speed_ms=speed_ms, accel_ms2=accel_ms2)

    def _update_climate(self, dt: float) -> None:
        """Relax the cabin exponentially towards the setpoint (climate on) or outside."""
        spec = self.spec
        if self._climate_on:
            target, tau = self._driver_c, spec.cabin_tau_on_s
            # Work grows with the gap still to close and the gap held against the outside.
            gap_in, gap_out = abs(target - self._inside_c), abs(target - self.outside_temp_c)
            self._hvac_kw = min(spec.hvac_max_kw, 0.3 + 0.2 * gap_in + 0.08 * gap_out)
        else:
            target, tau, self._hvac_kw = self.outside_temp_c, spec.cabin_tau_off_s, 0.0
        self._inside_c = target + (self._inside_c - target) * math.exp(-dt / tau)

    # ------------------------------------------------------------------- charging

    def _update_charging(self, t: float) -> None:
        """Decide whether current flows from `t` on, and how much."""
        soc = self._soc
        if self._complete and soc < self._limit - COMPLETE_HYSTERESIS:
            self._complete = False
        want = (
            self._plugged
            and self._supply_kw > 0
            and not self._complete
            and soc < self._limit
            and not self._stopped
            and (self._user_started or not self._waiting())
        )
        if want and not self._charging:
            self._charge_since = t
            self._rouse()  # a schedule may start charging a sleeping car
        self._charging = want
        kw = self.spec.charge_power_kw(soc=soc, dc=self._dc, supply_kw=self._supply_kw)
        self._charge_kw = kw if want and t - self._charge_since >= STARTING_S else 0.0

    def _waiting(self) -> bool:
        """Whether a schedule holds charging back."""
        return self._pending or (bool(self._applicable_schedules()) and not self._sched_on)

    def _held_back(self) -> bool:
        """Whether a schedule is what keeps this car, which wants charge, from charging."""
        by_user = self._user_started or self._stopped or self._charging
        return self._waiting() and not by_user and self._soc < self._limit

    def _charging_state(self) -> str:
        if not self._plugged:
            return "Disconnected"
        if self._supply_kw <= 0:
            return "NoPower"
        if self._charging:
            return "Charging" if self._charge_kw > 0 else "Starting"
        return "Complete" if self._complete or self._soc >= self._limit else "Stopped"

    def _minutes_to_limit(self) -> float:
        return self.spec.minutes_to_soc(
            soc=self._soc,
            target=self._limit,
            dc=self._dc,
            supply_kw=self._supply_kw,
            load_kw=self.spec.aux_kw + self._hvac_kw,
        )

    def _pending_applies(self) -> bool:
        """Whether plugging in now should wait for scheduled charging or off-peak hours."""
        off_peak_today = not self._off_peak_weekdays or _weekday(self._t) < 5
        return self._start_at_on or (self._depart_on and self._off_peak and off_peak_today)

    def _applicable_schedules(self) -> list[ChargeSchedule]:
        """Enabled schedules for where the car is (those without a location apply anywhere)."""
        here = (self._lat, self._lon)

        def applies(s: ChargeSchedule) -> bool:
            where = (s.latitude, s.longitude)
            return where == (0.0, 0.0) or distance_m(here, where) <= SCHEDULE_RADIUS_M

        return [s for s in self._schedules if s.enabled and applies(s)]

    def _schedule_window_open(self, t: float) -> bool:
        """Whether a charge schedule lets current flow at `t` (at plug-in, after edits)."""
        minute = (t % DAY_S) / 60
        for s in self._applicable_schedules():
            if s.start_enabled and s.end_enabled:
                wraps = s.end_time < s.start_time
                inside = (s.start_time <= minute) + (minute < s.end_time) >= (1 if wraps else 2)
                began = t - DAY_S if wraps and minute < s.end_time else t
                if inside and _day_matches(s.days_of_week, began):
                    return True
            elif s.end_enabled:  # only an end: charge now, stop at end_time
                return True
        return False

    def _run_schedules(self, t0: float, t1: float) -> None:
        """Fire the time-of-day events that fall in (t0, t1]."""
        # A scheduled start also lifts an earlier charge_stop: it is a fresh start.
        if self._start_at_on and self._pending and _crossed(t0, t1, self._start_at_min):
            self._pending = self._stopped = False
        if self._depart_on:
            if self._precondition and (_weekday(t1) < 5 or not self._precondition_weekdays):
                if _crossed(t0, t1, self._depart_min - PRECONDITION_LEAD_MIN):
                    self._climate_on = self._precond_by_schedule = True
                    self._rouse()
                end = self._depart_min + PRECONDITION_TAIL_MIN
                if self._precond_by_schedule and _crossed(t0, t1, end):
                    self._climate_on = self._precond_by_schedule = False
            # Off-peak: start once the time left before the off-peak end only just suffices.
            if self._off_peak and self._pending and math.floor(t0 / 60) != math.floor(t1 / 60):
                left = (self._off_peak_end_min - (t1 % DAY_S) / 60) % 1440
                if left <= self._minutes_to_limit() + OFF_PEAK_MARGIN_MIN:
                    self._pending = False
        for s in self._applicable_schedules():
            if (
                s.start_enabled
                and _crossed(t0, t1, s.start_time)
                and _day_matches(s.days_of_week, t1)
            ):
                self._sched_on, self._stopped = True, False
                if s.one_time and not s.end_enabled:
                    self._schedules.remove(s)
            began = t1 - DAY_S if s.start_enabled and s.end_time < s.start_time else t1
            if (
                s.end_enabled
                and _crossed(t0, t1, s.end_time)
                and _day_matches(s.days_of_week, began)
            ):
                self._sched_on = False
                if s.one_time and s in self._schedules:  # done: delete it, stay stopped
                    self._schedules.remove(s)
                    self._stopped = True

    # ------------------------------------------------------------------- commands

    def apply(self, name: str, params: Params) -> CommandOutcome:
        """Carry out Tesla command `name`; any command counts as activity."""
        if self._asleep:
            return CommandOutcome(False, "vehicle_asleep")
        handler: Callable[[Params], CommandOutcome] | None = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return CommandOutcome(False, "unknown_command")
        self._last_activity = self._t
        outcome = handler(params)
        self._update_charging(self._t)
        return outcome

    def _cmd_door_lock(self, params: Params) -> CommandOutcome:
        self._locked = True
        return OK

    def _cmd_door_unlock(self, params: Params) -> CommandOutcome:
        self._locked = False
        return OK

    def _cmd_honk_horn(self, params: Params) -> CommandOutcome:
        return OK

    _cmd_flash_lights = _cmd_honk_horn

    def _cmd_remote_start_drive(self, params: Params) -> CommandOutcome:
        if self._driver is not None:
            return CommandOutcome(False, "already_driving")
        self._remote_start_until = self._t + REMOTE_START_S
        return OK

    def _cmd_auto_conditioning_start(self, params: Params) -> CommandOutcome:
        if self._soc <= EMPTY_SOC:
            return CommandOutcome(False, "low_battery")
        self._climate_on = True
        return OK

    def _cmd_auto_conditioning_stop(self, params: Params) -> CommandOutcome:
        self._climate_on = self._precond_by_schedule = False
        return OK

    def _cmd_set_temps(self, params: Params) -> CommandOutcome:
        self._driver_c = _clamp(_num(params, "driver_temp", self._driver_c), 15.0, 28.0)
        self._passenger_c = _clamp(_num(params, "passenger_temp", self._driver_c), 15.0, 28.0)
        return OK

    def _cmd_charge_start(self, params: Params) -> CommandOutcome:
        if not self._plugged:
            return CommandOutcome(False, "cable_not_connected")
        if self._charging:
            return CommandOutcome(False, "is_charging")
        if self._soc >= self._limit:
            return CommandOutcome(False, "complete")
        if self._supply_kw <= 0:
            return CommandOutcome(False, "no_power")
        self._user_started, self._stopped, self._complete = True, False, False
        return OK

    def _cmd_charge_stop(self, params: Params) -> CommandOutcome:
        if not self._charging:
            return CommandOutcome(False, "not_charging")
        self._user_started, self._stopped = False, True
        return OK

    def _cmd_set_charge_limit(self, params: Params) -> CommandOutcome:
        percent = round(_clamp(_num(params, "percent", self._limit), 50.0, 100.0))
        if percent == self._limit:
            return CommandOutcome(False, "already_set")
        self._limit, self._complete = percent, False
        return OK

    def _cmd_charge_port_door_open(self, params: Params) -> CommandOutcome:
        self._port_open = True
        return OK

    def _cmd_charge_port_door_close(self, params: Params) -> CommandOutcome:
        if self._plugged:
            return CommandOutcome(False, "cable_connected")
        self._port_open = False
        return OK

    def _cmd_set_scheduled_charging(self, params: Params) -> CommandOutcome:
        self._start_at_on = _flag(params, "enable", True)
        self._start_at_min = int(_num(params, "time", self._start_at_min)) % 1440
        if self._start_at_on:  # like the app: scheduled charging and departure exclude each other
            self._depart_on = False
        self._pending = self._plugged and self._pending_applies()
        return OK

    def _cmd_set_scheduled_departure(self, params: Params) -> CommandOutcome:
        self._depart_on = _flag(params, "enable", True)
        self._depart_min = int(_num(params, "departure_time", self._depart_min)) % 1440
        self._precondition = _flag(params, "preconditioning_enabled", self._precondition)
        self._precondition_weekdays = _flag(params, "preconditioning_weekdays_only", False)
        self._off_peak = _flag(params, "off_peak_charging_enabled", self._off_peak)
        self._off_peak_weekdays = _flag(params, "off_peak_charging_weekdays_only", False)
        end = int(_num(params, "end_off_peak_time", self._off_peak_end_min))
        self._off_peak_end_min = end % 1440
        if self._depart_on:
            self._start_at_on = False
        self._pending = self._plugged and self._pending_applies()
        return OK

    def _cmd_add_charge_schedule(self, params: Params) -> CommandOutcome:
        sid = int(_num(params, "id", max((s.id for s in self._schedules), default=0) + 1))
        schedule = ChargeSchedule(
            id=sid,
            name=str(params.get("name") or ""),
            days_of_week=_parse_days(params.get("days_of_week", "All")),
            enabled=_flag(params, "enabled", True),
            start_enabled=_flag(params, "start_enabled", params.get("start_time") is not None),
            start_time=int(_num(params, "start_time", 0)) % 1440,
            end_enabled=_flag(params, "end_enabled", params.get("end_time") is not None),
            end_time=int(_num(params, "end_time", 0)) % 1440,
            one_time=_flag(params, "one_time", False),
            latitude=_num(params, "lat", 0.0),
            longitude=_num(params, "lon", 0.0),
        )
        self._schedules = [s for s in self._schedules if s.id != sid] + [schedule]
        self._sched_on = self._schedule_window_open(self._t)
        return OK

    def _cmd_remove_charge_schedule(self, params: Params) -> CommandOutcome:
        sid = int(_num(params, "id", -1))
        if all(s.id != sid for s in self._schedules):
            return CommandOutcome(False, "not_found")
        self._schedules = [s for s in self._schedules if s.id != sid]
        self._sched_on = self._schedule_window_open(self._t)
        return OK

    # ------------------------------------------------------------------ telemetry

    def signals(self) -> dict[str, object]:
        """Current telemetry, flat, keyed "section.field" with Tesla's names and units."""
        spec, soc, t, driving = self.spec, self._soc, self._t, self._driver is not None
        rated_mi = self._miles_for(self._energy_kwh)
        level = round(soc)
        minutes = self._minutes_to_limit() if self._charging else 0.0
        minutes = 0.0 if math.isinf(minutes) else minutes
        ac, dc = self._plugged and not self._dc, self._plugged and self._dc
        phases = 1 if self._supply_kw <= 3.7 else 3
        volts = (230 if ac else round(340 + 0.6 * soc)) if self._charge_kw > 0 else 0
        amps = round(self._charge_kw * 1000 / (volts * (phases if ac else 1))) if volts else 0
        start_at = self._start_at_on
        mode = "StartAt" if start_at else "DepartBy" if self._depart_on else "Off"
        added_mi = round(self._miles_for(self._energy_added), 1)
        out = spec.fixed_signals()

        def put(section: str, **fields: object) -> None:
            out.update({f"{section}.{key}": value for key, value in fields.items()})

        put(
            "charge_state",
            battery_level=level,
            usable_battery_level=max(0, level - (2 if self.outside_temp_c < 0 else 0)),
            battery_range=round(rated_mi, 2),
            est_battery_range=round(rated_mi * EST_RANGE_FACTOR, 2),
            ideal_battery_range=round(rated_mi, 2),
            energy_remaining=round(self._energy_kwh, 2),
            lifetime_energy_used=round(self._lifetime_kwh, 2),
            charging_state=self._charging_state(),
            charge_limit_soc=self._limit,
            charge_enable_request=not self._stopped,
            charger_power=round(self._charge_kw),
            charger_voltage=volts,
            charger_actual_current=amps,
            charger_phases=phases if ac and self._charge_kw > 0 else None,
            charger_pilot_current=round(self._supply_kw * 1000 / (230 * phases)) if ac else 0,
            charge_rate=round(self._miles_for(self._charge_kw * spec.charge_eff(dc=self._dc)), 1),
            charge_energy_added=round(self._energy_added, 2),
            charge_miles_added_rated=added_mi,
            charge_miles_added_ideal=added_mi,
            minutes_to_full_charge=round(minutes),
            time_to_full_charge=round(minutes / 60, 2),
            charge_port_door_open=self._port_open,
            charge_port_latch="Engaged" if self._plugged else "Disengaged",
            conn_charge_cable="IEC" if self._plugged else "<invalid>",
            fast_charger_present=dc,
            fast_charger_brand="Tesla" if dc else "<invalid>",
            fast_charger_type="Supercharger" if dc else "ACSingleWireCAN" if ac else "<invalid>",
            scheduled_charging_mode=mode,
            scheduled_charging_pending=self._plugged and self._held_back(),
            scheduled_charging_start_time=_next_at(t, self._start_at_min) if start_at else None,
            scheduled_charging_start_time_app=self._start_at_min,
            scheduled_departure_time=_next_at(t, self._depart_min) if self._depart_on else None,
            scheduled_departure_time_minutes=self._depart_min,
            preconditioning_enabled=self._depart_on and self._precondition,
            preconditioning_times="weekdays" if self._precondition_weekdays else "all_week",
            off_peak_charging_enabled=self._depart_on and self._off_peak,
            off_peak_charging_times="weekdays" if self._off_peak_weekdays else "all_week",
            off_peak_hours_end_time=self._off_peak_end_min,
        )
        put(
            "charge_schedule_data",
            charge_schedules=[dataclasses.asdict(s) for s in self._schedules],
        )
        on = self._climate_on
        put(
            "climate_state",
            inside_temp=round(self._inside_c, 1),
            outside_temp=round(self.outside_temp_c, 1),
            driver_temp_setting=round(self._driver_c, 1),
            passenger_temp_setting=round(self._passenger_c, 1),
            is_climate_on=on,
            is_auto_conditioning_on=on,
            is_preconditioning=on and not driving,
            remote_heater_control_enabled=on,
            fan_status=round(10 * self._hvac_kw / spec.hvac_max_kw) if on else 0,
        )
        lat, lon = round(self._lat, 6), round(self._lon, 6)
        speed_mph = self._driver.speed_ms * 3.6 / KM_PER_MILE if self._driver else None
        put(
            "drive_state",
            latitude=lat,
            longitude=lon,
            native_latitude=lat,
            native_longitude=lon,
            heading=round(self._heading) % 360,
            speed=None if speed_mph is None else round(speed_mph),
            shift_state="D" if driving else "P",
            power=round(self._power_kw),
            gps_as_of=int(t),
        )
        put(
            "vehicle_state",
            locked=self._locked,
            odometer=round(self._odometer_km / KM_PER_MILE, 2),
            vehicle_name=self.name,
            is_user_present=self._user_present,
            center_display_state=2 if self._user_present else 0,
            remote_start=t < self._remote_start_until,
            service_distance_km=round(self._service_km, 1),
            last_service_at=int(self._service_at),
            **{f"tpms_pressure_{w}": round(bar, 2) for w, bar in self._tyres.items()},
            **{f"tpms_soft_warning_{w}": bar < SOFT_WARNING_BAR for w, bar in self._tyres.items()},
        )
        return out

    def _miles_for(self, kwh: float) -> float:
        """Rated miles that `kwh` of battery energy is worth."""
        return kwh * 1000 / self.spec.efficiency_wh_per_km / KM_PER_MILE


def _crossed(t0: float, t1: float, minute: int) -> bool:
    """Whether minute-of-day `minute` (UTC) falls in (t0, t1]; steps are ≤ 1 s."""
    instant = math.floor(t1 / DAY_S) * DAY_S + (minute % 1440) * 60
    return t0 < instant <= t1 or t0 < instant - DAY_S <= t1


def _next_at(t: float, minute: int) -> int:
    """Epoch seconds of the next occurrence of minute-of-day `minute` after `t`."""
    instant = math.floor(t / DAY_S) * DAY_S + minute * 60
    return int(instant if instant > t else instant + DAY_S)


def _weekday(t: float) -> int:
    """Monday = 0 ... Sunday = 6 (the epoch began on a Thursday)."""
    return (math.floor(t / DAY_S) + 3) % 7


def _day_matches(mask: int, t: float) -> bool:
    return bool(mask & (1 << ((_weekday(t) + 1) % 7)))  # Sunday is bit 0


def _parse_days(value: object) -> int:
    """Tesla's days_of_week: a bitmask, "All", "Weekdays" or "Monday,Tuesday"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value & ALL_DAYS
    text = str(value).strip().lower()
    if text.isdigit():
        return int(text) & ALL_DAYS
    if text == "weekdays":
        return WEEKDAYS
    mask = 0
    for part in text.split(","):
        mask |= DAY_BITS.get(part.strip()[:3], 0)
    return mask or ALL_DAYS


def _num(params: Params, key: str, default: float) -> float:
    value = params.get(key)
    if isinstance(value, int | float | str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def _flag(params: Params, key: str, default: bool) -> bool:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
