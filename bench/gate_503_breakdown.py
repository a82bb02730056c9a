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
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench._common import prepare
from pitstop.accounts.tokens import token_hash
from pitstop.app import create_app
from pitstop.availability.windows import WindowRequest
from pitstop.runtime import Runtime
from pitstop.settings import Settings

VIN = "5YJ3BENCH00000001"
PATH = f"/api/1/vehicles/{VIN}/vehicle_data"


def http_scope(path: str, token: str | None) -> Scope:
    """A scope like uvicorn's for `GET path`, with wrk's headers (and a bearer token)."""
    headers = [(b"host", b"127.0.0.1:8000")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Recorder:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        else:
            self.body = message.get("body", b"")


async def per_call_us(
    call: Callable[[], Awaitable[Any]], *, seconds: float, repeats: int = 7
) -> float:
    """The least of `repeats` runs' microseconds per awaited `call()`: the least disturbed by
    other work on a shared machine."""
    results = []
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds / repeats
        while True:
            for _ in range(200):
                await call()
            n += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        results.append((now - start) / n * 1e6)
    return min(results)


def asgi_call(app: ASGIApp, scope: Scope) -> tuple[Callable[[], Awaitable[None]], Recorder]:
    recorder = Recorder()
    headers = scope["headers"]
    path = list(scope["path"])

    async def call() -> None:
        # Fresh header bytes and path, as the server parses them per request: their hashes
        # are not cached, as they would be if every call shared the same objects.
        fresh = dict(scope)
        fresh["headers"] = [(bytes(bytearray(k)), bytes(bytearray(v))) for k, v in headers]
        fresh["path"] = "".join(path)
        await app(fresh, _receive, recorder.send)

    return call, recorder


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
    check, recorder = asgi_call(app, scope)
    await check()
    if recorder.status != 503:
        raise RuntimeError(f"the gate answered {recorder.status}: {recorder.body[:200]!r}")
    start: Message = {"type": "http.response.start", "status": 503, "headers": recorder.headers}
    body: Message = {"type": "http.response.body", "body": recorder.body}

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send(body)

    anonymous, anonymous_recorder = asgi_call(app, http_scope(PATH, None))
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
        ("raw ASGI answer (the gate's status, headers, body)", asgi_call(raw, scope)[0]),
        ("Pitstop's 503, owner's token (the real app)", check),
        ("Pitstop's 503, no token", anonymous),
        ("  part: Tokens.cached(token)", cached_principal),
        ("  part: token_hash (sha256 of the JWT)", hash_only),
    ]
    base = 0.0
    rows = []
    for name, call in lines:
        us = await per_call_us(call, seconds=args.seconds)
        if call is nothing:
            base = us
        rows.append((name, us - base))
    print(f"{'what':62} µs/request")
    for name, us in rows:
        print(f"{name:62} {us:8.2f}")
    raw_us = rows[1][1]
    print(f"Pitstop over raw, owner's token: {rows[2][1] - raw_us:.2f} µs")
    if args.pyinstrument:
        await profile(check, seconds=max(args.seconds, 3.0))


async def profile(call: Callable[[], Awaitable[Any]], *, seconds: float) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("--pyinstrument needs pyinstrument (a dev dependency: uv sync)", file=sys.stderr)
        return
    profiler = Profiler(interval=0.0001, async_mode="disabled")
    profiler.start()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            await call()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per line (default 2)")
    parser.add_argument("--pyinstrument", action="store_true", help="profile the 503")
    args = parser.parse_args()
    if not 0.1 <= args.seconds <= 30:
        parser.error("--seconds between 0.1 and 30")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
