"""A simulated car on the link: streams its model's telemetry and runs the server's commands.

Like a real car it keeps every telemetry record, numbered, until the server acknowledges it,
and resends the rest after reconnecting (with backoff and jitter), so history has no gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Mapping
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pitstop.clock import Clock, SystemClock
from pitstop.link import protocol
from pitstop.sim.model import CarModel

log = logging.getLogger(__name__)

#: Minimum wall seconds between two reports of a signal, by signal ("section.field") or by
#: section; a command's effects and the car's state are reported at once.
DEFAULT_MIN_INTERVALS: Mapping[str, float] = {
    "vehicle_state.locked": 0.0,
    "charge_state.charging_state": 0.0,
    "drive_state.shift_state": 0.0,
    "drive_state": 1.0,
    "charge_state": 2.0,
    "climate_state": 5.0,
    "vehicle_state": 1.0,
    "gui_settings": 60.0,
    "vehicle_config": 60.0,
    "charge_schedule_data": 1.0,
}


def link_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + protocol.PATH


class SimulatedCar:
    def __init__(
        self,
        *,
        server_url: str,
        vin: str,
        secret: str,
        model: CarModel,
        clock: Clock | None = None,
        physics_clock: Clock | None = None,
        tick: float = 1.0,
        min_intervals: Mapping[str, float] = DEFAULT_MIN_INTERVALS,
        max_backoff: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        """`clock` is wall time (command expiry, report intervals, backoff; default: the system's);
        `physics_clock` drives the model (default: `clock`; a ScaledClock runs hours in minutes).
        `tick` is the wall seconds between two physics steps."""
        self.url = link_url(server_url)
        self.vin = vin
        self.secret = secret
        self.key = protocol.command_key(secret)
        self.model = model
        self.clock = clock or SystemClock()
        self.physics_clock = physics_clock or self.clock
        self.tick = tick
        self.min_intervals = min_intervals
        self.max_backoff = max_backoff
        self.rng = rng or random.Random()
        self.guard = protocol.ReplayGuard()
        #: Records not yet acknowledged by the server, oldest first.
        self.unacked: deque[protocol.Telemetry] = deque()
        self.seq = 0
        self.connected = asyncio.Event()
        self.connections = 0
        self.refused: list[tuple[str, str]] = []  # (command name, reason), for tests and logs
        self._reported: dict[str, Any] = {}
        self._reported_at: dict[str, float] = {}
        self._ws: ClientConnection | None = None

    # --- telemetry -----------------------------------------------------------------------

    def _interval(self, key: str) -> float:
        if key == "state":
            return 0.0
        if key in self.min_intervals:
            return self.min_intervals[key]
        return self.min_intervals.get(key.partition(".")[0], 1.0)

    def step(self, *, force: bool = False) -> protocol.Telemetry | None:
        """Advance the model to now and record what changed (respecting minimum intervals)."""
        self.model.advance_to(self.physics_clock.now())
        now = self.clock.timestamp()
        current: dict[str, Any] = {"state": self.model.state}
        if self.model.state == "online":  # a sleeping car does not stream
            current.update(self.model.signals())
        changed = {
            k: v
            for k, v in current.items()
            if self._reported.get(k, _MISSING) != v
            and (force or now - self._reported_at.get(k, -1e18) >= self._interval(k))
        }
        if not changed:
            return None
        self._reported.update(changed)
        self._reported_at.update(dict.fromkeys(changed, now))
        self.seq += 1
        record = protocol.Telemetry(seq=self.seq, ts=int(now * 1000), signals=changed)
        self.unacked.append(record)
        return record

    def _number_after(self, last_seq: int) -> None:
        """Renumber the records kept so far to follow the server's `last_seq`.

        On this process's first connection none of them has reached the server, whatever
        their numbers: a sim started afresh counts from 1 while the server remembers the
        numbers of the run before, and would drop the new run's first, complete snapshot.
        """
        for i, record in enumerate(self.unacked, start=1):
            record.seq = last_seq + i
        self.seq = last_seq + len(self.unacked)

    def _forget_through(self, seq: int) -> None:
        while self.unacked and self.unacked[0].seq <= seq:
            self.unacked.popleft()

    # --- the link ------------------------------------------------------------------------

    async def run(self) -> None:
        """Drive and stay connected until cancelled."""
        ticker = asyncio.create_task(self._tick_forever(), name=f"car-{self.vin}-physics")
        try:
            await self._stay_connected()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def _tick_forever(self) -> None:
        while True:
            record = self.step()
            if record is not None:
                await self._send(record)
            await self.clock.sleep(self.tick)

    async def _send(self, message: msgspec.Struct) -> None:
        ws = self._ws
        if ws is None:
            return  # kept in `unacked`; resent after reconnecting
        with contextlib.suppress(ConnectionClosed):
            await ws.send(protocol.encode(message))

    async def _stay_connected(self) -> None:
        backoff = 0.5
        while True:
            delay = 0.0
            try:
                async with connect(
                    self.url,
                    additional_headers={
                        "Authorization": f"Bearer {self.secret}",
                        protocol.VIN_HEADER: self.vin,
                    },
                    open_timeout=10,
                    max_queue=256,
                ) as ws:
                    backoff = 0.5
                    delay = await self._session(ws)
            except InvalidStatus as exc:
                log.warning("car %s: the server refused the link (%s)", self.vin, exc)
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                log.info("car %s: link lost (%s)", self.vin, exc)
            finally:
                self._ws = None
                self.connected.clear()
            # Full jitter: cars that lost the server together do not come back together.
            wait = max(delay, self.rng.uniform(0, backoff))
            backoff = min(self.max_backoff, backoff * 2)
            await self.clock.sleep(wait)

    async def _session(self, ws: ClientConnection) -> float:
        """Serve one connection; returns the delay the server asked for before reconnecting."""
        async for raw in ws:
            message = protocol.server_decoder.decode(raw)
            if isinstance(message, protocol.Welcome):
                if self.connections == 0:
                    self._number_after(message.last_seq)
                self._forget_through(message.last_seq)
                self.seq = max(self.seq, message.last_seq)
                for record in list(self.unacked):
                    await ws.send(protocol.encode(record))
                self._ws = ws
                self.connections += 1
                self.connected.set()
            elif isinstance(message, protocol.Ack):
                self._forget_through(message.seq)
            elif isinstance(message, protocol.Command):
                await self._run_command(ws, message)
            elif isinstance(message, protocol.Wake):
                self.model.wake()
            elif isinstance(message, protocol.Reconnect):
                await ws.close()
                return message.after_ms / 1000 + self.rng.uniform(0, 1.0)
        return 0.0

    async def _run_command(self, ws: ClientConnection, command: protocol.Command) -> None:
        reason = protocol.verify(
            command,
            vin=self.vin,
            key=self.key,
            now_ms=int(self.clock.timestamp() * 1000),
            guard=self.guard,
        )
        if reason is None and self.model.state != "online":
            reason = "vehicle_asleep"
        if reason is not None:
            self.refused.append((command.name, reason))
            await ws.send(protocol.encode(protocol.CommandResult(command.id, False, reason)))
            return
        self.model.advance_to(self.physics_clock.now())
        outcome = self.model.apply(command.name, dict(command.params))
        # Report the command's effect before its result, so a read right after the answer sees it.
        record = self.step(force=True)
        if record is not None:
            await ws.send(protocol.encode(record))
        await ws.send(
            protocol.encode(protocol.CommandResult(command.id, outcome.result, outcome.reason))
        )


_MISSING = object()
