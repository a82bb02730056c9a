"""The cabin: its air temperature and the climate control that heats or cools it.

Temperatures in °C. With climate on, the cabin relaxes exponentially towards the driver's
setpoint and the heat pump draws power that grows with the gap still to close and the gap held
against the outside; with climate off it drifts towards the outside temperature for free.
"""

from __future__ import annotations

import math

from pitstop.sim.commands import Params, clamp, number
from pitstop.sim.spec import CarSpec

MIN_TEMP_C, MAX_TEMP_C = 15.0, 28.0  # the setpoints the car accepts


class Cabin:
    def __init__(self, spec: CarSpec, *, temp_c: float) -> None:
        self.spec = spec
        self.inside_c, self.driver_c, self.passenger_c = temp_c, 21.0, 21.0
        self.climate_on = False
        self.preconditioning = False  # climate on because a scheduled departure is near
        self.hvac_kw = 0.0

    def climate_off(self) -> None:
        self.climate_on = self.preconditioning = False

    def set_temps(self, params: Params) -> None:
        """set_temps: `driver_temp`, `passenger_temp` (the driver's if absent)."""
        self.driver_c = clamp(number(params, "driver_temp", self.driver_c), MIN_TEMP_C, MAX_TEMP_C)
        passenger = number(params, "passenger_temp", self.driver_c)
        self.passenger_c = clamp(passenger, MIN_TEMP_C, MAX_TEMP_C)

    def update(self, dt: float, *, outside_c: float) -> None:
        """Relax the cabin for `dt` seconds towards the setpoint (climate on) or outside."""
        spec = self.spec
        if self.climate_on:
            target, tau = self.driver_c, spec.cabin_tau_on_s
            gap_in, gap_out = abs(target - self.inside_c), abs(target - outside_c)
            self.hvac_kw = min(spec.hvac_max_kw, 0.3 + 0.2 * gap_in + 0.08 * gap_out)
        else:
            target, tau, self.hvac_kw = outside_c, spec.cabin_tau_off_s, 0.0
        self.inside_c = target + (self.inside_c - target) * math.exp(-dt / tau)

    def signals(self, *, outside_c: float, driving: bool) -> dict[str, object]:
        """climate_state, less what never changes (CarSpec.fixed_signals)."""
        on = self.climate_on
        return {
            "inside_temp": round(self.inside_c, 1),
            "outside_temp": round(outside_c, 1),
            "driver_temp_setting": round(self.driver_c, 1),
            "passenger_temp_setting": round(self.passenger_c, 1),
            "is_climate_on": on,
            "is_auto_conditioning_on": on,
            "is_preconditioning": on and not driving,
            "remote_heater_control_enabled": on,
            "fan_status": round(10 * self.hvac_kw / self.spec.hvac_max_kw) if on else 0,
        }
