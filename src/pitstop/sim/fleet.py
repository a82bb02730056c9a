"""Fleets of simulated cars: provisioning them on a server and running them together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from pitstop.clock import Clock, ScaledClock, SystemClock
from pitstop.sim.car import SimulatedCar
from pitstop.sim.model import CarModel
from pitstop.sim.routes import ROUTES
from pitstop.sim.spec import MODEL_3, MODEL_Y


@dataclass(frozen=True)
class CarCredential:
    vin: str
    secret: str
    name: str = ""
    car_type: str = "model3"


#: What a car is doing when the simulation starts.
SITUATIONS = ("parked_asleep", "charging", "driving", "parked")


def make_vin(index: int, prefix: str = "5YJ3SVX") -> str:
    """Deterministic, valid-looking VINs: 17 characters, no I, O or Q."""
    return f"{prefix}{index:010d}"[-17:].rjust(17, "0")


def build_model(
    credential: CarCredential,
    situation: str,
    *,
    now_clock: Clock,
    rng: random.Random,
    sleep_timeout_s: float = 900.0,
) -> CarModel:
    if situation not in SITUATIONS:
        raise ValueError(f"situation must be one of {SITUATIONS}, not {situation!r}")
    spec = MODEL_Y if credential.car_type == "modely" else MODEL_3
    now = now_clock.now()
    common: dict[str, Any] = {
        "vin": credential.vin,
        "spec": spec,
        "name": credential.name,
        "rng": random.Random(rng.random()),
        "sleep_timeout_s": sleep_timeout_s,
    }
    if situation == "parked_asleep":
        # Parked since before the sleep timeout: asleep from the first moment.
        model = CarModel(
            now=now - timedelta(seconds=sleep_timeout_s + 60), battery_level=64.0, **common
        )
        model.advance_to(now)
    elif situation == "charging":
        model = CarModel(now=now, battery_level=28.0, latitude=52.5096, longitude=13.3762, **common)
        model.plug_in(dc=False, power_kw=11.0)
    elif situation == "driving":
        route = rng.choice(sorted(ROUTES))
        start = ROUTES[route].waypoints[0]
        model = CarModel(
            now=now, battery_level=86.0, latitude=start[0], longitude=start[1], **common
        )
        model.start_driving(route)
    else:  # parked
        model = CarModel(now=now, battery_level=rng.uniform(30, 90), **common)
    return model


class Fleet:
    """Runs simulated cars against one server until cancelled."""

    def __init__(
        self,
        server_url: str,
        credentials: Sequence[CarCredential],
        *,
        situations: Sequence[str] | None = None,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        tick: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.physics_clock: Clock = (
            ScaledClock(self.clock, time_scale) if time_scale != 1 else self.clock
        )
        rng = random.Random(seed)
        situations = situations or [
            SITUATIONS[i % len(SITUATIONS)] for i in range(len(credentials))
        ]
        self.cars = [
            SimulatedCar(
                server_url=server_url,
                vin=c.vin,
                secret=c.secret,
                model=build_model(c, s, now_clock=self.physics_clock, rng=rng),
                clock=self.clock,
                physics_clock=self.physics_clock,
                tick=tick,
                rng=random.Random(rng.random()),
            )
            for c, s in zip(credentials, situations, strict=True)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, *, stagger: float = 0.0) -> None:
        """Start every car; `stagger` spreads the first connections over that many seconds."""
        for i, car in enumerate(self.cars):
            self._tasks.append(asyncio.create_task(car.run(), name=f"car-{car.vin}"))
            if stagger and i % 50 == 49:
                await asyncio.sleep(stagger * 50 / len(self.cars))

    async def wait_connected(self) -> None:
        await asyncio.gather(*(car.connected.wait() for car in self.cars))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def run_forever(self, *, on_started: Callable[[], None] | None = None) -> None:
        await self.start(stagger=min(5.0, len(self.cars) / 400))
        if on_started:
            on_started()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()


# --- provisioning through the operator API ----------------------------------------------------


class CredentialStore:
    """Car secrets are shown once, at registration; a sim keeps them to reconnect next time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, server_url: str) -> dict[str, CarCredential]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text()).get(server_url, {})
        return {vin: CarCredential(**c) for vin, c in data.items()}

    def save(self, server_url: str, creds: dict[str, CarCredential]) -> None:
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        data[server_url] = {vin: asdict(c) for vin, c in creds.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner only: it holds the cars' secrets from the first byte.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(json.dumps(data, indent=2))
        self.path.chmod(0o600)


async def provision(
    server_url: str,
    operator_token: str,
    *,
    owner_email: str,
    count: int,
    store: CredentialStore,
    prefix: str = "5YJ3SVX",
) -> list[CarCredential]:
    """Register `count` cars for `owner_email` (reusing those the store knows)."""
    known = store.load(server_url)
    wanted = [make_vin(i + 1, prefix) for i in range(count)]
    async with httpx.AsyncClient(
        base_url=server_url, headers={"Authorization": f"Bearer {operator_token}"}, timeout=30
    ) as http:
        for i, vin in enumerate(wanted):
            if vin in known:
                continue
            car_type = "modely" if i % 3 == 2 else "model3"
            r = await http.post(
                "/api/1/admin/vehicles",
                json={
                    "vin": vin,
                    "owner_email": owner_email,
                    "display_name": f"Sim {i + 1}",
                    "car_type": car_type,
                },
            )
            if r.status_code == 409:
                raise RuntimeError(
                    f"{vin} is registered on {server_url} already, but this machine lost its secret "
                    f"(in {store.path}); use another --vin-prefix"
                )
            if r.status_code != 200:
                raise RuntimeError(
                    f"registering {vin} failed: {r.json().get('error_description', r.text)}"
                )
            secret = r.json()["response"]["secret"]
            known[vin] = CarCredential(
                vin=vin, secret=secret, name=f"Sim {i + 1}", car_type=car_type
            )
            store.save(server_url, known)
    return [known[vin] for vin in wanted]
