"""Operators' view of the outbox: what is stuck or dead, and replaying it.

GET  /api/1/notifications/outbox                    counts per channel and status
GET  /api/1/notifications/deliveries                ?status=dead&channel=&key=&before=&limit=
POST /api/1/notifications/deliveries/{id}/replay    one dead delivery, a fresh set of attempts
POST /api/1/notifications/deliveries/replay         every dead one ({"channel"} or {"ids"})
"""

from __future__ import annotations

import logging

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.accounts.auth import authenticate_operator
from pitstop.notify.outbox import STATUSES
from pitstop.notify.topics import CHANNELS
from pitstop.responses import ApiError, ok, read_body
from pitstop.runtime import runtime

log = logging.getLogger(__name__)


class Replay(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[int] | None = None
    channel: str | None = None


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        message = f"{name} is one of {', '.join(allowed)}."
        raise ApiError(422, "invalid_field", message, messages={name: [message]})
    return value


def _int(request: Request, name: str, default: int | None, hi: int) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= hi:
        message = f"{name} is a whole number from 1 to {hi}."
        raise ApiError(422, "invalid_field", message, messages={name: [message]})
    return int(raw)


async def outbox(request: Request) -> Response:
    await authenticate_operator(request)
    return ok(await runtime(request).notify.outbox.counts())


async def deliveries(request: Request) -> Response:
    await authenticate_operator(request)
    limit = _int(request, "limit", 50, 500) or 50
    found = await runtime(request).notify.outbox.deliveries(
        status=_choice(request, "status", STATUSES),
        channel=_choice(request, "channel", CHANNELS),
        key=request.query_params.get("key") or None,
        before_id=_int(request, "before", None, 2**62),
        limit=limit,
    )
    return ok({"items": found, "next_before": found[-1].id if len(found) == limit else None})


async def _replayed(request: Request, ids: list[int], actor: str) -> Response:
    rt = runtime(request)
    if ids:
        log.info("%s replayed deliveries %s", actor, ids)
        rt.notify.worker.wake()
    return ok({"replayed": ids})


async def replay_one(request: Request) -> Response:
    principal = await authenticate_operator(request)
    raw = request.path_params["delivery_id"]
    if not raw.isdigit():
        raise ApiError(
            422, "invalid_field", "A delivery id is a number.", messages={"id": ["not a number"]}
        )
    outbox_ = runtime(request).notify.outbox
    ids = await outbox_.replay(ids=[int(raw)])
    if not ids:
        found = await outbox_.deliveries(limit=1, before_id=int(raw) + 1)
        if not found or found[0].id != int(raw):
            raise ApiError(404, "not_found", f"There is no delivery {raw}.")
        raise ApiError(
            409, "conflict", f"Delivery {raw} is {found[0].status}; only dead ones are replayed."
        )
    return await _replayed(request, ids, principal.email)


async def replay_many(request: Request) -> Response:
    principal = await authenticate_operator(request)
    body = await read_body(request, Replay)
    if body.channel is not None and body.channel not in CHANNELS:
        message = f"channel is one of {', '.join(CHANNELS)}."
        raise ApiError(422, "invalid_field", message, messages={"channel": [message]})
    ids = await runtime(request).notify.outbox.replay(ids=body.ids, channel=body.channel)
    return await _replayed(request, ids, principal.email)


routes = [
    Route("/api/1/notifications/outbox", outbox, methods=["GET"]),
    Route("/api/1/notifications/deliveries", deliveries, methods=["GET"]),
    Route("/api/1/notifications/deliveries/replay", replay_many, methods=["POST"]),
    Route("/api/1/notifications/deliveries/{delivery_id}/replay", replay_one, methods=["POST"]),
]
