"""`/api/1/service/...`: service centers, free slots, appointments, and which cars are due.

Owners (scope vehicle_device_data) find slots and book, reschedule and cancel for their own
cars; someone else's car or appointment is as unknown as a missing one. Operators (operator
scope) manage centers and see and manage the appointments of a day at a center. Owners also
ask which of their cars are due for service (`/due`), by the vehicle alerts' own rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts import scopes
from pitstop.accounts.auth import authenticate, authenticate_operator
from pitstop.accounts.tokens import Principal
from pitstop.alerts.watcher import rules_from
from pitstop.fleet.registry import Vehicle
from pitstop.responses import ApiError, ok, read_body
from pitstop.runtime import Runtime, runtime
from pitstop.service.appointments import Appointment, check_description
from pitstop.service.centers import (
    Center,
    CenterChange,
    CenterInvalid,
    CenterNotFound,
    CenterRequest,
)
from pitstop.service.due import due_for
from pitstop.service.errors import ServiceError

MAX_DAYS = 31


class BookRequest(msgspec.Struct, forbid_unknown_fields=True):
    vin: str
    center_id: int
    starts_at: datetime
    description: str


class RescheduleRequest(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime


def _problem(exc: ServiceError) -> ApiError:
    return ApiError(exc.status, exc.error, str(exc), messages=exc.messages)


def _invalid(field: str, text: str) -> ApiError:
    return ApiError(422, "invalid_field", text, messages={field: [text]})


async def _caller(request: Request) -> Principal:
    """An operator, or an owner whose token may read their cars' data."""
    principal = await authenticate(request)
    if principal.is_operator or scopes.VEHICLE_DEVICE_DATA in principal.scopes:
        return principal
    raise ApiError(
        403,
        "missing_scopes",
        f"The access token needs one of these scopes: {scopes.VEHICLE_DEVICE_DATA}, "
        f"{scopes.OPERATOR}.",
        missing_scopes=[scopes.VEHICLE_DEVICE_DATA],
    )


async def _owner(request: Request) -> Principal:
    return await authenticate(request, scopes.VEHICLE_DEVICE_DATA)


def _int(raw: str, field: str, what: str) -> int:
    if not raw.isdigit():
        raise _invalid(field, f"{what} is a number.")
    return int(raw)


async def _center(rt: Runtime, center_id: int, field: str = "center_id") -> Center:
    try:
        return await rt.service.centers.get(center_id)
    except CenterNotFound as exc:
        raise ApiError(404, "not_found", str(exc), messages={field: [str(exc)]}) from exc


async def _own_car(rt: Runtime, principal: Principal, key: str) -> Vehicle:
    vehicle = await rt.registry.find(key.strip())
    if vehicle is None or vehicle.owner_id != principal.user_id:
        text = f"You have no vehicle {key}."
        raise ApiError(404, "not_found", text, messages={"vin": [text]})
    return vehicle


async def _appointment(rt: Runtime, principal: Principal, request: Request) -> Appointment:
    appointment_id = _int(request.path_params["appointment_id"], "id", "An appointment id")
    try:
        found = await rt.service.appointments.get(appointment_id)
    except ServiceError as exc:
        raise _problem(exc) from exc
    if not principal.is_operator and found.owner_id != principal.user_id:
        raise ApiError(404, "not_found", f"There is no appointment {appointment_id}.")
    return found


async def appointment_json(rt: Runtime, appointment: Appointment) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(appointment)
    vehicle = await rt.registry.get(appointment.vehicle_id)
    data["vin"] = vehicle.vin if vehicle else None
    data["vehicle_name"] = vehicle.display_name if vehicle else ""
    try:
        center = await rt.service.centers.get(appointment.center_id)
    except CenterNotFound:
        return data
    data["center_name"] = center.name
    data["timezone"] = center.timezone
    data["local_start"] = appointment.starts_at.astimezone(center.tz).isoformat()
    return data


