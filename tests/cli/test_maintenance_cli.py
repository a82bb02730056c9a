"""`pitstop maintenance ...` against a real server, and what owners' commands say meanwhile."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.cli.conftest import Invoke
from tests.world import Account, World


async def _operator(world: World) -> Account:
    return await world.account("ops@example.com", role="operator")


def _json(output: str) -> Any:
    return json.loads(output)


async def _products(world: World, token: str) -> int:
    async with world.client(token) as http:
        return (await http.get("/api/1/products")).status_code


async def _until_status(world: World, token: str, status: int) -> None:
    """Wait until the server's answer to an owner is `status` (state changes are asynchronous)."""
    for _ in range(200):
        if await _products(world, token) == status:
            return
        await world.clock.sleep(0.02)
    raise AssertionError(f"the server never answered {status}")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the lifecycle ------------------------------------------------------------------------------


async def test_a_window_scheduled_started_extended_updated_and_finished(
    world: World, pitstop: Invoke
) -> None:
    ops, owner = await _operator(world), await world.account("ada@example.com")

    async def maintenance(*args: str) -> Any:
        result = await pitstop("maintenance", *args, "--json", token=ops.token, url=world.url)
        assert result.exit_code == 0, result.output
        return _json(result.stdout)

    made = await maintenance(
        "schedule", "--title", "Database upgrade", "--reason", "security_update",
        "--start", "in 2h", "--duration", "30m", "--description", "New PostgreSQL.",
    )  # fmt: skip
    assert made["status"] == "scheduled" and made["title"] == "Database upgrade"
    start, end = _utc(made["starts_at"]), _utc(made["expected_end"])
    assert end - start == timedelta(minutes=30)
    assert abs((start - datetime.now(UTC)) - timedelta(hours=2)) < timedelta(minutes=1)
    assert [w["id"] for w in await maintenance("list")] == [made["id"]]
    assert await _products(world, owner.token) == 200

    started = await maintenance("start", str(made["id"]))
    assert started["status"] == "in_progress"
    await _until_status(world, owner.token, 503)

    extended = await maintenance("extend", str(made["id"]), "45m", "-m", "Slower than hoped.")
    assert _utc(extended["expected_end"]) - _utc(started["expected_end"]) == timedelta(minutes=45)
    updated = await maintenance("update", str(made["id"]), "--message", "Halfway there.")
    assert [u["message"] for u in updated["updates"]][-2:] == [
        "Slower than hoped.",
        "Halfway there.",
    ]

    finished = await maintenance("finish", str(made["id"]))
    assert finished["status"] == "completed"
    await _until_status(world, owner.token, 200)
    assert await maintenance("list") == []
    assert [w["status"] for w in await maintenance("list", "--all")] == ["completed"]


async def test_every_verb_prints_a_readable_sentence(world: World, pitstop: Invoke) -> None:
    ops = await _operator(world)

    async def maintenance(*args: str) -> str:
        result = await pitstop("maintenance", *args, token=ops.token, url=world.url)
        assert result.exit_code == 0, result.output
        return result.stdout

    out = await maintenance(
        "schedule", "--title", "Charging backend", "--reason", "hardware_upgrade",
        "--start", "2026-12-01 02:00 Europe/Berlin", "--end", "2026-12-01 03:30 Europe/Berlin",
        "--components", "charging,vehicle_commands", "--mode", "read_only",
    )  # fmt: skip
    assert out.startswith("Scheduled window 1.\n")
    assert "Window 1 “Charging backend” (hardware upgrade): scheduled" in out
    assert "Tue 1 Dec 02:00 CET → 03:30 CET (1 h 30 min)" in out
    assert "charging, vehicle_commands" in out and "read-only (reads work, changes wait)" in out
    table = await maintenance("list")
    assert "Charging backend" in table and "Tue 1 Dec 02:00–03:30 CET" in table
    shown = await maintenance("show", "1")
    assert "Timeline" in shown and "Scheduled: Charging backend." in shown
    assert (await maintenance("cancel", "1")).startswith("Cancelled window 1.")


