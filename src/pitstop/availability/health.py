"""`/healthz` (the process is alive) and `/readyz` (send it traffic)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.responses import json_response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    draining = getattr(request.app.state, "draining", False)
    if draining:
        return json_response(
            {"status": "draining"}, 503, {"Cache-Control": "no-store", "Retry-After": "5"}
        )
    return json_response({"status": "ready"}, headers={"Cache-Control": "no-store"})


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
