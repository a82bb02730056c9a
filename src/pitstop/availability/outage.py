"""Unexpected downtime: a dependency that fails is a 503 the client can retry, never a 500.

The database being unreachable or slow surfaces as a driver error or a timeout somewhere in a
route; this handler turns it into the same 503 answer as maintenance, with cause
`service_unavailable` and a short Retry-After. Nothing else changes: the next request tries
again, so the process recovers by itself when the dependency returns.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from pitstop.availability import answer
from pitstop.runtime import runtime

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying after a dependency failure.
OUTAGE_RETRY = 5


def dependency_down(description: str) -> answer.Unavailable:
    return answer.Unavailable(
        error="service_unavailable",
        title="Pitstop is temporarily unavailable",
        description=description,
        wait=OUTAGE_RETRY,
    )


async def dependency_failed(request: Request, exc: Exception) -> Response:
    log.warning("dependency failure on %s %s: %r", request.method, request.url.path, exc)
    cause = dependency_down(
        "Pitstop cannot reach its database right now. Nothing was changed; please retry shortly."
    )
    kind = answer.wants(request.scope)
    payload = answer.body(kind, cause, request.url.path)
    client = request.headers.get("authorization") or (request.client.host if request.client else "")
    retry_after = runtime(request).retry_policy.seconds(cause.wait, client)
    headers = dict(
        (k.decode(), v.decode()) for k, v in answer.headers(kind, retry_after, len(payload))
    )
    headers.pop("content-length")
    return Response(payload, 503, headers)
