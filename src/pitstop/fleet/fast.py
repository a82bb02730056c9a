"""vehicle_data's fast path: the hottest read, answered before Starlette's routing.

Why it exists: clients poll `GET /api/1/vehicles/{id}/vehicle_data`, and the route already
answers it from a cached body while the car's state is unchanged. Profiled under load (py-spy,
bench/vehicle_data.py), most of the server's time for that request went to the framework, not
to Pitstop: Starlette's exception wrappers, matching the path against the route table, building
`Request`, `QueryParams`, `Headers` and `Response` objects. This middleware answers the plain
case straight from the same caches, with no I/O, and leaves everything else to the route.

It answers only when ALL of these hold; otherwise it passes the request on untouched and the
router answers exactly as it would without it:

- an HTTP `GET` (not HEAD) of exactly `/api/1/vehicles/{key}/vehicle_data`, no query string;
- the process is not draining, and the gate did not mark the request read-only;
- an `Authorization: Bearer` token that the token cache vouches for (the route checked it
  within `token_cache_ttl` seconds, and it is neither revoked here nor expired), with the
  `vehicle_device_data` scope;
- `key` (id, id_s or VIN) is, in the in-memory registry, a car of that token's owner;
- the car is neither asleep nor offline;
- the route has cached the body of this very request (every section, no location) for the
  car's current state version.

Then it sends that body with the route's status and headers: 200, `content-length`,
`content-type: application/json`. The first request of a token (or after the token cache
expires), or after new telemetry, goes through the route, which fills the caches for the next.

It must sit INSIDE the gate (the gate runs first, in `GatedStarlette.__call__`; this is one of
Starlette's middlewares behind it): the gate has then already
answered 503 for a window, and adds its headers (notice, bypass) to what is sent from here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pitstop.accounts import scopes
from pitstop.accounts.auth import parse_bearer
from pitstop.fleet.routes import cached_vehicle_data
from pitstop.fleet.state import ASLEEP, OFFLINE
from pitstop.responses import JSON
from pitstop.runtime import Runtime

PREFIX = "/api/1/vehicles/"
SUFFIX = "/vehicle_data"
_CONTENT_TYPE = (b"content-type", JSON.encode("latin-1"))


class FastVehicleData:
    """Answers a plain, cached vehicle_data GET; passes everything else on (see the module)."""

    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime
        #: Requests answered here rather than by the route.
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            body = self._cached_answer(scope)
            if body is not None:
                self.answered += 1
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", str(len(body)).encode()), _CONTENT_TYPE],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _cached_answer(self, scope: Scope) -> bytes | None:
        """The body the route would send, if this is the plain case; None otherwise."""
        path: str = scope["path"]
        if (
            scope["method"] != "GET"
            or scope["query_string"]
            or not path.startswith(PREFIX)
            or not path.endswith(SUFFIX)
            or scope.get("pitstop.read_only") is not None
        ):
            return None
        key = path[len(PREFIX) : -len(SUFFIX)]
        if not key or "/" in key:
            return None
        app = scope.get("app")
        if app is not None and getattr(app.state, "draining", False):
            return None
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if header is None:
            return None
        token = parse_bearer(header.decode("latin-1"))
        principal = self.rt.tokens.cached(token) if token is not None else None
        if principal is None or scopes.VEHICLE_DEVICE_DATA not in principal.scopes:
            return None
        vehicle = self.rt.registry.known(key)
        if vehicle is None or vehicle.owner_id != principal.user_id:
            return None
        live = self.rt.states.get(vehicle.id)
        if live.state in (ASLEEP, OFFLINE):
            return None
        body = cached_vehicle_data(vehicle.id, live.version)
        if body is not None:
            scope["pitstop.principal"] = principal  # as the route's authenticate() does
        return body
