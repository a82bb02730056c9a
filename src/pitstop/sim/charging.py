"""Charging: the cable and the charger behind it, the port door, the charge limit, and whether
current flows into the battery and how much.

Plugged in below the limit, a car charges unless a schedule holds it back (`pending` for the
scheduled charging mode, the car's charge schedules for the rest). charge_start beats schedules;
charge_stop, or a one-time schedule that has run, holds charging until charge_start or the next
plug-in. A charge that reached the limit is "Complete" and resumes only after real drain.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pitstop.sim.commands import OK, CommandOutcome, Params, clamp, number
from pitstop.sim.spec import CarSpec

STARTING_S = 5.0  # charging_state "Starting" before current flows
COMPLETE_HYSTERESIS = 2.0  # %: a completed charge resumes only after this much drain
MIN_LIMIT, MAX_LIMIT = 50, 100  # charge_limit_soc_min and _max, %


class Charging:
    def __init__(self, spec: CarSpec) -> None:
        self.spec = spec
        self.plugged = self.dc = self.port_open = False
        self.supply_kw = 0.0  # what the charger offers
        self.charging = False  # the car wants current ("Starting" or "Charging")
        self.charge_kw = 0.0  # drawn from the grid
        self.energy_added = 0.0  # kWh into the battery since plug-in
        self.limit = 80  # %
        self.user_started = self.stopped = False  # charge_start / charge_stop in force
        self.complete = False  # reached the limit; resumes only after real drain
        self.pending = False  # waiting for the scheduled charging start or off-peak hours
        self._since = 0.0  # when current was last asked for

    def plug_in(self, *, dc: bool, power_kw: float | None) -> None:
        """Connect a cable to a charger offering `power_kw` (default: what the car takes)."""
        self.plugged, self.dc, self.port_open = True, dc, True
        default_kw = self.spec.max_dc_kw if dc else self.spec.max_ac_kw
        self.supply_kw = max(0.0, default_kw if power_kw is None else power_kw)
        self.energy_added = 0.0
        self.user_started = self.stopped = self.complete = False

    def unplug(self) -> None:
        """Remove the cable; the charge port door closes behind it."""
        self.plugged = self.port_open = self.charging = self.pending = False
        self.charge_kw = 0.0

    def update(self, t: float, *, soc: float, waiting: Callable[[], bool]) -> bool:
        """Decide whether current flows from `t` on, and how much, at `soc` (%), while
        `waiting()` says whether a schedule holds charging back. True when charging begins."""
        if self.complete and soc < self.limit - COMPLETE_HYSTERESIS:
            self.complete = False
        want = (
            self.plugged
            and self.supply_kw > 0
            and not self.complete
            and soc < self.limit
            and not self.stopped
            and (self.user_started or not waiting())
        )
        begins = want and not self.charging
        if begins:
            self._since = t
        self.charging = want
        kw = self.spec.charge_power_kw(soc=soc, dc=self.dc, supply_kw=self.supply_kw)
        self.charge_kw = kw if want and t - self._since >= STARTING_S else 0.0
        return begins

    def battery_kw(self, load_kw: float) -> float:
        """Net power into the battery while the car uses `load_kw`. Plugged in and not
        charging, the car runs on shore power and spares the battery."""
        if self.plugged and self.supply_kw > 0 and not self.charging:
            return 0.0
        return self.charge_kw * self.spec.charge_eff(dc=self.dc) - load_kw

    def store(self, into_kw: float, dt: float, energy_kwh: float) -> float:
        """Count `into_kw` for `dt` s as charged and stop exactly at the limit; returns the
        battery's energy (kWh), `energy_kwh` or the limit's."""
        self.energy_added += max(0.0, into_kw) * dt / 3600
        full_kwh = self.spec.battery_kwh * self.limit / 100
        if energy_kwh < full_kwh:
            return energy_kwh
        self.complete, self.charging, self.charge_kw, self.user_started = True, False, 0.0, False
        return full_kwh

    def held_back(self, *, soc: float, waiting: bool) -> bool:
        """Whether a schedule (`waiting`) is what keeps a car that wants charge from charging."""
        by_user = self.user_started or self.stopped or self.charging
        return waiting and not by_user and soc < self.limit

    def state(self, soc: float) -> str:
        """Tesla's charging_state."""
        if not self.plugged:
            return "Disconnected"
        if self.supply_kw <= 0:
            return "NoPower"
        if self.charging:
            return "Charging" if self.charge_kw > 0 else "Starting"
        return "Complete" if self.complete or soc >= self.limit else "Stopped"

    def minutes_to_limit(self, *, soc: float, load_kw: float) -> float:
        return self.spec.minutes_to_soc(
            soc=soc, target=self.limit, dc=self.dc, supply_kw=self.supply_kw, load_kw=load_kw
        )

    # ------------------------------------------------------------------- commands

    def start(self, *, soc: float) -> CommandOutcome:
        """charge_start: charge now, whatever the schedules say."""
        if not self.plugged:
            return CommandOutcome(False, "cable_not_connected")
        if self.charging:
            return CommandOutcome(False, "is_charging")
        if soc >= self.limit:
            return CommandOutcome(False, "complete")
        if self.supply_kw <= 0:
            return CommandOutcome(False, "no_power")
        self.user_started, self.stopped, self.complete = True, False, False
        return OK

    def stop(self) -> CommandOutcome:
        """charge_stop: stop, and stay stopped until charge_start or the next plug-in."""
        if not self.charging:
            return CommandOutcome(False, "not_charging")
        self.user_started, self.stopped = False, True
        return OK

    def set_limit(self, params: Params) -> CommandOutcome:
        """set_charge_limit: `percent`."""
        percent = round(clamp(number(params, "percent", self.limit), MIN_LIMIT, MAX_LIMIT))
        if percent == self.limit:
            return CommandOutcome(False, "already_set")
        self.limit, self.complete = percent, False
        return OK

    def open_port(self) -> CommandOutcome:
        self.port_open = True
        return OK

    def close_port(self) -> CommandOutcome:
        if self.plugged:
            return CommandOutcome(False, "cable_connected")
        self.port_open = False
        return OK

    # ------------------------------------------------------------------ telemetry

    def signals(self, *, soc: float, load_kw: float) -> dict[str, object]:
        """charge_state's charging fields; `load_kw`: what the car uses meanwhile."""
        spec, kw = self.spec, self.charge_kw
        minutes = self.minutes_to_limit(soc=soc, load_kw=load_kw) if self.charging else 0.0
        minutes = 0.0 if math.isinf(minutes) else minutes
        ac, dc = self.plugged and not self.dc, self.plugged and self.dc
        phases = 1 if self.supply_kw <= 3.7 else 3
        volts = (230 if ac else round(340 + 0.6 * soc)) if kw > 0 else 0
        amps = round(kw * 1000 / (volts * (phases if ac else 1))) if volts else 0
        added_mi = round(spec.rated_miles(self.energy_added), 1)
        return {
            "charging_state": self.state(soc),
            "charge_limit_soc": self.limit,
            "charge_enable_request": not self.stopped,
            "charger_power": round(kw),
            "charger_voltage": volts,
            "charger_actual_current": amps,
            "charger_phases": phases if ac and kw > 0 else None,
            "charger_pilot_current": round(self.supply_kw * 1000 / (230 * phases)) if ac else 0,
            "charge_rate": round(spec.rated_miles(kw * spec.charge_eff(dc=self.dc)), 1),
            "charge_energy_added": round(self.energy_added, 2),
            "charge_miles_added_rated": added_mi,
            "charge_miles_added_ideal": added_mi,
            "minutes_to_full_charge": round(minutes),
            "time_to_full_charge": round(minutes / 60, 2),
            "charge_port_door_open": self.port_open,
            "charge_port_latch": "Engaged" if self.plugged else "Disengaged",
            "conn_charge_cable": "IEC" if self.plugged else "<invalid>",
            "fast_charger_present": dc,
            "fast_charger_brand": "Tesla" if dc else "<invalid>",
            "fast_charger_type": "Supercharger" if dc else "ACSingleWireCAN" if ac else "<invalid>",
        }
