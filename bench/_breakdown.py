"""What the in-process breakdowns share (bench/*_breakdown.py): ASGI calls in a hot loop, no
sockets, timed per call, and a pyinstrument profile of one of them."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Scope


def http_scope(path: str, token: str | None, query: bytes = b"") -> Scope:
    """A scope like uvicorn's for `GET path?query`, with wrk's headers (and a bearer token)."""
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
        "query_string": query,
        "headers": headers,
        "state": {},
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Recorder:
    """What the app answered: status, headers, body."""

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
    call: Callable[[], Awaitable[Any]], *, seconds: float, repeats: int
) -> list[float]:
    """Microseconds per awaited `call()`, for each of `repeats` runs sharing `seconds`."""
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
    return results


def asgi_call(
    app: ASGIApp, scope: Scope, *, fresh: bool = False
) -> tuple[Callable[[], Awaitable[None]], Recorder]:
    """An awaitable call of `app` with `scope` and what it answered. `fresh`: new header bytes
    and path on every call, as a server parses them (shared objects keep their hashes cached,
    which flatters every dictionary lookup on them)."""
    recorder = Recorder()
    headers = scope["headers"]
    path = list(scope["path"])

    async def call() -> None:
        await app(dict(scope), _receive, recorder.send)

    async def fresh_call() -> None:
        copy = dict(scope)
        copy["headers"] = [(bytes(bytearray(k)), bytes(bytearray(v))) for k, v in headers]
        copy["path"] = "".join(path)
        await app(copy, _receive, recorder.send)

    return (fresh_call if fresh else call), recorder


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


def print_rows(rows: list[tuple[str, float]]) -> None:
    print(f"{'what':62} µs/request")
    for name, us in rows:
        print(f"{name:62} {us:8.2f}")


def arguments(doc: str | None, *, profile_help: str) -> argparse.Namespace:
    """The breakdowns' command line: `--seconds` per line, `--pyinstrument`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per line (default 2)")
    parser.add_argument("--pyinstrument", action="store_true", help=profile_help)
    args = parser.parse_args()
    if not 0.1 <= args.seconds <= 30:
        parser.error("--seconds between 0.1 and 30")
    return args
