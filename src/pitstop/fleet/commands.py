"""The commands a client may send a car: their parameters, limits and the scopes they need.

Everything is checked here, before anything is sent, so a bad request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from pitstop.accounts import scopes
from pitstop.responses import ApiError, decode

#: Tesla's limits, as the cars report them (charge_limit_soc_min/max, min/max_avail_temp).
CHARGE_LIMIT_MIN, CHARGE_LIMIT_MAX = 50, 100
TEMP_MIN, TEMP_MAX = 15.0, 28.0
MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


class NoParams(msgspec.Struct):
    pass


class SetTemps(msgspec.Struct):
    driver_temp: float
    passenger_temp: float | None = None


class SetChargeLimit(msgspec.Struct):
    percent: int


class SetScheduledCharging(msgspec.Struct):
    enable: bool
    time: int | None = None  # minutes after midnight


class SetScheduledDeparture(msgspec.Struct):
    enable: bool
    # Left out, the car keeps the times it has: turning departure off must not wipe them.
    departure_time: int | None = None
    preconditioning_enabled: bool = False
    preconditioning_weekdays_only: bool = False
    off_peak_charging_enabled: bool = False
    off_peak_charging_weekdays_only: bool = False
    end_off_peak_time: int | None = None


class AddChargeSchedule(msgspec.Struct):
    days_of_week: str | int
    enabled: bool = True
    start_enabled: bool = True
    end_enabled: bool = False
    start_time: int | None = None
    end_time: int | None = None
    one_time: bool = False
    id: int | None = None
    name: str | None = None
    lat: float = 0.0
    lon: float = 0.0


class RemoveChargeSchedule(msgspec.Struct):
    id: int


@dataclass(frozen=True)
class CommandSpec:
    params: type[msgspec.Struct]
    #: The token needs at least one of these.
    scopes: tuple[str, ...]


_CMDS = (scopes.VEHICLE_CMDS,)
_CHARGING = (scopes.VEHICLE_CMDS, scopes.VEHICLE_CHARGING_CMDS)
ANY_COMMAND_SCOPE = _CHARGING

COMMANDS: dict[str, CommandSpec] = {
    "door_lock": CommandSpec(NoParams, _CMDS),
    "door_unlock": CommandSpec(NoParams, _CMDS),
    "remote_start_drive": CommandSpec(NoParams, _CMDS),
    "auto_conditioning_start": CommandSpec(NoParams, _CMDS),
    "auto_conditioning_stop": CommandSpec(NoParams, _CMDS),
    "set_temps": CommandSpec(SetTemps, _CMDS),
    "honk_horn": CommandSpec(NoParams, _CMDS),
    "flash_lights": CommandSpec(NoParams, _CMDS),
    "charge_start": CommandSpec(NoParams, _CHARGING),
    "charge_stop": CommandSpec(NoParams, _CHARGING),
    "set_charge_limit": CommandSpec(SetChargeLimit, _CHARGING),
    "charge_port_door_open": CommandSpec(NoParams, _CHARGING),
    "charge_port_door_close": CommandSpec(NoParams, _CHARGING),
    "set_scheduled_charging": CommandSpec(SetScheduledCharging, _CHARGING),
    "set_scheduled_departure": CommandSpec(SetScheduledDeparture, _CHARGING),
    "add_charge_schedule": CommandSpec(AddChargeSchedule, _CHARGING),
    "remove_charge_schedule": CommandSpec(RemoveChargeSchedule, _CHARGING),
}

#: Commands a charging-only token may send (and that a `charging` window takes down).
CHARGING_COMMANDS = frozenset(name for name, spec in COMMANDS.items() if spec.scopes == _CHARGING)


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_field", f"{field} {message}.", messages={field: [message]})


def _minutes(field: str, value: int | None, *, required: bool) -> None:
    if value is None:
        if required:
            raise _invalid(field, "is required")
        return
    if not 0 <= value < MINUTES_PER_DAY:
        raise _invalid(field, f"must be minutes after midnight, 0 to {MINUTES_PER_DAY - 1}")


def _days(value: str | int) -> None:
    if isinstance(value, int):
        if not 0 < value < 128:
            raise _invalid("days_of_week", "as a number must be a bitmask from 1 to 127")
        return
    names = {d.lower() for d in WEEKDAYS} | {"all", "weekdays", "weekends"}
    parts = [p.strip().lower() for p in value.split(",") if p.strip()]
    if not parts or any(p not in names for p in parts):
        raise _invalid(
            "days_of_week", "must be All, Weekdays, Weekends or day names like 'Monday,Friday'"
        )


def validate(name: str, params: msgspec.Struct) -> None:
    """Range checks that types alone cannot express."""
    if isinstance(params, SetChargeLimit):
        if not CHARGE_LIMIT_MIN <= params.percent <= CHARGE_LIMIT_MAX:
            raise _invalid("percent", f"must be between {CHARGE_LIMIT_MIN} and {CHARGE_LIMIT_MAX}")
    elif isinstance(params, SetTemps):
        for field, value in (
            ("driver_temp", params.driver_temp),
            ("passenger_temp", params.passenger_temp),
        ):
            if value is not None and not TEMP_MIN <= value <= TEMP_MAX:
                raise _invalid(field, f"must be between {TEMP_MIN} and {TEMP_MAX} °C")
    elif isinstance(params, SetScheduledCharging):
        _minutes("time", params.time, required=params.enable)
    elif isinstance(params, SetScheduledDeparture):
        _minutes("departure_time", params.departure_time, required=params.enable)
        _minutes("end_off_peak_time", params.end_off_peak_time, required=False)
    elif isinstance(params, AddChargeSchedule):
        _days(params.days_of_week)
        _minutes("start_time", params.start_time, required=params.start_enabled)
        _minutes("end_time", params.end_time, required=params.end_enabled)
        if not params.start_enabled and not params.end_enabled:
            raise _invalid("start_enabled", "or end_enabled must be true")
        if not -90 <= params.lat <= 90 or not -180 <= params.lon <= 180:
            raise _invalid("lat", "and lon must be a position on Earth")
    elif isinstance(params, RemoveChargeSchedule) and params.id < 0:
        raise _invalid("id", "must not be negative")


def parse(name: str, body: bytes) -> tuple[CommandSpec, dict[str, Any]]:
    """The spec and validated parameters of command `name`, or a 400/422 the client can read."""
    spec = COMMANDS.get(name)
    if spec is None:
        raise ApiError(
            400,
            "invalid_command",
            f"There is no command named {name!r}.",
            messages={"command": [f"must be one of: {', '.join(sorted(COMMANDS))}"]},
        )
    params = decode(body, spec.params)
    validate(name, params)
    if isinstance(params, SetTemps) and params.passenger_temp is None:
        params.passenger_temp = params.driver_temp
    return spec, msgspec.to_builtins(params)
