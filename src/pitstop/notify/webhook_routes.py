"""Owners' webhook endpoints.

    GET    /api/1/notifications/webhooks                 the caller's endpoints
    POST   /api/1/notifications/webhooks                 {"url", "description"} -> endpoint + secret
    DELETE /api/1/notifications/webhooks/{id}
    POST   /api/1/notifications/webhooks/{id}/rotate     {"keep_previous_minutes": 1440} -> new secret
    POST   /api/1/notifications/webhooks/{id}/enable | /disable

A secret is shown once, when it is made. Which topics reach webhooks is a preference
(channel "webhook"), like every other channel.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts import scopes
from pitstop.accounts.auth import authenticate
from pitstop.notify.endpoints import EndpointError
from pitstop.responses import ApiError, ok, read_body
from pitstop.runtime import runtime


class NewEndpoint(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    description: str = ""


class Rotation(msgspec.Struct, forbid_unknown_fields=True):
    #: How long the previous secrets keep signing (0: stop at once), at most 7 days.
    keep_previous_minutes: float = 24 * 60


def _endpoint_id(request: Request) -> int:
    raw = request.path_params["endpoint_id"]
    if not raw.isdigit():
        raise ApiError(
            422, "invalid_field", "An endpoint id is a number.", messages={"id": ["not a number"]}
        )
    return int(raw)


def _missing() -> ApiError:
    return ApiError(404, "not_found", "You have no webhook endpoint with this id.")


async def list_endpoints(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    return ok(await runtime(request).notify.endpoints.of_user(principal.user_id))


async def create(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    body = await read_body(request, NewEndpoint)
    try:
        endpoint, secret = await runtime(request).notify.endpoints.create(
            principal.user_id, body.url, body.description
        )
    except EndpointError as exc:
        raise ApiError(422, "invalid_field", str(exc), messages={exc.field: [str(exc)]}) from exc
    return ok({"endpoint": endpoint, "secret": secret})


async def delete(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    if not await runtime(request).notify.endpoints.delete(principal.user_id, _endpoint_id(request)):
        raise _missing()
    return ok({"deleted": True})


async def act(request: Request) -> Response:
    principal = await authenticate(request, scopes.USER_DATA)
    endpoints = runtime(request).notify.endpoints
    endpoint_id = _endpoint_id(request)
    verb = request.path_params["verb"]
    if verb == "rotate":
        body = await read_body(request, Rotation)
        if not 0 <= body.keep_previous_minutes <= 7 * 24 * 60:
            message = "keep_previous_minutes is from 0 to 10080 (7 days)."
            raise ApiError(
                422, "invalid_field", message, messages={"keep_previous_minutes": [message]}
            )
        rotated = await endpoints.rotate(
            principal.user_id,
            endpoint_id,
            keep_previous=timedelta(minutes=body.keep_previous_minutes),
        )
        if rotated is None:
            raise _missing()
        return ok({"endpoint": rotated[0], "secret": rotated[1]})
    if verb in ("enable", "disable"):
        found = await endpoints.set_enabled(principal.user_id, endpoint_id, verb == "enable")
        if found is None:
            raise _missing()
        return ok(found)
    raise ApiError(404, "not_found", f"There is no action {verb!r} on a webhook endpoint.")


routes = [
    Route("/api/1/notifications/webhooks", list_endpoints, methods=["GET"]),
    Route("/api/1/notifications/webhooks", create, methods=["POST"]),
    Route("/api/1/notifications/webhooks/{endpoint_id}", delete, methods=["DELETE"]),
    Route("/api/1/notifications/webhooks/{endpoint_id}/{verb}", act, methods=["POST"]),
]