# --- centers ----------------------------------------------------------------------------------


async def list_centers(request: Request) -> Response:
    principal = await _caller(request)
    everything = principal.is_operator and request.query_params.get("all") in ("1", "true")
    centers = await runtime(request).service.centers.list(include_inactive=everything)
    return ok([c.as_json() for c in centers])


async def create_center(request: Request) -> Response:
    await authenticate_operator(request)
    body = await read_body(request, CenterRequest)
    try:
        center = await runtime(request).service.centers.create(body)
    except CenterInvalid as exc:
        raise ApiError(422, "invalid_field", str(exc), messages=exc.messages) from exc
    return ok(center.as_json())


async def show_center(request: Request) -> Response:
    await _caller(request)
    center_id = _int(request.path_params["center_id"], "id", "A center id")
    return ok((await _center(runtime(request), center_id, "id")).as_json())


async def change_center(request: Request) -> Response:
    await authenticate_operator(request)
    center_id = _int(request.path_params["center_id"], "id", "A center id")
    body = await read_body(request, CenterChange)
    rt = runtime(request)
    await _center(rt, center_id, "id")
    try:
        center = await rt.service.centers.change(center_id, body)
    except CenterInvalid as exc:
        raise ApiError(422, "invalid_field", str(exc), messages=exc.messages) from exc
    return ok(center.as_json())


async def slots(request: Request) -> Response:
    principal = await _caller(request)
    rt = runtime(request)
    center = await _center(rt, _int(request.path_params["center_id"], "id", "A center id"), "id")
    params = request.query_params
    vehicle_id = None
    if params.get("vin"):
        if principal.is_operator:
            vehicle = await rt.registry.find(params["vin"])
        else:
            vehicle = await _own_car(rt, principal, params["vin"])
        vehicle_id = vehicle.id if vehicle else None
    try:
        first = (
            date.fromisoformat(params["from"])
            if params.get("from")
            else rt.clock.now().astimezone(center.tz).date()
        )
    except ValueError as exc:
        raise _invalid(
            "from", "from is a date like 2026-12-01 (in the center's time zone)."
        ) from exc
    days = _int(params.get("days", "7"), "days", "days")
    if not 1 <= days <= MAX_DAYS:
        raise _invalid("days", f"days is between 1 and {MAX_DAYS}.")
    found = await rt.service.appointments.free_slots(center, first, days, vehicle_id=vehicle_id)
    return ok(
        {
            "center_id": center.id,
            "center_name": center.name,
            "timezone": center.timezone,
            "from": first.isoformat(),
            "until": (first + timedelta(days=days)).isoformat(),
            "slots": [
                {
                    **msgspec.to_builtins(s),
                    "local_start": s.starts_at.astimezone(center.tz).isoformat(),
                }
                for s in found
            ],
        }
    )


# --- appointments -----------------------------------------------------------------------------


async def book(request: Request) -> Response:
    principal = await _owner(request)
    body = await read_body(request, BookRequest)
    rt = runtime(request)
    vehicle = await _own_car(rt, principal, body.vin)
    center = await _center(rt, body.center_id)
    book = rt.service.appointments
    # Every field's problem at once, before anything is stored.
    messages: dict[str, list[str]] = {}
    for check in (
        lambda: book.check_slot(center, body.starts_at),
        lambda: check_description(body.description),
    ):
        try:
            check()
        except ServiceError as exc:
            if exc.status != 422:
                raise _problem(exc) from exc
            messages.setdefault(exc.field, []).append(str(exc))
    if messages:
        text = " ".join(m for ms in messages.values() for m in ms)
        raise ApiError(422, "invalid_field", text, messages=messages)
    try:
        appointment = await book.book(
            center,
            vehicle_id=vehicle.id,
            owner_id=principal.user_id,
            starts_at=body.starts_at,
            description=body.description,
        )
    except ServiceError as exc:
        raise _problem(exc) from exc
    await rt.service.hooks.booked(appointment)
    return ok(await appointment_json(rt, appointment))


