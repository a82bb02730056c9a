"""Where the gate's 503 (a full window) spends its time inside the app: ASGI calls, no sockets.

    .venv/bin/python -m bench.gate_503_breakdown                  # the table
    .venv/bin/python -m bench.gate_503_breakdown --pyinstrument   # and a profile of the 503

The HTTP server's own cost (parsing, syscalls) is the same for the gate and for a raw answer and
is left out: each line is microseconds per request spent in the ASGI app alone. The real app
(`create_app`, real SQLite) has a window of the whole service in progress; the request is
bench/gate_503.py's (`GET .../vehicle_data` with an owner's token), answered 503 by the gate.
With bench/gate_503.py's server CPU per raw request (about 20-25 µs), this says how many
microseconds the gate may spend for a given gate/raw ratio: 0.9 leaves about 2.5 µs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench._breakdown import (
    arguments,
    asgi_call,
    http_scope,
    per_call_us,
    print_rows,
    profile,
)
from bench._common import prepare
from pitstop.accounts.tokens import token_hash
from pitstop.app import create_app
from pitstop.availability.windows import WindowRequest
from pitstop.runtime import Runtime
from pitstop.settings import Settings

VIN = "5YJ3BENCH00000001"
PATH = f"/api/1/vehicles/{VIN}/vehicle_data"


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="pitstop-breakdown-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        setup = await prepare(data_dir, vins=[VIN])
        app = create_app(Settings(data_dir=data_dir, secret_key=setup.secret_key))
        async with app.router.lifespan_context(app):
            rt: Runtime = app.state.runtime
            now = rt.clock.now()
            request = WindowRequest(
                title="Database upgrade",
                reason="security_update",
                description="Moving to a new database server.",
                starts_at=now + timedelta(hours=1),
                duration_minutes=180,
            )
            window = await rt.windows.schedule(request, "bench")
            await rt.windows.start(window.id, "bench")
            await rt.maintenance.refresh()
            await measure(args, app, rt, setup.owner_token)
    return 0


async def measure(args: argparse.Namespace, app: ASGIApp, rt: Runtime, token: str) -> None:
    scope = http_scope(PATH, token)
    check, recorder = asgi_call(app, scope, fresh=True)
    await check()
    if recorder.status != 503:
        raise RuntimeError(f"the gate answered {recorder.status}: {recorder.body[:200]!r}")
    start: Message = {"type": "http.response.start", "status": 503, "headers": recorder.headers}
    body: Message = {"type": "http.response.body", "body": recorder.body}

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send(body)

    anonymous, anonymous_recorder = asgi_call(app, http_scope(PATH, None), fresh=True)
    await anonymous()
    if anonymous_recorder.status != 503:
        raise RuntimeError(f"the gate answered {anonymous_recorder.status} with no token")

    async def cached_principal() -> None:
        rt.tokens.cached(token)

    async def hash_only() -> None:
        token_hash(token)

    async def nothing() -> None:
        pass

    lines: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("empty awaited call (loop overhead, subtracted below)", nothing),
        (
            "raw ASGI answer (the gate's status, headers, body)",
            asgi_call(raw, scope, fresh=True)[0],
        ),
        ("Pitstop's 503, owner's token (the real app)", check),
        ("Pitstop's 503, no token", anonymous),
        ("  part: Tokens.cached(token)", cached_principal),
        ("  part: token_hash (sha256 of the JWT)", hash_only),
    ]
    base = 0.0
    rows = []
    for name, call in lines:
        # The least of 7 runs: the least disturbed by other work on a shared machine.
        us = min(await per_call_us(call, seconds=args.seconds, repeats=7))
        if call is nothing:
            base = us
        rows.append((name, us - base))
    print_rows(rows)
    raw_us = rows[1][1]
    print(f"Pitstop over raw, owner's token: {rows[2][1] - raw_us:.2f} µs")
    if args.pyinstrument:
        await profile(check, seconds=max(args.seconds, 3.0))


def main() -> int:
    return asyncio.run(run(arguments(__doc__, profile_help="profile the 503")))


if __name__ == "__main__":
    sys.exit(main())
