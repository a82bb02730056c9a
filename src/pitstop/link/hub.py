"""The server side of the car link: which cars are connected here, and talking to them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from pitstop.clock import Clock
from pitstop.fleet.registry import Registry, Vehicle
from pitstop.link import protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandOutcome:
    result: bool
    reason: str = ""


class VehicleUnavailable(Exception):
    """The car is not connected, asleep, or did not answer in time."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class VehicleLink:
    """One car's open WebSocket."""

    vehicle: Vehicle
    websocket: WebSocket
    pending: dict[str, asyncio.Future[CommandOutcome]] = field(default_factory=dict)
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: protocol.ServerMessage) -> None:
        async with self._send_lock:
            await self.websocket.send_bytes(protocol.encode(message))

    def resolve(self, result: protocol.CommandResult) -> None:
        future = self.pending.pop(result.id, None)
        if future is not None and not future.done():
            future.set_result(CommandOutcome(result.result, result.reason))

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(VehicleUnavailable("the car disconnected"))
        self.pending.clear()


class LinkHub:
    def __init__(
        self,
        registry: Registry,
        clock: Clock,
        *,
        command_timeout: float = 10.0,
        command_expiry: float = 30.0,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.command_timeout = command_timeout
        self.command_expiry = command_expiry
        self.links: dict[int, VehicleLink] = {}

    def attach(self, link: VehicleLink) -> VehicleLink | None:
        """Register a car's link; returns the link it replaces (a car reconnecting)."""
        old = self.links.get(link.vehicle.id)
        self.links[link.vehicle.id] = link
        return old

    def detach(self, link: VehicleLink) -> None:
        if self.links.get(link.vehicle.id) is link:
            del self.links[link.vehicle.id]
        link.fail_pending()

    def connected(self, vehicle_id: int) -> bool:
        return vehicle_id in self.links

    async def command(self, vehicle: Vehicle, name: str, params: dict[str, Any]) -> CommandOutcome:
        """Sign, send and await one command; raises VehicleUnavailable if the car cannot answer."""
        link = self.links.get(vehicle.id)
        if link is None:
            raise VehicleUnavailable("the car is not connected")
        counter = await self.registry.next_counter(vehicle.id)
        expires_at = int((self.clock.timestamp() + self.command_expiry) * 1000)
        command = protocol.sign(
            protocol.Command(
                id=uuid.uuid4().hex,
                name=name,
                params=params,
                counter=counter,
                expires_at=expires_at,
            ),
            vin=vehicle.vin,
            key=vehicle.command_key,
        )
        future: asyncio.Future[CommandOutcome] = asyncio.get_running_loop().create_future()
        link.pending[command.id] = future
        try:
            await link.send(command)
            return await asyncio.wait_for(future, self.command_timeout)
        except TimeoutError as exc:
            raise VehicleUnavailable("the car did not answer in time") from exc
        except (OSError, RuntimeError) as exc:
            raise VehicleUnavailable("the link to the car broke") from exc
        finally:
            link.pending.pop(command.id, None)

    async def wake(self, vehicle: Vehicle) -> bool:
        """Ask a connected car to wake; False if it has no link here."""
        link = self.links.get(vehicle.id)
        if link is None:
            return False
        try:
            await link.send(protocol.Wake())
        except (OSError, RuntimeError):
            return False
        return True

    async def reconnect_all(self, after_ms: int = 0) -> None:
        """Tell every car to reconnect (the process is draining)."""
        for link in list(self.links.values()):
            try:
                await link.send(protocol.Reconnect(after_ms=after_ms))
            except (OSError, RuntimeError):
                pass
