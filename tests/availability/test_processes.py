"""Real server processes sharing PostgreSQL: one maintenance state, restarts, and drain."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from pitstop.app import build_runtime
from pitstop.clock import SystemClock
from pitstop.runtime import Runtime
from pitstop.settings import Settings
from pitstop.sim.car import SimulatedCar
from pitstop.sim.model import CarModel
from tests.processes import Balancer, ServerProcess
from tests.world import new_vin

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PITSTOP_DATABASE_URL": database_url,
        "PITSTOP_DATA_DIR": str(tmp_path / "server"),
        "PITSTOP_SECRET_KEY": "shared-secret-of-the-replicas-long-enough",
        "PITSTOP_DRAIN_GRACE": "2",
        "PITSTOP_TELEMETRY_FLUSH_INTERVAL": "0.05",
    }


@pytest.fixture
async def servers(env: dict[str, str]) -> AsyncIterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    try:
        for _ in range(2):
            started.append(await ServerProcess(env).start())
        yield started
    finally:
        for server in started:
            await server.stop()


@pytest.fixture
async def rt(servers: list[ServerProcess], settings: Settings) -> AsyncIterator[Runtime]:
    """Direct access to the same database, for setting up accounts and cars."""
    runtime = build_runtime(settings, SystemClock())
    yield runtime
    await runtime.engine.dispose()


async def _token(rt: Runtime, email: str, role: str) -> str:
    user = await rt.users.create(email, "correct horse battery", role=role)
    return (await rt.tokens.issue(user)).access_token


async def _status(url: str, token: str) -> int:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        return (await http.get(f"{url}/api/1/products")).status_code


async def test_every_process_follows_one_maintenance_state(
    servers: list[ServerProcess], rt: Runtime, env: dict[str, str]
) -> None:
    a, b = servers
    operator = await _token(rt, "ops@example.com", "operator")
    owner = await _token(rt, "ada@example.com", "owner")
    assert {await _status(a.url, owner), await _status(b.url, owner)} == {200}

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {operator}"}) as ops:
        r = await ops.post(
            f"{a.url}/api/1/maintenance",
            json={
                "title": "Replica test",
                "reason": "configuration",
                "starts_at": rt.clock.now().isoformat(),
                "duration_minutes": 30,
            },
        )
        window = r.json()["response"]
        began = time.monotonic()
        async with asyncio.timeout(5):
            while {await _status(a.url, owner), await _status(b.url, owner)} != {503}:
                await asyncio.sleep(0.02)
        # The scheduler's tick plus LISTEN/NOTIFY: well within the polling second.
        assert time.monotonic() - began < 2.0

        # Both schedulers saw the window due; exactly one started it.
        audit = (await ops.get(f"{b.url}/api/1/maintenance/{window['id']}/audit")).json()[
            "response"
        ]
        assert [x["action"] for x in audit] == ["scheduled", "started"]

        # A replica killed outright comes back still in maintenance.
        b.signal(signal.SIGKILL)
        await b.wait()
        b2 = await ServerProcess(env, port=b.port).start()
        servers[1] = b2
        assert await _status(b2.url, owner) == 503

        await ops.post(f"{b2.url}/api/1/maintenance/{window['id']}/finish")
        async with asyncio.timeout(5):
            while {await _status(a.url, owner), await _status(b2.url, owner)} != {200}:
                await asyncio.sleep(0.02)


async def test_a_draining_replica_fails_no_request(
    servers: list[ServerProcess], rt: Runtime, env: dict[str, str]
) -> None:
    a, b = servers
    owner_user = await rt.users.create("ada@example.com", "correct horse battery")
    owner = (await rt.tokens.issue(owner_user)).access_token
    # Health checks once a second, like a real balancer: the drain grace must cover the gap.
    balancer = await Balancer([a, b], check_every=1.0).start()
    vin = new_vin()
    _, secret = await rt.registry.register(owner_id=owner_user.id, vin=vin)
    car = SimulatedCar(
        server_url=balancer.url,
        vin=vin,
        secret=secret,
        tick=0.05,
        rng=random.Random(4),
        model=CarModel(vin=vin, now=rt.clock.now() - timedelta(seconds=1)),
    )
    car.model.start_driving("berlin-mitte")
    car_task = asyncio.create_task(car.run())
    results: list[int | str] = []
    stop = asyncio.Event()

    async def load() -> None:
        # A new connection per request, so the balancer picks a ready backend each time.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {owner}"}, limits=limits, timeout=10
        ) as http:
            while not stop.is_set():
                try:
                    results.append((await http.get(f"{balancer.url}/api/1/products")).status_code)
                except httpx.TransportError as exc:
                    results.append(type(exc).__name__)

    try:
        await asyncio.wait_for(car.connected.wait(), 10)
        # Drain the replica the car is connected to.
        (victim_port,) = balancer.connections
        victim, other = (a, b) if a.port == victim_port else (b, a)
        workers = [asyncio.create_task(load()) for _ in range(6)]
        await asyncio.sleep(1.0)
        victim.signal(signal.SIGTERM)
        assert await victim.wait() == 0, victim.output.decode()[-2000:]
        served_while_draining = len(results)
        servers[servers.index(victim)] = await ServerProcess(env, port=victim.port).start()
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*workers)
        failures = [r for r in results if r != 200]
        assert failures == [], failures[:10]
        assert len(results) > served_while_draining > 50
        assert balancer.connections[other.port] > 0 and balancer.connections[victim.port] > 1
        # The car was told to reconnect, did so through the balancer, and lost nothing.
        assert car.connections >= 2
        async with asyncio.timeout(10):
            while car.unacked:
                await asyncio.sleep(0.05)
        vehicle = await rt.registry.by_vin(vin)
        assert vehicle is not None
        seqs = [seq for seq, _, _ in await rt.states.history(vehicle.id, limit=100_000)]
        assert seqs == list(range(1, seqs[-1] + 1)) and seqs[-1] >= car.seq - 1
    finally:
        stop.set()
        car_task.cancel()
        await balancer.stop()
