"""A simulated electric car: deterministic physics behind Tesla's vehicle_data names.

The model has no clock and does no I/O: its owner calls `advance_to()` with the current
time and the model integrates in steps of at most one simulated second, aligned to whole
epoch seconds, so one long jump and many short calls land on (almost) the same states.
All randomness comes from the injected `random.Random` and is drawn per event (a new road
segment, a red light), never per step.

The car is made of parts, a module each: what it is built like (spec), its driver and the
roads (routes), the cabin (cabin), charging (charging), and what times the charging: the
scheduled charging mode (scheduled_charging) and charge schedules (charge_schedules), both in
the car's local time (local_time). This module holds the battery, where the car is, its body
and its sleep; it steps the physics and hands commands and telemetry to the parts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

from pitstop.sim.cabin import Cabin
from pitstop.sim.charge_schedules import ChargeSchedule, ChargeSchedules
from pitstop.sim.charging import Charging
from pitstop.sim.commands import OK, CommandOutcome, Params, number
from pitstop.sim.routes import ROUTES, LatLon, Route, RouteFollower
from pitstop.sim.scheduled_charging import ScheduledCharging
from pitstop.sim.spec import KM_PER_MILE, MODEL_3, CarSpec

__all__ = ["CarModel"]

REMOTE_START_S = 120.0  # remote_start_drive allows keyless driving this long
EMPTY_SOC = 0.5  # %: below this the car will not move and climate shuts off
TYRES = ("fl", "fr", "rl", "rr")
SOFT_WARNING_BAR = 2.4  # tyre pressure below which TPMS warns
EST_RANGE_FACTOR = 0.9  # estimated range: rated, less real-world losses


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
        # Battery.
        self._energy_kwh = spec.battery_kwh * battery_level / 100
        self._lifetime_kwh = 0.0
        self._power_kw = 0.0  # out of the battery; negative when charging or regenerating
        # Where it is.
        self._odometer_km = odometer_km
        self._lat, self._lon, self._heading = latitude, longitude, 0.0
        self._driver: RouteFollower | None = None  # set while driving
        # Body.
        self._locked, self._user_present, self._remote_start_until = True, False, 0.0
        self._tyres = {w: round(2.9 + self._rng.uniform(-0.05, 0.05), 2) for w in TYRES}
        self._service_km, self._service_at = 0.0, self._t
        # Parts.
        self._cabin = Cabin(spec, temp_c=outside_temp_c)
        self._charging = Charging(spec)
        self._scheduled = ScheduledCharging()
        self._schedules = ChargeSchedules()
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
        self._charging.plug_in(dc=dc, power_kw=power_kw)
        self._charging.pending = self._scheduled.waits(self._t)
        self._schedules.reopen(self._t, self._here)
        self._update_charging(self._t)

    def unplug(self) -> None:
        """Remove the cable; the charge port door closes behind it."""
        self._rouse()
        self._charging.unplug()

    def start_driving(self, route: str | Route) -> None:
        """Shift to D and follow `route` (a ROUTES name or a Route) round and round.

        The car starts from the route's waypoint nearest to it, unplugging if needed.
        """
        chosen = ROUTES[route] if isinstance(route, str) else route
        if self._charging.plugged:
            self.unplug()
        self._rouse()
        self._driver = RouteFollower(chosen, start_near=self._here, rng=self._rng)
        (self._lat, self._lon), self._heading = self._driver.position, self._driver.heading_deg
        self._locked, self._user_present, self._cabin.preconditioning = True, True, False

    def park(self) -> None:
        """Shift to P; the driver walks away, the car locks and climate goes off."""
        self._driver, self._user_present, self._locked = None, False, True
        self._cabin.climate_off()
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
        busy = self._driver is not None or self._charging.charging or self._cabin.climate_on
        return not busy and self._t - self._last_activity >= self.sleep_timeout_s

    @property
    def _soc(self) -> float:
        return 100 * self._energy_kwh / self.spec.battery_kwh

    @property
    def _here(self) -> LatLon:
        return self._lat, self._lon

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
        self._cabin.update(dt, outside_c=self.outside_temp_c)
        idle_kw = 0.0 if driving else spec.sleep_w / 1000 if self._asleep else spec.aux_kw
        load_kw = drive_kw + self._cabin.hvac_kw + idle_kw
        into_kw = self._charging.battery_kw(load_kw)
        self._power_kw = -into_kw
        self._lifetime_kwh += max(0.0, load_kw) * dt / 3600
        self._energy_kwh = max(0.0, self._energy_kwh + into_kw * dt / 3600)
        if self._charging.charging:
            self._energy_kwh = self._charging.store(into_kw, dt, self._energy_kwh)
        if self._soc <= EMPTY_SOC:
            self._cabin.climate_on = False
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

    # ---------------------------------------------------- charging and its schedules

    def _update_charging(self, t: float) -> None:
        """Decide whether current flows from `t` on, and how much."""
        if self._charging.update(t, soc=self._soc, waiting=self._waiting):
            self._rouse()  # a schedule may start charging a sleeping car

    def _waiting(self) -> bool:
        """Whether a schedule holds charging back."""
        return self._charging.pending or self._schedules.hold_back(self._here)

    def _minutes_to_limit(self) -> float:
        load_kw = self.spec.aux_kw + self._cabin.hvac_kw
        return self._charging.minutes_to_limit(soc=self._soc, load_kw=load_kw)

    def _run_schedules(self, t0: float, t1: float) -> None:
        """Fire the time-of-day events that fall in (t0, t1]."""
        charging, scheduled, cabin = self._charging, self._scheduled, self._cabin
        if scheduled.start_at or scheduled.depart_by:
            # A scheduled start also lifts an earlier charge_stop: it is a fresh start.
            if charging.pending and scheduled.start_time_in(t0, t1):
                charging.pending = charging.stopped = False
            if scheduled.preconditioning_starts_in(t0, t1):
                cabin.climate_on = cabin.preconditioning = True
                self._rouse()
            if cabin.preconditioning and scheduled.preconditioning_ends_in(t0, t1):
                cabin.climate_off()
            if charging.pending and scheduled.off_peak_start_in(t0, t1, self._minutes_to_limit):
                charging.pending = False
        if self._schedules:
            stopped = self._schedules.run(t0, t1, self._here)
            if stopped is not None:
                charging.stopped = stopped

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
        self._cabin.climate_on = True
        return OK

    def _cmd_auto_conditioning_stop(self, params: Params) -> CommandOutcome:
        self._cabin.climate_off()
        return OK

    def _cmd_set_temps(self, params: Params) -> CommandOutcome:
        self._cabin.set_temps(params)
        return OK

    def _cmd_charge_start(self, params: Params) -> CommandOutcome:
        return self._charging.start(soc=self._soc)

    def _cmd_charge_stop(self, params: Params) -> CommandOutcome:
        return self._charging.stop()

    def _cmd_set_charge_limit(self, params: Params) -> CommandOutcome:
        return self._charging.set_limit(params)

    def _cmd_charge_port_door_open(self, params: Params) -> CommandOutcome:
        return self._charging.open_port()

    def _cmd_charge_port_door_close(self, params: Params) -> CommandOutcome:
        return self._charging.close_port()

    def _cmd_set_scheduled_charging(self, params: Params) -> CommandOutcome:
        self._scheduled.set_start_at(params)
        self._charging.pending = self._charging.plugged and self._scheduled.waits(self._t)
        return OK

    def _cmd_set_scheduled_departure(self, params: Params) -> CommandOutcome:
        self._scheduled.set_depart_by(params)
        self._charging.pending = self._charging.plugged and self._scheduled.waits(self._t)
        return OK

    def _cmd_add_charge_schedule(self, params: Params) -> CommandOutcome:
        try:
            schedule = ChargeSchedule.from_params(params, default_id=self._schedules.next_id())
        except ValueError:
            return CommandOutcome(False, "invalid_days_of_week")
        self._schedules.put(schedule)
        self._schedules.reopen(self._t, self._here)
        return OK

    def _cmd_remove_charge_schedule(self, params: Params) -> CommandOutcome:
        if not self._schedules.remove(int(number(params, "id", -1))):
            return CommandOutcome(False, "not_found")
        self._schedules.reopen(self._t, self._here)
        return OK

    # ------------------------------------------------------------------ telemetry

    def signals(self) -> dict[str, object]:
        """Current telemetry, flat, keyed "section.field" with Tesla's names and units."""
        spec, soc, t, driving = self.spec, self._soc, self._t, self._driver is not None
        charging = self._charging
        rated_mi = spec.rated_miles(self._energy_kwh)
        level = round(soc)
        pending = charging.plugged and charging.held_back(soc=soc, waiting=self._waiting())
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
            **charging.signals(soc=soc, load_kw=spec.aux_kw + self._cabin.hvac_kw),
            **self._scheduled.signals(t, pending=pending),
        )
        put("charge_schedule_data", charge_schedules=self._schedules.signals())
        put("climate_state", **self._cabin.signals(outside_c=self.outside_temp_c, driving=driving))
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
