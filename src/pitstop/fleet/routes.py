"""`/api/1/products` and `/api/1/vehicles/...` in Tesla's dialect."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts import scopes
from pitstop.accounts.auth import authenticate, authenticate_any, authenticate_operator
from pitstop.accounts.tokens import Principal
from pitstop.fleet import commands
from pitstop.fleet.registry import Vehicle
from pitstop.fleet.state import ASLEEP, OFFLINE, LiveState
from pitstop.link.hub import VehicleUnavailable
from pitstop.responses import JSON, ApiError, encode, ok, read_body
from pitstop.runtime import Runtime, runtime

#: vehicle_data's `endpoints=`: the sections, plus location_data which adds position to drive_state.
SECTIONS = (
    "charge_state",
    "climate_state",
    "drive_state",
    "gui_settings",
    "vehicle_config",
    "vehicle_state",
)
EXTRA_SECTIONS = ("charge_schedule_data",)
LOCATION_DATA = "location_data"
LOCATION_FIELDS = frozenset(
    {
        "latitude",
        "longitude",
        "native_latitude",
        "native_longitude",
        "native_type",
        "native_location_supported",
        "heading",
        "gps_as_of",
        "active_route_latitude",
        "active_route_longitude",
        "active_route_destination",
    }
)


def summary(vehicle: Vehicle, live: LiveState) -> dict[str, Any]:
    """A vehicle as in Tesla's vehicle list."""
    return {
        "id": vehicle.id,
        "vehicle_id": vehicle.id,
        "vin": vehicle.vin,
        "display_name": vehicle.display_name,
        "color": None,
        "access_type": "OWNER",
        "tokens": [],
        "state": live.state,
        "in_service": False,
        "id_s": vehicle.id_s,
        "calendar_enabled": True,
        "api_version": 71,
        "backseat_token": None,
        "backseat_token_updated_at": None,
    }


async def owned_vehicle(rt: Runtime, principal: Principal, key: str) -> Vehicle:
    """The caller's car by id, id_s or VIN; someone else's car is as unknown as a missing one."""
    vehicle = await rt.registry.find(key)
    if vehicle is None or vehicle.owner_id != principal.user_id:
        raise ApiError(404, "not_found", f"You have no vehicle {key}.")
    return vehicle


def unavailable(live: LiveState) -> ApiError:
    if live.state == ASLEEP:
        text = "The vehicle is asleep: wake it with wake_up first, then retry."
    else:
        text = "The vehicle is offline: it has no connection to Pitstop right now."
    return ApiError(408, "vehicle_unavailable", text, state=live.state)


async def products(request: Request) -> Response:
    principal = await authenticate(request)
    rt = runtime(request)
    cars = await rt.registry.owned_by(principal.user_id)
    listed = [summary(v, rt.states.get(v.id)) for v in cars]
    return ok(listed, count=len(listed))


