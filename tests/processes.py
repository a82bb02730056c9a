"""Real `pitstop serve` processes for tests, and a small load balancer to put in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sys
from dataclasses import dataclass, field

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    output: bytes = b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> ServerProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pitstop",
            "serve",
            "--port",
            str(self.port),
            env={**os.environ, **self.env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with httpx.AsyncClient() as http, asyncio.timeout(30):
            while True:
                assert self.process.returncode is None, "the server exited while starting"
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return self
                await asyncio.sleep(0.05)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        out, _ = await asyncio.wait_for(self.process.communicate(), timeout)
        self.output += out or b""
        assert self.process.returncode is not None
        return self.process.returncode

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.signal(signal.SIGKILL)
            await self.wait()


class Balancer:
    """Round-robin TCP balancer that only sends new connections to backends whose /readyz
    answered 200 at the last health check, as HAProxy or nginx would."""

    def __init__(self, backends: list[ServerProcess], *, check_every: float = 0.1) -> None:
        self.backends = backends
        self.check_every = check_every
        self.ready: dict[int, bool] = {}
        self.connections: dict[int, int] = {}
        self.port = 0
        self._server: asyncio.Server | None = None
        self._checker: asyncio.Task[None] | None = None
        self._turn = itertools.count()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Balancer:
        await self._check_once()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._checker = asyncio.create_task(self._check_forever())
        return self

    async def stop(self) -> None:
        if self._checker:
            self._checker.cancel()
        if self._server:
            self._server.close()

    async def _check_once(self) -> None:
        async with httpx.AsyncClient(timeout=0.5) as http:
            for backend in self.backends:
                try:
                    ok = (await http.get(f"{backend.url}/readyz")).status_code == 200
                except httpx.TransportError:
                    ok = False
                self.ready[backend.port] = ok

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            await self._check_once()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ready = [b for b in self.backends if self.ready.get(b.port)]
        if not ready:
            writer.transport.abort()
            return
        backend = ready[next(self._turn) % len(ready)]
        self.connections[backend.port] = self.connections.get(backend.port, 0) + 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend.port)
        except OSError:
            writer.transport.abort()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