async def test_when_reads_now_in_iso_and_a_named_zone(world: World, pitstop: Invoke) -> None:
    ops = await _operator(world)
    cases = [
        ("now", None),
        ("in 10m", None),
        ("2026-12-01T02:00:00Z", datetime(2026, 12, 1, 2, 0, tzinfo=UTC)),
        ("2026-12-08 02:00 Europe/Berlin", datetime(2026, 12, 8, 1, 0, tzinfo=UTC)),
        ("2027-07-01 02:00 Europe/Berlin", datetime(2027, 7, 1, 0, 0, tzinfo=UTC)),  # summer
    ]
    for i, (when, expected) in enumerate(cases):
        before = datetime.now(UTC)
        result = await pitstop(
            "maintenance", "schedule", "--title", f"W{i}", "--reason", "other", "--start", when,
            "--duration", "5m", "--components", ["vehicle_data", "charging", "service", "web", "accounts"][i],
            "--json", token=ops.token, url=world.url,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        start = _utc(_json(result.stdout)["starts_at"])
        if when == "now":
            assert before - timedelta(seconds=1) <= start <= datetime.now(UTC)
        elif when == "in 10m":
            assert abs(start - before - timedelta(minutes=10)) < timedelta(seconds=5)
        else:
            assert start == expected


# --- bad input changes nothing ------------------------------------------------------------------


async def test_bad_input_is_a_clear_error_and_schedules_nothing(
    world: World, pitstop: Invoke
) -> None:
    ops = await _operator(world)

    async def schedule(*args: str) -> tuple[int, str]:
        result = await pitstop(
            "maintenance", "schedule", "--title", "T", *args, token=ops.token, url=world.url
        )
        return result.exit_code, " ".join(result.output.split())

    code, out = await schedule("--reason", "other", "--start", "in 2h", "--end", "in 1h")
    assert code == 2 and "is not after the start" in out
    code, out = await schedule("--reason", "vibes", "--start", "in 2h", "--duration", "1h")
    assert code == 1 and "Unknown reason 'vibes'; one of: bug_fixes, performance" in out
    code, out = await schedule(
        "--reason", "other", "--start", "in 2h", "--duration", "1h", "--components", "teleport"
    )
    assert code == 1 and "Unknown component(s) teleport; known: vehicle_data" in out
    code, out = await schedule("--reason", "other", "--start", "yesterday-ish", "--duration", "1h")
    assert code == 2 and "is not a time like now, in 10m" in out
    code, out = await schedule("--reason", "other", "--start", "in 2h", "--duration", "-5m")
    assert code == 2 and "a duration must be positive" in out
    code, out = await schedule("--reason", "other", "--start", "in 2h")
    assert code == 2 and "give either --duration or --end" in out
    assert await world.rt.windows.find() == []


async def test_an_overlap_needs_force_and_a_completed_window_cannot_be_extended(
    world: World, pitstop: Invoke
) -> None:
    ops = await _operator(world)

    async def maintenance(*args: str) -> tuple[int, str]:
        result = await pitstop("maintenance", *args, token=ops.token, url=world.url)
        return result.exit_code, " ".join(result.output.split())

    first = ("--reason", "other", "--duration", "1h", "--components", "charging")
    assert (await maintenance("schedule", "--title", "A", "--start", "in 2h", *first))[0] == 0
    code, out = await maintenance("schedule", "--title", "B", "--start", "in 150m", *first)
    assert code == 1
    assert "This window overlaps window 1 (A) in the same scope." in out
    assert "Hint: add --force to schedule it anyway." in out
    assert len(await world.rt.windows.find()) == 1
    assert (await maintenance("schedule", "--title", "B", "--start", "in 150m", *first, "--force"))[
        0
    ] == 0

    await maintenance("start", "1")
    await maintenance("finish", "1")
    before = await world.rt.windows.get(1)
    code, out = await maintenance("extend", "1", "30m")
    assert code == 1 and "Window 1 is completed: it cannot be extended." in out
    assert (await world.rt.windows.get(1)).expected_end == before.expected_end
    code, out = await maintenance("show", "99")
    assert code == 1 and "99" in out


async def test_an_owner_token_is_told_it_needs_the_operator_scope(
    world: World, pitstop: Invoke
) -> None:
    owner = await world.account("ada@example.com")
    result = await pitstop("maintenance", "list", token=owner.token, url=world.url)
    assert result.exit_code == 1 and "operator" in result.output


# --- the app side: what owners see during a window ---------------------------------------------


async def test_a_command_during_maintenance_reads_as_a_sentence_and_is_not_carried_out(
    world: World, pitstop: Invoke
) -> None:
    ops, owner = await _operator(world), await world.account("ada@example.com")
    car = await world.car(owner)
    vehicle = await world.rt.registry.find(car.vin)
    assert vehicle is not None
    await world.eventually(lambda: world.rt.states.get(vehicle.id).sections != {})
    locked_before = world.rt.states.get(vehicle.id).sections["vehicle_state"]["locked"]
    made = await pitstop(
        "maintenance", "schedule", "--title", "Upgrade", "--reason", "security_update",
        "--start", "now", "--duration", "12m", "--json", token=ops.token, url=world.url,
    )  # fmt: skip
    end = _utc(_json(made.stdout)["expected_end"])
    await _until_status(world, owner.token, 503)

    result = await pitstop("unlock", car.vin, token=owner.token, url=world.url, tz="Europe/Berlin")
    assert result.exit_code == 1
    words = " ".join(result.output.split())
    back = end.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")
    assert words.startswith(
        f"Server maintenance (security update): Pitstop expects to be back at {back}, in 12 min. "
        f"Status: {world.url}/status"
    )
    assert "door_unlock was not carried out: send it again later" in words
    assert world.rt.states.get(vehicle.id).sections["vehicle_state"]["locked"] == locked_before


async def test_status_during_maintenance_shows_the_last_known_state_and_its_age(
    world: World, pitstop: Invoke
) -> None:
    ops, owner = await _operator(world), await world.account("ada@example.com")
    car = await world.car(owner)
    vehicle = await world.rt.registry.find(car.vin)
    assert vehicle is not None
    await world.eventually(lambda: world.rt.states.get(vehicle.id).sections != {})

    # Never read before: nothing to show but the sentence.
    made = await pitstop(
        "maintenance", "schedule", "--title", "Upgrade", "--reason", "bug_fixes",
        "--start", "now", "--duration", "20m", "--json", token=ops.token, url=world.url,
    )  # fmt: skip
    window = _json(made.stdout)["id"]
    await _until_status(world, owner.token, 503)
    unseen = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert unseen.exit_code == 1 and "Server maintenance (bug fixes)" in unseen.output

    await pitstop("maintenance", "finish", str(window), token=ops.token, url=world.url)
    await _until_status(world, owner.token, 200)
    live = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert live.exit_code == 0 and "last-known" not in live.output

    await pitstop(
        "maintenance", "schedule", "--title", "Again", "--reason", "bug_fixes",
        "--start", "now", "--duration", "20m", token=ops.token, url=world.url,
    )  # fmt: skip
    await _until_status(world, owner.token, 503)
    stale = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert stale.exit_code == 0, stale.output
    assert "Server maintenance (bug fixes): Pitstop expects to be back at" in stale.stderr
    assert "Showing the last-known state, reported at" in stale.stderr
    assert "Battery" in stale.stdout and "Locks" in stale.stdout and car.vin in stale.stdout
    as_json = await pitstop("status", car.vin, "--json", token=owner.token, url=world.url)
    data = _json(as_json.stdout)
    assert data["vin"] == car.vin and data["last_known"]["age_seconds"] >= 0
    assert data["last_known"]["because"].startswith("Server maintenance (bug fixes)")


async def test_status_in_a_read_only_window_says_so(world: World, pitstop: Invoke) -> None:
    ops, owner = await _operator(world), await world.account("ada@example.com")
    car = await world.car(owner)
    vehicle = await world.rt.registry.find(car.vin)
    assert vehicle is not None
    await world.eventually(lambda: world.rt.states.get(vehicle.id).sections != {})
    await pitstop(
        "maintenance", "schedule", "--title", "Ro", "--reason", "hardware_upgrade", "--start",
        "now", "--duration", "20m", "--mode", "read_only", token=ops.token, url=world.url,
    )  # fmt: skip
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {owner.token}"}) as http:
        for _ in range(200):
            r = await http.get(f"{world.url}/api/1/vehicles/{car.vin}/vehicle_data")
            if "pitstop-maintenance" in r.headers:
                break
            await world.clock.sleep(0.02)
    assert r.status_code == 200 and r.headers["pitstop-maintenance"].startswith("read_only; id=1;")
    result = await pitstop("status", car.vin, token=owner.token, url=world.url)
    assert result.exit_code == 0
    assert "Pitstop is in read-only maintenance until" in result.stderr
    assert "Battery" in result.stdout
    refused = await pitstop("lock", car.vin, token=owner.token, url=world.url)
    assert refused.exit_code == 1
    assert "reading works meanwhile; changes are paused" in " ".join(refused.output.split())