async def list_vehicles(request: Request) -> Response:
    principal = await authenticate(request)
    rt = runtime(request)
    try:
        page = int(request.query_params.get("page", "1"))
        per_page = int(request.query_params.get("per_page", "100"))
    except ValueError as exc:
        raise ApiError(
            422,
            "invalid_field",
            "page and per_page must be whole numbers.",
            messages={"page": ["must be a whole number"]},
        ) from exc
    if page < 1 or not 1 <= per_page <= 100:
        raise ApiError(
            422,
            "invalid_field",
            "page starts at 1 and per_page is between 1 and 100.",
            messages={"per_page": ["must be between 1 and 100"]},
        )
    cars = await rt.registry.owned_by(principal.user_id)
    pages = max(1, -(-len(cars) // per_page))
    shown = cars[(page - 1) * per_page : page * per_page]
    return ok(
        [summary(v, rt.states.get(v.id)) for v in shown],
        pagination={
            "previous": page - 1 if page > 1 else None,
            "next": page + 1 if page < pages else None,
            "current": page,
            "per_page": per_page,
            "count": len(cars),
            "pages": pages,
        },
        count=len(cars),
    )


async def get_vehicle(request: Request) -> Response:
    principal = await authenticate(request)
    rt = runtime(request)
    vehicle = await owned_vehicle(rt, principal, request.path_params["key"])
    return ok(summary(vehicle, rt.states.get(vehicle.id)))


def _requested_sections(request: Request, principal: Principal) -> tuple[tuple[str, ...], bool]:
    raw = request.query_params.get("endpoints", "")
    if not raw:
        return SECTIONS, False
    names = [n.strip() for n in raw.replace(",", ";").split(";") if n.strip()]
    known = set(SECTIONS) | set(EXTRA_SECTIONS) | {LOCATION_DATA}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ApiError(
            422,
            "invalid_field",
            f"Unknown endpoints: {', '.join(unknown)}.",
            messages={"endpoints": [f"each must be one of: {', '.join(sorted(known))}"]},
        )
    location = LOCATION_DATA in names
    if location and scopes.VEHICLE_LOCATION not in principal.scopes:
        raise ApiError(
            403,
            "missing_scopes",
            "location_data needs the vehicle_location scope.",
            missing_scopes=[scopes.VEHICLE_LOCATION],
        )
    sections = tuple(n for n in names if n != LOCATION_DATA)
    if location and "drive_state" not in sections:
        sections += ("drive_state",)
    return sections, location


def vehicle_data_body(
    vehicle: Vehicle, live: LiveState, sections: tuple[str, ...], location: bool
) -> dict[str, Any]:
    data = summary(vehicle, live)
    for section in sections:
        values = dict(live.sections.get(section, {}))
        if section == "drive_state" and not location:
            values = {k: v for k, v in values.items() if k not in LOCATION_FIELDS}
        values["timestamp"] = live.section_ts.get(section)
        data[section] = values
    return data


# Built responses, reused while the car's state has not changed: vehicle_data is the hot path.
_cache: dict[tuple[int, tuple[str, ...], bool], tuple[int, bytes]] = {}


def cached_vehicle_data(vehicle_id: int, version: int) -> bytes | None:
    """The body that `vehicle_data` last built for this car with no `endpoints=` (every
    section, no location), if it was built from state `version`; None otherwise."""
    cached = _cache.get((vehicle_id, SECTIONS, False))
    if cached is None or cached[0] != version:
        return None
    return cached[1]


async def vehicle_data(request: Request) -> Response:
    principal = await authenticate(request, scopes.VEHICLE_DEVICE_DATA)
    rt = runtime(request)
    vehicle = await owned_vehicle(rt, principal, request.path_params["key"])
    sections, location = _requested_sections(request, principal)
    live = rt.states.get(vehicle.id)
    # During a read-only window, a car that cannot answer is shown as last known: its
    # section timestamps tell the reader how old that is.
    last_known = request.scope.get("pitstop.read_only") is not None and live.sections
    if live.state in (ASLEEP, OFFLINE) and not last_known:
        raise unavailable(live)
    key = (vehicle.id, sections, location)
    cached = _cache.get(key)
    if cached is None or cached[0] != live.version:
        body = encode(
            {"response": vehicle_data_body(vehicle, live, sections, location), "error": None}
        )
        if len(_cache) > 50_000:
            _cache.clear()
        cached = _cache[key] = (live.version, body)
    return Response(cached[1], media_type=JSON)


async def wake_up(request: Request) -> Response:
    principal = await authenticate_any(request, scopes.VEHICLE_CMDS, scopes.VEHICLE_DEVICE_DATA)
    rt = runtime(request)
    vehicle = await owned_vehicle(rt, principal, request.path_params["key"])
    live = rt.states.get(vehicle.id)
    if live.state == OFFLINE or not await rt.hub.wake(vehicle):
        raise unavailable(live)
    # Like Tesla's: answer at once with the current state; clients poll until "online".
    return ok(summary(vehicle, live))


async def command(request: Request) -> Response:
    name = request.path_params["name"]
    spec = commands.COMMANDS.get(name)
    principal = await authenticate_any(
        request, *(spec.scopes if spec else commands.ANY_COMMAND_SCOPE)
    )
    rt = runtime(request)
    vehicle = await owned_vehicle(rt, principal, request.path_params["key"])
    _, params = commands.parse(name, await request.body())
    live = rt.states.get(vehicle.id)
    if live.state != "online":
        raise unavailable(live)
    try:
        outcome = await rt.hub.command(vehicle, name, params)
    except VehicleUnavailable as exc:
        raise ApiError(
            408,
            "vehicle_unavailable",
            f"The command did not reach the vehicle: {exc.reason}.",
            state=live.state,
        ) from exc
    # A refusal is not an HTTP error: 200 with result false and the car's reason, as Tesla does.
    return ok({"result": outcome.result, "reason": outcome.reason})


# --- operators: registering cars --------------------------------------------------------------


class NewVehicle(msgspec.Struct, forbid_unknown_fields=True):
    vin: str
    owner_email: str
    display_name: str = ""
    car_type: str = "model3"


async def register_vehicle(request: Request) -> Response:
    await authenticate_operator(request)
    body = await read_body(request, NewVehicle)
    rt = runtime(request)
    owner = await rt.users.by_email(body.owner_email)
    if owner is None:
        raise ApiError(404, "not_found", f"There is no user with email {body.owner_email}.")
    try:
        vehicle, secret = await rt.registry.register(
            owner_id=owner.id, vin=body.vin, display_name=body.display_name, car_type=body.car_type
        )
    except ValueError as exc:
        status = 409 if "registered already" in str(exc) else 422
        raise ApiError(
            status,
            "conflict" if status == 409 else "invalid_field",
            str(exc),
            messages={"vin": [str(exc)]},
        ) from exc
    return ok({"id": vehicle.id, "id_s": vehicle.id_s, "vin": vehicle.vin, "secret": secret})


routes = [
    Route("/api/1/products", products),
    Route("/api/1/vehicles", list_vehicles),
    Route("/api/1/vehicles/{key}", get_vehicle),
    Route("/api/1/vehicles/{key}/vehicle_data", vehicle_data),
    Route("/api/1/vehicles/{key}/wake_up", wake_up, methods=["POST"]),
    Route("/api/1/vehicles/{key}/command/{name}", command, methods=["POST"]),
    Route("/api/1/admin/vehicles", register_vehicle, methods=["POST"]),
]
