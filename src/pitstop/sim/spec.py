"""What a simulated car is made of: its parameters and the physics curves they imply."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

KM_PER_MILE = 1.609344
AIR_DENSITY = 1.225  # kg/m³, sea level at 15 °C
GRAVITY = 9.81  # m/s²
RATED_SPEED_MS = 50 / 3.6  # the steady speed at which efficiency_wh_per_km holds

# DC fast-charge taper as (state of charge %, fraction of max_dc_kw): cold-ish cells at the
# bottom, full power around 10-25 %, then falling steadily as cell voltage rises, a trickle
# near full. Linear in between.
DC_TAPER: tuple[tuple[float, float], ...] = (
    (0.0, 0.6),
    (10.0, 1.0),
    (25.0, 1.0),
    (50.0, 0.5),
    (80.0, 0.2),
    (90.0, 0.12),
    (100.0, 0.04),
)


@dataclass(frozen=True)
class CarSpec:
    """The parameters of a car model. Units are in the field names or comments."""

    car_type: str = "model3"  # Tesla's vehicle_config.car_type
    trim_badging: str = "74d"
    exterior_color: str = "MidnightSilver"
    wheel_type: str = "Pinwheel18"
    battery_kwh: float = 75.0  # usable capacity
    efficiency_wh_per_km: float = 150.0  # at ~50 km/h steady speed; used for rated range
    max_ac_kw: float = 11.0  # on-board charger (3 × 16 A × 230 V)
    max_dc_kw: float = 250.0  # peak fast-charge power
    mass_kg: float = 1900.0  # kerb weight plus a driver
    drag_area_m2: float = 0.51  # drag coefficient × frontal area (0.23 × 2.22 m²)
    rolling_coeff: float = 0.009
    drivetrain_eff: float = 0.9  # battery → wheels
    regen_eff: float = 0.65  # wheels → battery when braking
    max_regen_kw: float = 75.0
    aux_kw: float = 0.25  # computers, pumps and lights while awake
    sleep_w: float = 15.0  # vampire drain while asleep, W
    hvac_max_kw: float = 4.0  # heat pump at full blast
    cabin_tau_off_s: float = 1200.0  # cabin → outside temperature time constant
    cabin_tau_on_s: float = 240.0  # cabin → setpoint time constant with climate on
    max_accel_ms2: float = 2.0  # an unhurried driver, not launch mode
    max_decel_ms2: float = 2.5
    ac_charge_eff: float = 0.9  # grid → battery
    dc_charge_eff: float = 0.96

    def road_force_n(self, speed_ms: float) -> float:
        """Rolling resistance plus aerodynamic drag at `speed_ms` (m/s), in newtons."""
        rolling = self.rolling_coeff * self.mass_kg * GRAVITY
        return rolling + 0.5 * AIR_DENSITY * self.drag_area_m2 * speed_ms**2

    @property
    def loss_force_n(self) -> float:
        """Motor, inverter and gearbox losses, booked as a constant drag in newtons.

        Road load alone gives ~80 Wh/km at 50 km/h; sized so steady 50 km/h costs exactly
        efficiency_wh_per_km (1 Wh/km = 3.6 N), so rated range and real drain agree there.
        """
        v = RATED_SPEED_MS
        known = self.road_force_n(v) / self.drivetrain_eff + self.aux_kw * 1000 / v
        return max(0.0, self.efficiency_wh_per_km * 3.6 - known)

    def drive_power_kw(self, *, speed_ms: float, accel_ms2: float) -> float:
        """Battery power while in drive at `speed_ms` (m/s) and `accel_ms2` (m/s²), in kW.

        Negative when regenerative braking recovers more than the car uses. HVAC excluded.
        """
        if speed_ms <= 0:
            return self.aux_kw
        wheel_w = (self.mass_kg * accel_ms2 + self.road_force_n(speed_ms)) * speed_ms
        if wheel_w >= 0:
            battery_w = wheel_w / self.drivetrain_eff
        else:
            battery_w = max(wheel_w * self.regen_eff, -self.max_regen_kw * 1000)
        return (battery_w + self.loss_force_n * speed_ms) / 1000 + self.aux_kw

    def charge_power_kw(self, *, soc: float, dc: bool, supply_kw: float) -> float:
        """Grid-side power drawn at `soc` (%) from a charger offering `supply_kw` (kW)."""
        taper_kw = self.max_dc_kw * _interpolate(DC_TAPER, soc)
        car_kw = taper_kw if dc else min(self.max_ac_kw, taper_kw)
        return max(0.0, min(supply_kw, car_kw))

    def charge_eff(self, *, dc: bool) -> float:
        return self.dc_charge_eff if dc else self.ac_charge_eff

    def minutes_to_soc(
        self, *, soc: float, target: float, dc: bool, supply_kw: float, load_kw: float = 0.0
    ) -> float:
        """Minutes to charge from `soc` to `target` (%), with `load_kw` (kW) used meanwhile.

        Integrates the taper curve in half-percent steps; infinite if power never suffices.
        """
        minutes, step, s = 0.0, 0.5, soc
        eff = self.charge_eff(dc=dc)
        while s < target - 1e-9:
            ds = min(step, target - s)
            kw = self.charge_power_kw(soc=s + ds / 2, dc=dc, supply_kw=supply_kw) * eff - load_kw
            if kw <= 0:
                return math.inf
            minutes += self.battery_kwh * ds / 100 / kw * 60
            s += ds
        return minutes

    def rated_miles(self, kwh: float) -> float:
        """Rated miles that `kwh` of battery energy is worth."""
        return kwh * 1000 / self.efficiency_wh_per_km / KM_PER_MILE

    def fixed_signals(self) -> dict[str, object]:
        """Telemetry the simulation never changes: configuration, settings, idle equipment."""
        sections: dict[str, dict[str, object]] = {
            "vehicle_config": {
                "car_type": self.car_type,
                "trim_badging": self.trim_badging,
                "exterior_color": self.exterior_color,
                "wheel_type": self.wheel_type,
                "charge_port_type": "CCS",
                "eu_vehicle": True,
                "plg": True,
                "can_accept_navigation_requests": True,
                "can_actuate_trunks": True,
                "motorized_charge_port": True,
                "rear_seat_heaters": 1,
                "has_seat_cooling": False,
                "third_row_seats": "None",
                "car_special_type": "base",
                "driver_assist": "TeslaAP3",
            },
            "gui_settings": {
                "gui_distance_units": "mi/hr",
                "gui_temperature_units": "C",
                "gui_charge_rate_units": "kW",
                "gui_24_hour_time": True,
                "gui_range_display": "Rated",
                "gui_tirepressure_units": "Bar",
                "show_range_units": False,
            },
            "charge_state": {
                "charge_limit_soc_min": 50,
                "charge_limit_soc_max": 100,
                "charge_limit_soc_std": 80,
                "charge_current_request": 16,
                "charge_current_request_max": 16,
                "charge_amps": 16,
                "charge_port_cold_weather_mode": False,
                "battery_heater_on": False,
                "not_enough_power_to_heat": False,
                "trip_charging": False,
                "user_charge_enable_request": None,
            },
            "climate_state": {
                "min_avail_temp": 15.0,
                "max_avail_temp": 28.0,
                "is_front_defroster_on": False,
                "is_rear_defroster_on": False,
                "seat_heater_left": 0,
                "seat_heater_right": 0,
                "seat_heater_rear_left": 0,
                "seat_heater_rear_center": 0,
                "seat_heater_rear_right": 0,
                "steering_wheel_heater": False,
                "side_mirror_heaters": False,
                "wiper_blade_heater": False,
                "battery_heater": False,
                "defrost_mode": 0,
                "climate_keeper_mode": "off",
                "cabin_overheat_protection": "On",
                "bioweapon_mode": False,
            },
            "drive_state": {"native_type": "wgs", "native_location_supported": 1},
            "vehicle_state": {
                **dict.fromkeys(("df", "dr", "pf", "pr", "ft", "rt"), 0),
                **dict.fromkeys(("fd_window", "fp_window", "rd_window", "rp_window"), 0),
                "car_version": "2025.20.6 b3b8d2d5f1e1",
                "api_version": 80,
                "sentry_mode": False,
                "sentry_mode_available": True,
                "remote_start_enabled": True,
                "remote_start_supported": True,
                "valet_mode": False,
                "valet_pin_needed": False,
                "calendar_supported": True,
                "homelink_nearby": False,
            },
        }
        return {
            f"{section}.{k}": v for section, fields in sections.items() for k, v in fields.items()
        }


def _interpolate(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear lookup, flat beyond the ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


MODEL_3 = CarSpec()
MODEL_Y = CarSpec(
    car_type="modely",
    trim_badging="74d",
    exterior_color="PearlWhite",
    wheel_type="Gemini19",
    efficiency_wh_per_km=165.0,
    mass_kg=2050.0,
    drag_area_m2=0.61,  # 0.23 × 2.66 m²: taller body
)
