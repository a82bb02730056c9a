"""Where a vehicle_data request spends its time inside the app: ASGI calls in a loop, no sockets.

    .venv/bin/python -m bench.vehicle_data_breakdown                  # the table
    .venv/bin/python -m bench.vehicle_data_breakdown --pyinstrument   # and a profile of Pitstop's

The HTTP server's own cost (parsing, syscalls) is the same for every variant and is left out:
each line is microseconds per request spent in the ASGI app alone, from a bare ASGI answer up to
the real Pitstop app (real SQLite, a real token, a car with telemetry merged into its state): a
plain read, answered by the fast path (pitstop/fleet/fast.py), and the same read with
`?endpoints=` naming every section, which the fast path leaves to the router and the route.
With bench/vehicle_data.py's server-side cost of a raw request (server CPU / req/s), this says
how many microseconds Pitstop may spend for a given pitstop/raw ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bench._breakdown import (
    arguments,
    asgi_call,
    http_scope,
    per_call_us,
    print_rows,
    profile,
)
from bench._common import prepare
from pitstop.accounts import scopes
from pitstop.accounts.auth import authenticate
from pitstop.accounts.tokens import token_hash
from pitstop.app import create_app
from pitstop.clock import SystemClock
from pitstop.fleet import routes as fleet_routes
from pitstop.runtime import Runtime
from pitstop.settings import Settings
from pitstop.sim.fleet import CarCredential, build_model

VIN = "5YJ3BENCH00000001"
PATH = f"/api/1/vehicles/{VIN}/vehicle_data"
ROUTE = "/api/1/vehicles/{key}/vehicle_data"


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="pitstop-breakdown-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        setup = await prepare(data_dir, vins=[VIN])
        app = create_app(Settings(data_dir=data_dir, secret_key=setup.secret_key))
        async with app.router.lifespan_context(app):
            rt: Runtime = app.state.runtime
            vehicle = await rt.registry.by_vin(VIN)
            assert vehicle is not None
            # A parked car's telemetry, merged as the link would.
            model = build_model(
                CarCredential(VIN, setup.cars[VIN]),
                "parked",
                now_clock=SystemClock(),
                rng=random.Random(1),
            )
            signals = {"state": model.state, **model.signals()}
            rt.states.set_connected(vehicle.id, True)
            rt.states.apply(vehicle.id, 1, int(time.time() * 1000), signals, None)
            await measure(args, app, rt, setup.owner_token, vehicle.id)
    return 0


async def measure(
    args: argparse.Namespace, app: Starlette, rt: Runtime, token: str, vehicle_id: int
) -> None:
    scope = http_scope(PATH, token)
    check, recorder = asgi_call(app, scope)
    await check()
    if recorder.status != 200:
        raise RuntimeError(f"vehicle_data answered {recorder.status}: {recorder.body[:200]!r}")
    body = recorder.body
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def cached(request: Request) -> Response:
        return Response(body, media_type="application/json")

    one_route = Starlette(routes=[Route("/api/1/vehicles/{key}/vehicle_data", cached)])
    # Pitstop's route table and exception handlers, with a trivial endpoint at vehicle_data.
    same_table = Starlette(
        routes=[
            Route(r.path, cached) if r.path.endswith("/vehicle_data") else r  # type: ignore[attr-defined]
            for r in app.routes
        ],
        exception_handlers=app.exception_handlers,
    )
    # The same read with a query string: past the fast path, through the router and the route.
    route_scope = http_scope(PATH, token, b"endpoints=" + ";".join(fleet_routes.SECTIONS).encode())
    route_call, route_recorder = asgi_call(app, route_scope)
    await route_call()
    if route_recorder.body != body:
        raise RuntimeError("vehicle_data?endpoints=(every section) differs from vehicle_data")
    request = Request({**scope, "app": app})
    raw_token = token

    async def pitstop_authenticate() -> None:
        await authenticate(request, scopes.VEHICLE_DEVICE_DATA)

    async def tokens_authenticate() -> None:
        await rt.tokens.authenticate(raw_token)

    async def hash_only() -> None:
        token_hash(raw_token)

    async def clock_now() -> None:
        rt.clock.now()

    async def registry_find() -> None:
        await rt.registry.find(VIN)

    async def sections() -> None:
        fleet_routes._requested_sections(request, request.scope["pitstop.principal"])

    async def new_request() -> None:
        Request(scope)

    async def new_response() -> None:
        Response(body, media_type="application/json")

    async def nothing() -> None:
        pass

    await pitstop_authenticate()  # sets scope["pitstop.principal"] for `sections`
    lines: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("empty awaited call (loop overhead, subtracted below)", nothing),
        ("raw ASGI answer", asgi_call(raw, scope)[0]),
        ("Starlette, 1 route, cached Response", asgi_call(one_route, scope)[0]),
        (
            "Starlette, Pitstop's routes and handlers, cached Response",
            asgi_call(same_table, scope)[0],
        ),
        ("Pitstop vehicle_data (the real app: the fast path)", check),
        ("Pitstop vehicle_data?endpoints=(all): router and route", route_call),
        ("  part: auth.authenticate(request, scope)", pitstop_authenticate),
        ("  part:   Tokens.authenticate(raw) (cache hit)", tokens_authenticate),
        ("  part:     token_hash (sha256 of the JWT)", hash_only),
        ("  part:     clock.now() (datetime)", clock_now),
        ("  part: registry.find(VIN)", registry_find),
        ("  part: _requested_sections (no query)", sections),
        ("  part: Request(scope)", new_request),
        ("  part: Response(body)", new_response),
    ]
    base = 0.0
    rows = []
    for name, call in lines:
        us = statistics.median(await per_call_us(call, seconds=args.seconds, repeats=5))
        if call is nothing:
            base = us
        rows.append((name, us - base))
    paths = [getattr(r, "path", "") for r in app.routes]
    print(f"route table: {len(paths)} routes; vehicle_data is number {paths.index(ROUTE) + 1}")
    print_rows(rows)
    if args.pyinstrument:
        await profile(check, seconds=max(args.seconds, 3.0))


def main() -> int:
    return asyncio.run(run(arguments(__doc__, profile_help="profile the Pitstop loop")))


if __name__ == "__main__":
    sys.exit(main())
