"""Running the ASGI app on a real socket: for `pitstop serve`, `pitstop demo` and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningServer:
    url: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def start(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> RunningServer:
    """Serve `app` in this event loop until `stop()`; port 0 picks a free one."""
    sock = bind(host, port)
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", ws_ping_interval=20, timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
    while not server.started:
        if task.done():
            sock.close()
            await task  # raises the start-up error
            raise RuntimeError("the server stopped while starting")
        await asyncio.sleep(0.01)
    bound = sock.getsockname()[1]
    url = listening_url(host, bound)
    _tell_links(app, url)
    return RunningServer(url=url, port=bound, server=server, task=task)


def listening_url(host: str, port: int) -> str:
    """The URL of a server bound to `host`:`port` (all interfaces: this machine's loopback)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def _tell_links(app: object, url: str) -> None:
    """Links in notifications point where the server listens until someone says better."""
    rt = getattr(getattr(app, "state", None), "runtime", None)
    if rt is not None:
        rt.notify.links.listening(url)


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, **kwargs: object) -> AsyncIterator[RunningServer]:
    running = await start(app, **kwargs)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        await running.stop()


def run(
    *, host: str, port: int, workers: int = 1, grace: float = 5.0, timeout: float = 20.0
) -> None:
    """`pitstop serve`: one process per worker on a shared socket, each draining on SIGTERM."""
    import multiprocessing
    import signal

    sock = bind(host, port)
    if workers <= 1:
        _worker(sock, grace, timeout)
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_worker, args=(sock, grace, timeout)) for _ in range(workers)
    ]
    for child in children:
        child.start()

    def forward(sig: int, _frame: object) -> None:
        for child in children:
            if child.pid is not None:
                os.kill(child.pid, sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    sys.exit(max((child.exitcode or 0) for child in children))


def _worker(sock: socket.socket, grace: float, timeout: float) -> None:
    from pitstop.app import from_environment
    from pitstop.availability.drain import DrainingServer

    app = from_environment()
    host, port = sock.getsockname()[:2]
    _tell_links(app, listening_url(host, port))
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="info",
        ws_ping_interval=20,
        timeout_graceful_shutdown=int(timeout),
        access_log=False,
    )
    DrainingServer(config, app=app, grace=grace).run(sockets=[sock])
