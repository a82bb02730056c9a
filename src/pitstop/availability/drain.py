"""Drain: a server told to stop (SIGTERM) leaves without failing a single request.

1. `/readyz` turns 503 at once, so load balancers stop sending new traffic;
2. for `grace` seconds it keeps serving whatever still arrives;
3. it tells its cars to reconnect (to another replica, through the load balancer);
4. it stops accepting connections, finishes requests in flight (up to the graceful-shutdown
   timeout), flushes telemetry, and exits 0.

A second SIGINT skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from pitstop.runtime import Runtime

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, app: Starlette, grace: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace
        self._drain: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded in _captured_signals: uvicorn would re-raise it after shutdown, and a
        # drained server exits 0, not by a signal.
        if self._drain is not None or self._loop is None:
            if sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            return
        self._loop.call_soon_threadsafe(self._begin)

    def _begin(self) -> None:
        self._drain = asyncio.ensure_future(self.drain())

    async def drain(self) -> None:
        log.info("draining: /readyz is 503; stopping in %.1f s", self.grace)
        self.app.state.draining = True
        await asyncio.sleep(self.grace)
        rt: Runtime = self.app.state.runtime
        await rt.hub.reconnect_all(after_ms=500)
        self.should_exit = True