async def list_appointments(request: Request) -> Response:
    principal = await _caller(request)
    rt = runtime(request)
    params = request.query_params
    everything = params.get("all") in ("1", "true")
    if not principal.is_operator:
        found = await rt.service.appointments.of_owner(principal.user_id, everything=everything)
        return ok([await appointment_json(rt, a) for a in found])
    if params.get("center_id"):
        centers = [await _center(rt, _int(params["center_id"], "center_id", "center_id"))]
    else:
        centers = await rt.service.centers.list(include_inactive=True)
    try:
        day = date.fromisoformat(params["date"]) if params.get("date") else None
    except ValueError as exc:
        raise _invalid(
            "date", "date is a day like 2026-12-01 (in the center's time zone)."
        ) from exc
    found = await rt.service.appointments.of_day(centers, day, everything=everything)
    return ok([await appointment_json(rt, a) for a in found])


async def show_appointment(request: Request) -> Response:
    principal = await _caller(request)
    rt = runtime(request)
    return ok(await appointment_json(rt, await _appointment(rt, principal, request)))


async def reschedule(request: Request) -> Response:
    principal = await _caller(request)
    rt = runtime(request)
    appointment = await _appointment(rt, principal, request)
    body = await read_body(request, RescheduleRequest)
    center = await _center(rt, appointment.center_id)
    try:
        moved = await rt.service.appointments.reschedule(appointment, center, body.starts_at)
    except ServiceError as exc:
        raise _problem(exc) from exc
    await rt.service.hooks.rescheduled(moved, appointment.starts_at)
    return ok(await appointment_json(rt, moved))


async def cancel(request: Request) -> Response:
    principal = await _caller(request)
    rt = runtime(request)
    appointment = await _appointment(rt, principal, request)
    try:
        cancelled = await rt.service.appointments.cancel(
            appointment, principal.email, operator=principal.is_operator
        )
    except ServiceError as exc:
        raise _problem(exc) from exc
    if appointment.status != cancelled.status:
        await rt.service.hooks.cancelled(cancelled)
    return ok(await appointment_json(rt, cancelled))


# --- service due -----------------------------------------------------------------------------


async def due(request: Request) -> Response:
    """Which of the owner's cars are due for service now (`?vin=`: that car only), with the
    reasons in plain words and a problem description to book with."""
    principal = await _owner(request)
    rt = runtime(request)
    if request.query_params.get("vin"):
        cars = [await _own_car(rt, principal, request.query_params["vin"])]
    else:
        cars = await rt.registry.owned_by(principal.user_id)
    rules = rules_from(rt.settings)
    t = rt.clock.timestamp()
    found = []
    for car in cars:
        sections = rt.states.get(car.id).sections
        name = car.display_name or str(sections.get("vehicle_state", {}).get("vehicle_name") or "")
        found.append(msgspec.to_builtins(due_for(rules, t, car.vin, name or car.vin, sections)))
    return ok(found)


routes = [
    Route("/api/1/service/due", due, methods=["GET"]),
    Route("/api/1/service/centers", list_centers, methods=["GET"]),
    Route("/api/1/service/centers", create_center, methods=["POST"]),
    Route("/api/1/service/centers/{center_id}", show_center, methods=["GET"]),
    Route("/api/1/service/centers/{center_id}", change_center, methods=["PATCH"]),
    Route("/api/1/service/centers/{center_id}/slots", slots, methods=["GET"]),
    Route("/api/1/service/appointments", list_appointments, methods=["GET"]),
    Route("/api/1/service/appointments", book, methods=["POST"]),
    Route("/api/1/service/appointments/{appointment_id}", show_appointment, methods=["GET"]),
    Route("/api/1/service/appointments/{appointment_id}/reschedule", reschedule, methods=["POST"]),
    Route("/api/1/service/appointments/{appointment_id}/cancel", cancel, methods=["POST"]),
]
