"""A running Pitstop for tests: a real server on a real port, accounts, and simulated cars."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from pitstop.accounts.users import User
from pitstop.clock import Clock
from pitstop.runtime import Runtime
from pitstop.server import RunningServer, start
from pitstop.sim.car import SimulatedCar
from pitstop.sim.model import CarModel

_vins = itertools.count(1)


def new_vin() -> str:
    return f"5YJ3E1EA7PF{next(_vins):06d}"


@dataclass
class Account:
    user: User
    token: str
    password: str


@dataclass
class World:
    app: Starlette
    clock: Clock
    server: RunningServer
    cars: list[tuple[SimulatedCar, asyncio.Task[None]]] = field(default_factory=list)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, app: Starlette, clock: Clock) -> AsyncIterator[World]:
        server = await start(app)
        world = cls(app, clock, server)
        try:
            yield world
        finally:
            for _, task in world.cars:
                task.cancel()
            for _, task in world.cars:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def rt(self) -> Runtime:
        rt: Runtime = self.app.state.runtime
        return rt

    async def account(
        self, email: str, *, role: str = "owner", scopes: frozenset[str] | None = None
    ) -> Account:
        password = "correct horse battery"
        user = await self.rt.users.create(email, password, role=role, full_name=email.split("@")[0])
        grant = await self.rt.tokens.issue(user, scopes, client_id="tests")
        return Account(user, grant.access_token, password)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=15)

    async def car(
        self,
        owner: Account,
        *,
        vin: str | None = None,
        name: str = "Test car",
        setup: Callable[[CarModel], None] | None = None,
        connect: bool = True,
        **model_kwargs: object,
    ) -> SimulatedCar:
        vin = vin or new_vin()
        _vehicle, secret = await self.rt.registry.register(
            owner_id=owner.user.id, vin=vin, display_name=name
        )
        model = CarModel(
            vin=vin, now=self.clock.now(), name=name, rng=random.Random(1), **model_kwargs
        )  # type: ignore[arg-type]
        if setup:
            setup(model)
        car = SimulatedCar(
            server_url=self.url,
            vin=vin,
            secret=secret,
            model=model,
            clock=self.clock,
            tick=0.05,
            rng=random.Random(2),
        )
        if connect:
            self.start(car)
            await asyncio.wait_for(car.connected.wait(), 10)
            await self.settled(car)
        return car

    def start(self, car: SimulatedCar) -> asyncio.Task[None]:
        task = asyncio.create_task(car.run())
        self.cars.append((car, task))
        return task

    async def settled(self, car: SimulatedCar, timeout: float = 10) -> None:
        """Wait until the server has stored everything the car has sent so far."""
        async with asyncio.timeout(timeout):
            while car.unacked:
                await asyncio.sleep(0.02)

    async def eventually(self, check: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.02)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
