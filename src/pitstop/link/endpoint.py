"""`/link/v1`: where cars connect."""

from __future__ import annotations

import logging

import msgspec
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from pitstop.accounts.auth import bearer_token
from pitstop.link import protocol
from pitstop.link.hub import VehicleLink
from pitstop.runtime import runtime

log = logging.getLogger(__name__)

#: WebSocket close codes (4000-4999 are the application's).
UNAUTHORIZED = 4401
REPLACED = 4409


async def link(websocket: WebSocket) -> None:
    rt = runtime(websocket)
    vin = websocket.headers.get(protocol.VIN_HEADER, "")
    secret = bearer_token(websocket)
    vehicle = await rt.registry.authenticate_car(vin, secret) if vin and secret else None
    if vehicle is None:
        await websocket.close(UNAUTHORIZED, "unknown car or wrong secret")
        return
    await websocket.accept()
    session = VehicleLink(vehicle, websocket)
    old = rt.hub.attach(session)
    if old is not None:
        await old.websocket.close(REPLACED, "replaced by a newer connection")
    states = rt.states
    states.set_connected(vehicle.id, True)
    await session.send(
        protocol.Welcome(vehicle_id=vehicle.id, last_seq=states.get(vehicle.id).last_seq)
    )

    async def ack(seq: int) -> None:
        await session.send(protocol.Ack(seq=seq))

    try:
        while True:
            data = await _receive(websocket)
            try:
                message = protocol.car_decoder.decode(data)
            except msgspec.DecodeError as exc:
                log.warning("car %s sent a message we cannot read: %s", vehicle.vin, exc)
                continue
            if isinstance(message, protocol.Telemetry):
                states.apply(vehicle.id, message.seq, message.ts, message.signals, ack)
            else:
                session.resolve(message)
    except WebSocketDisconnect:
        pass
    finally:
        rt.hub.detach(session)
        if vehicle.id not in rt.hub.links:
            states.set_connected(vehicle.id, False)


async def _receive(websocket: WebSocket) -> bytes:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("bytes") is not None:
        return bytes(message["bytes"])
    return str(message.get("text", "")).encode()


routes = [WebSocketRoute(protocol.PATH, link)]
