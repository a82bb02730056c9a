"""Helpers for the client and CLI tests: an asleep car, a port nobody listens on."""

from __future__ import annotations

import socket

from pitstop.sim.car import SimulatedCar
from tests.world import Account, World

#: A car that dozes off after this many idle seconds (the default is 15 minutes).
SLEEPY_AFTER_S = 2.0


async def asleep_car(world: World, owner: Account, **kwargs: object) -> SimulatedCar:
    """A real simulated car that has fallen asleep on its own (and wakes in 0.2 s when asked)."""
    car = await world.car(owner, sleep_timeout_s=SLEEPY_AFTER_S, wake_duration_s=0.2, **kwargs)
    vehicle = await world.rt.registry.find(car.vin)
    assert vehicle is not None
    await world.eventually(lambda: world.rt.states.get(vehicle.id).state == "asleep")
    return car


def closed_port_url() -> str:
    """The URL of a local port that refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
