"""SKETCHES of changes suggested to src/ (not Pitstop code), to measure them before anyone
writes them for real: bench/vehicle_data_breakdown.py times them in-process, and
`bench/vehicle_data.py --variant ...` serves them under wrk.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from pitstop.accounts import scopes
from pitstop.fleet import routes as fleet_routes
from pitstop.fleet.state import ASLEEP, OFFLINE
from pitstop.responses import ApiError
from pitstop.runtime import Runtime

ROUTE = "/api/1/vehicles/{key}/vehicle_data"
#: What bench/vehicle_data_app.py can serve: Pitstop as it is, or with one sketch applied.
VARIANTS = ("as-is", "routes-reordered", "fast-path")


def vehicle_data_first(app: Starlette) -> Starlette:
    """The same app (same route objects, handlers, state, lifespan) with vehicle_data tried first."""
    first = next(r for r in app.routes if getattr(r, "path", "") == ROUTE)
    reordered = Starlette(
        routes=[first, *(r for r in app.routes if r is not first)],
        exception_handlers=app.exception_handlers,
        lifespan=app.router.lifespan_context,
    )
    reordered.state.runtime = app.state.runtime
    reordered.state.draining = False
    return reordered


def fast_path(app: ASGIApp, rt: Runtime) -> ASGIApp:
    """A SKETCH of the suggested change (not Pitstop code): answer a plain vehicle_data GET whose
    body is cached, for a valid token with the scope and the caller's own online car, straight
    from ASGI before Starlette's middlewares and router; anything else (a query string, any
    error, a stale cache) falls through to the full app, which answers exactly as today."""
    prefix, suffix = "/api/1/vehicles/", "/vehicle_data"
    all_sections = fleet_routes.SECTIONS

    async def fast(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            path: str = scope["path"]
            key = path[len(prefix) : -len(suffix)]
            if path.startswith(prefix) and path.endswith(suffix) and key and "/" not in key:
                body = await _cached_body(key, scope)
                if body is not None:
                    await send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", b"application/json"),
                    ]})  # fmt: skip
                    await send({"type": "http.response.body", "body": body})
                    return
        await app(scope, receive, send)

    async def _cached_body(key: str, scope: Scope) -> bytes | None:
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if auth[:7].lower() != b"bearer ":
            return None
        try:
            principal = await rt.tokens.authenticate(auth[7:].strip().decode("latin-1"))
        except ApiError:
            return None
        if scopes.VEHICLE_DEVICE_DATA not in principal.scopes:
            return None
        vehicle = await rt.registry.find(key)
        if vehicle is None or vehicle.owner_id != principal.user_id:
            return None
        live = rt.states.get(vehicle.id)
        cached = fleet_routes._cache.get((vehicle.id, all_sections, False))
        if cached is None or cached[0] != live.version or live.state in (ASLEEP, OFFLINE):
            return None
        scope["pitstop.principal"] = principal
        return cached[1]

    return fast
