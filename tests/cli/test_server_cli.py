"""The operator's side of the command: demo, sim, and user and token admin, as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pitstop.cli import app
from tests.world import World


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _pitstop(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pitstop",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_demo_runs_three_cars_writes_demo_json_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    demo = await _pitstop("demo", "--port", str(port), env={"PITSTOP_DATA_DIR": str(tmp_path)})
    try:
        async with asyncio.timeout(60):
            while not (tmp_path / "demo.json").exists():
                assert demo.returncode is None, "the demo exited early"
                await asyncio.sleep(0.1)
        info = json.loads((tmp_path / "demo.json").read_text())
        assert info["url"] == f"http://127.0.0.1:{port}" and len(info["vins"]) == 3
        async with httpx.AsyncClient(
            base_url=info["url"], headers={"Authorization": f"Bearer {info['owner_token']}"}
        ) as http:
            states = {
                v["vin"]: v["state"] for v in (await http.get("/api/1/vehicles")).json()["response"]
            }
            assert states == dict.fromkeys(info["vins"], "online") | {info["vins"][0]: "asleep"}
            charging = (await http.get(f"/api/1/vehicles/{info['vins'][1]}/vehicle_data")).json()[
                "response"
            ]
            assert charging["charge_state"]["charging_state"] in {"Starting", "Charging"}
            driving = (await http.get(f"/api/1/vehicles/{info['vins'][2]}/vehicle_data")).json()[
                "response"
            ]
            assert driving["drive_state"]["shift_state"] == "D"
            # The driving car is past its service interval: the app's suggestion says why.
            due = {d["vin"]: d for d in (await http.get("/api/1/service/due")).json()["response"]}
            assert [vin for vin, d in due.items() if d["due"]] == [info["vins"][2]]
            assert "since its last service" in " ".join(due[info["vins"][2]]["reasons"])
        async with httpx.AsyncClient(
            base_url=info["url"], headers={"Authorization": f"Bearer {info['operator_token']}"}
        ) as http:
            assert (await http.get("/api/1/tokens")).status_code == 200
    finally:
        code, out = await _stop(demo)
    assert code == 0, out
    assert "owner@pitstop.example" in out and info["owner_token"] in out
    assert "stopped cleanly" in out


async def test_sim_registers_and_runs_a_fleet_in_its_own_process(
    world: World, tmp_path: Path
) -> None:
    operator = await world.account("ops@example.com", role="operator")
    owner = await world.account("ada@example.com")
    sim = await _pitstop(
        "sim",
        "--url",
        world.url,
        "--cars",
        "4",
        "--owner",
        "ada@example.com",
        "--tick",
        "0.2",
        env={"PITSTOP_TOKEN": operator.token, "PITSTOP_DATA_DIR": str(tmp_path)},
    )
    try:
        async with world.client(owner.token) as http:
            async with asyncio.timeout(30):
                while True:
                    listed = (await http.get("/api/1/vehicles")).json()["response"]
                    # Connected cars count as asleep until their first report: wait for it.
                    states = sorted(v["state"] for v in listed)
                    if states == ["asleep", "online", "online", "online"]:
                        break
                    await asyncio.sleep(0.2)
            online = [v for v in listed if v["state"] == "online"]
            assert len(online) == 3  # the first car is parked and asleep
            r = await http.get(f"/api/1/vehicles/{online[0]['vin']}/vehicle_data")
            assert (
                r.status_code == 200 and r.json()["response"]["charge_state"]["battery_level"] > 0
            )
    finally:
        code, out = await _stop(sim)
    assert code in (0, 130), out
    assert "4 simulated cars" in out
    stored = json.loads((tmp_path / "sim-cars.json").read_text())
    assert len(stored[world.url]) == 4


def test_sim_without_an_operator_token_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sim", "--cars", "1"], env={"PITSTOP_DATA_DIR": str(tmp_path), "PITSTOP_TOKEN": ""}
    )
    assert result.exit_code == 2
    assert "operator token" in result.output and "PITSTOP_TOKEN" in result.output


def test_users_and_tokens_are_created_listed_and_revoked_on_the_database(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"PITSTOP_DATA_DIR": str(tmp_path)}
    made = runner.invoke(
        app,
        [
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "operator",
            "--password",
            "long-enough-pw",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert "Created operator ops@example.com" in made.output
    dup = runner.invoke(
        app,
        ["user", "create", "--email", "ops@example.com", "--password", "long-enough-pw"],
        env=env,
    )
    assert dup.exit_code == 1 and "exists already" in dup.output
    short = runner.invoke(
        app, ["user", "create", "--email", "x@example.com", "--password", "short"], env=env
    )
    assert short.exit_code == 1 and "8 characters" in short.output

    created = runner.invoke(
        app, ["token", "create", "--email", "ops@example.com", "--label", "laptop"], env=env
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.count(".") == 2  # a JWT
    listed = runner.invoke(app, ["token", "list"], env=env)
    assert "laptop" in listed.output and "ops@example.com" in listed.output
    revoked = runner.invoke(app, ["token", "revoke", "1"], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = runner.invoke(app, ["token", "revoke", "1"], env=env)
    assert again.exit_code == 1 and "token list" in again.output
    nobody = runner.invoke(app, ["token", "create", "--email", "nobody@example.com"], env=env)
    assert nobody.exit_code == 1 and "no user" in nobody.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_revoked_cli_token_stops_working_on_the_server(
    world: World, tmp_path: Path
) -> None:
    await world.account("ada@example.com")
    env = {
        "PITSTOP_DATABASE_URL": world.rt.settings.resolved_database_url().replace("+aiosqlite", ""),
        "PITSTOP_DATA_DIR": str(tmp_path),
        "PITSTOP_SECRET_KEY": world.rt.settings.resolved_secret_key(),
    }
    runner = CliRunner()
    create = ["token", "create", "--email", "ada@example.com", "--label", "cli"]
    created = await asyncio.to_thread(runner.invoke, app, create, env=env)
    token = created.output.strip()
    (token_id,) = [t.id for t in await world.rt.tokens.list() if t.label == "cli"]
    async with world.client(token) as http:
        assert (await http.get("/api/1/products")).status_code == 200
        revoke = ["token", "revoke", str(token_id)]
        revoked = await asyncio.to_thread(runner.invoke, app, revoke, env=env)
        assert revoked.exit_code == 0, revoked.output
        # Another process revoked it: this server notices within its token cache's lifetime.
        await asyncio.sleep(world.rt.settings.token_cache_ttl + 0.1)
        r = await http.get("/api/1/products")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
