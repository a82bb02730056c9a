"""`/api/1/maintenance`: operators schedule, start, extend, update, finish and cancel windows."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts.auth import authenticate_operator
from pitstop.availability.answer import window_info
from pitstop.availability.gate import BYPASS_COOKIE
from pitstop.availability.store import NotFound
from pitstop.availability.windows import MaintenanceWindow, WindowError, WindowRequest
from pitstop.responses import ApiError, ok, read_body
from pitstop.runtime import runtime


class Extension(msgspec.Struct, forbid_unknown_fields=True):
    minutes: float
    message: str = ""


class Message(msgspec.Struct, forbid_unknown_fields=True):
    message: str = ""


def status_url(request: Request) -> str:
    base = runtime(request).settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}/status"


def as_json(window: MaintenanceWindow, request: Request) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(window)
    data["components"] = list(window.components)
    data["reason_text"] = window.reason_text
    data["status_url"] = status_url(request)
    data["scope"] = window_info(window, "")["scope"]
    return data


def _window_id(request: Request) -> int:
    raw = request.path_params["window_id"]
    if not raw.isdigit():
        raise ApiError(
            422, "invalid_field", "A window id is a number.", messages={"id": ["not a number"]}
        )
    return int(raw)


def _problem(exc: WindowError | NotFound) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc))
    if exc.conflict:
        return ApiError(409, "conflict", str(exc), messages={exc.field: [str(exc)]})
    return ApiError(422, "invalid_field", str(exc), messages={exc.field: [str(exc)]})


async def list_windows(request: Request) -> Response:
    await authenticate_operator(request)
    statuses = request.query_params.get("status")
    store = runtime(request).windows
    found = await store.find(statuses=statuses.split(",") if statuses else None)
    return ok([as_json(x, request) for x in found])


async def schedule(request: Request) -> Response:
    principal = await authenticate_operator(request)
    body = await read_body(request, WindowRequest)
    try:
        window = await runtime(request).windows.schedule(body, principal.email)
    except WindowError as exc:
        raise _problem(exc) from exc
    return ok(as_json(window, request))


async def show(request: Request) -> Response:
    await authenticate_operator(request)
    try:
        window = await runtime(request).windows.get(_window_id(request))
    except NotFound as exc:
        raise _problem(exc) from exc
    return ok(as_json(window, request))


async def audit(request: Request) -> Response:
    await authenticate_operator(request)
    window_id = _window_id(request)
    store = runtime(request).windows
    try:
        await store.get(window_id)
    except NotFound as exc:
        raise _problem(exc) from exc
    return ok(await store.audit(window_id))


async def act(request: Request) -> Response:
    """start, finish, cancel, extend and updates: one endpoint per verb, one handler."""
    principal = await authenticate_operator(request)
    window_id = _window_id(request)
    verb = request.path_params["verb"]
    store = runtime(request).windows
    actor = principal.email
    try:
        if verb == "start":
            window = await store.start(window_id, actor)
        elif verb == "finish":
            window = await store.finish(
                window_id, actor, message=(await read_body(request, Message)).message
            )
        elif verb == "cancel":
            window = await store.cancel(
                window_id, actor, message=(await read_body(request, Message)).message
            )
        elif verb == "extend":
            ext = await read_body(request, Extension)
            window = await store.extend(window_id, ext.minutes, actor, message=ext.message)
        elif verb == "updates":
            window = await store.post_update(
                window_id, (await read_body(request, Message)).message, actor
            )
        else:
            raise ApiError(404, "not_found", f"There is no action {verb!r} on a window.")
    except (WindowError, NotFound) as exc:
        raise _problem(exc) from exc
    if window is None:  # another process made the same transition at the same moment
        window = await store.get(window_id)
    return ok(as_json(window, request))


async def bypass(request: Request) -> Response:
    """A signed cookie that lets this operator's browser through the gate for an hour."""
    await authenticate_operator(request)
    rt = runtime(request)
    expires = int(rt.clock.timestamp()) + 3600
    response = ok({"cookie": BYPASS_COOKIE, "expires_at": expires})
    response.set_cookie(
        BYPASS_COOKIE,
        rt.bypass.make(expires),
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


routes = [
    Route("/api/1/maintenance", list_windows, methods=["GET"]),
    Route("/api/1/maintenance", schedule, methods=["POST"]),
    Route("/api/1/maintenance/bypass", bypass, methods=["POST"]),
    Route("/api/1/maintenance/{window_id}", show, methods=["GET"]),
    Route("/api/1/maintenance/{window_id}/audit", audit, methods=["GET"]),
    Route("/api/1/maintenance/{window_id}/{verb}", act, methods=["POST"]),
]
