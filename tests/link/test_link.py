"""The car link on real WebSockets: sign-in, late commands, and no gaps in history."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pitstop.app import create_app
from pitstop.clock import ScaledClock
from pitstop.link import protocol
from pitstop.server import start
from pitstop.settings import Settings
from pitstop.sim.car import SimulatedCar, link_url
from pitstop.sim.model import CarModel
from tests.world import World, new_vin


async def test_a_car_with_a_wrong_secret_cannot_connect(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, connect=False)
    for headers in ({"Authorization": "Bearer wrong", protocol.VIN_HEADER: car.vin}, {}):
        with pytest.raises(InvalidStatus) as caught:
            async with connect(link_url(world.url), additional_headers=headers):
                pass
        assert caught.value.response.status_code == 403


async def test_the_car_refuses_a_command_that_arrives_after_its_expiry(world: World) -> None:
    """An unlock can never run late: a car whose clock is past the expiry refuses it."""
    ada = await world.account("ada@example.com")
    late = ScaledClock(world.clock, 1.0, origin=world.clock.now() + timedelta(seconds=120))
    model = CarModel(vin=new_vin(), now=late.now())
    _vehicle, secret = await world.rt.registry.register(owner_id=ada.user.id, vin=model.vin)
    car = SimulatedCar(
        server_url=world.url, vin=model.vin, secret=secret, model=model, clock=late, tick=0.05
    )
    world.start(car)
    await asyncio.wait_for(car.connected.wait(), 10)
    await world.settled(car)
    async with world.client(ada.token) as http:
        r = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
    assert r.status_code == 200
    assert r.json()["response"] == {"result": False, "reason": "command_expired"}
    assert car.model.signals()["vehicle_state.locked"] is True
    assert car.refused == [("door_unlock", "command_expired")]


async def test_telemetry_survives_a_server_restart_without_gaps(
    world: World, settings: Settings
) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, setup=lambda m: m.start_driving("berlin-mitte"))
    car.min_intervals = {}  # every tick a record, to make the gap obvious if there were one
    car.tick = 0.05
    await asyncio.sleep(0.5)
    port = world.server.port
    await world.server.stop()
    sent_before = car.seq
    await asyncio.sleep(1.0)  # the car keeps driving and recording, with no server
    assert car.seq > sent_before and car.unacked
    app = create_app(settings, clock=world.clock)
    server = await start(app, port=port)
    try:
        await world.eventually(lambda: car.connections >= 2, timeout=20)
        await asyncio.sleep(0.3)
        await world.settled(car)
        history = await app.state.runtime.states.history(
            (await app.state.runtime.registry.by_vin(car.vin)).id, limit=100_000
        )
        seqs = [seq for seq, _, _ in history]
        assert seqs == list(range(1, seqs[-1] + 1))
        assert seqs[-1] >= car.seq - 2  # all but what is in flight right now
    finally:
        await server.stop()


async def test_the_server_remembers_the_last_state_across_a_restart(
    world: World, settings: Settings
) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, battery_level=61.0)
    world.cars[-1][1].cancel()
    await world.server.stop()
    app = create_app(settings, clock=world.clock)
    server = await start(app, port=world.server.port)
    try:
        rt = app.state.runtime
        vehicle = await rt.registry.by_vin(car.vin)
        live = rt.states.get(vehicle.id)
        assert live.sections["charge_state"]["battery_level"] == 61
        assert live.state == "offline"
    finally:
        await server.stop()
