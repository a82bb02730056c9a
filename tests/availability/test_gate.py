"""The gate on a real server: maintenance windows start and end on the clock, clients read why."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.app import create_app
from pitstop.availability import answer
from pitstop.clock import ManualClock
from pitstop.settings import Settings
from tests.world import Account, World


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def ops(world: World) -> AsyncIterator[httpx.AsyncClient]:
    operator = await world.account("ops@example.com", role="operator")
    async with world.client(operator.token) as http:
        yield http


async def _schedule(ops: httpx.AsyncClient, clock: ManualClock, **body: Any) -> dict[str, Any]:
    payload = {
        "title": "Database upgrade",
        "reason": "security_update",
        "description": "We are moving to a new database server.",
        "starts_at": (clock.now() + timedelta(minutes=body.pop("in_minutes", 10))).isoformat(),
        "duration_minutes": body.pop("minutes", 30),
    } | body
    r = await ops.post("/api/1/maintenance", json=payload)
    assert r.status_code == 200, r.text
    window: dict[str, Any] = r.json()["response"]
    return window


async def _until_status(
    world: World, clock: ManualClock, window_id: int, status: str, advance: float
) -> None:
    await clock.advance(advance)
    await world.eventually(lambda: _status(world, window_id) == status)


async def _closed(world: World, clock: ManualClock, component: str) -> None:
    """Let the scheduler's next tick come, and wait until `component` is closed."""
    await clock.advance(1)
    await world.eventually(lambda: world.rt.maintenance.closing(component) is not None)


def _status(world: World, window_id: int) -> str | None:
    window = world.rt.maintenance.window(window_id)
    return window.status if window else "gone"


async def test_a_window_announces_itself_starts_answers_503_and_ends_on_time(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, sleep_timeout_s=24 * 3600)  # stays awake while the clock jumps
    window = await _schedule(ops, clock, components=["vehicle_data"])
    url = f"/api/1/vehicles/{car.vin}/vehicle_data"
    async with world.client(ada.token) as http:
        before = await http.get(url)
        assert before.status_code == 200
        assert (
            before.headers["pitstop-maintenance-next"]
            == f"{window['starts_at']}; id={window['id']}"
        )

        await _until_status(world, clock, window["id"], "in_progress", 10 * 60)
        r = await http.get(url)
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        assert 30 * 60 <= int(r.headers["retry-after"]) <= 30 * 60 + 60
        body = r.json()
        assert body["response"] is None and body["error"] == "server_maintenance"
        assert "security update" in body["error_description"]
        m = body["maintenance"]
        assert (
            m["id"] == window["id"]
            and m["reason"] == "security_update"
            and m["scope"] == ["vehicle_data"]
        )
        assert m["expected_end"] == window["expected_end"] and m["status_url"].endswith("/status")
        assert m["started_at"] is not None

        # Outside the window's scope everything works as usual.
        unlock = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
        assert unlock.status_code == 200 and unlock.json()["response"]["result"] is True

        await _until_status(world, clock, window["id"], "gone", 31 * 60)
        after = await http.get(url)
        assert after.status_code == 200 and "pitstop-maintenance-next" not in after.headers


async def test_the_answer_speaks_each_clients_language(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    window = await _schedule(ops, clock, in_minutes=0)
    await _closed(world, clock, "web")
    async with world.client() as http:
        problem = await http.get("/api/1/products", headers={"accept": "application/problem+json"})
        page = await http.get("/app", headers={"accept": "text/html,application/xhtml+xml"})
    assert (
        problem.status_code == 503 and problem.headers["content-type"] == "application/problem+json"
    )
    p = problem.json()
    assert p["instance"] == "/api/1/products"
    async with world.client() as http:
        other = await http.get("/api/1/vehicles", headers={"accept": "application/problem+json"})
    assert other.status_code == 503 and other.json()["instance"] == "/api/1/vehicles"
    assert (
        p["status"] == 503
        and p["title"].startswith("Server maintenance")
        and p["maintenance"]["id"] == window["id"]
    )
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert (
        "Server maintenance" in page.text
        and 'href="http://' in page.text
        and "/status" in page.text
    )
    assert 'id="countdown"' in page.text and window["expected_end"] in page.text
    assert "We are moving to a new database server." in page.text


async def test_never_gated_health_status_maintenance_api(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    await _schedule(ops, clock, in_minutes=0)
    await _closed(world, clock, "accounts")
    async with world.client() as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        assert (
            await http.post("/oauth2/v3/token", data={"grant_type": "password"})
        ).status_code == 503
    assert (await ops.get("/api/1/maintenance")).status_code == 200


async def test_operators_pass_the_gate_and_are_told_so(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    await _schedule(ops, clock, in_minutes=0)
    await _closed(world, clock, "vehicle_data")
    through = await ops.get("/api/1/products")
    assert through.status_code == 200 and through.headers["pitstop-maintenance-bypass"] == "1"
    cookie = await ops.post("/api/1/maintenance/bypass")
    assert cookie.status_code == 200 and "pitstop_bypass" in cookie.headers["set-cookie"]
    value = re.search(r"pitstop_bypass=([^;]+)", cookie.headers["set-cookie"])
    assert value is not None
    async with world.client() as browser:
        blocked = await browser.get("/app", headers={"accept": "text/html"})
        browser.cookies.set("pitstop_bypass", value.group(1))
        allowed = await browser.get("/app", headers={"accept": "text/html"})
        browser.cookies.set("pitstop_bypass", value.group(1).replace(".", ".0"))
        forged = await browser.get("/app", headers={"accept": "text/html"})
    assert blocked.status_code == 503
    # The owner app's page, let through the gate, and marked so.
    assert allowed.status_code == 200 and allowed.headers["pitstop-maintenance-bypass"] == "1"
    assert forged.status_code == 503
    ada = await world.account("ada@example.com")
    async with world.client(ada.token) as owner:
        assert (await owner.get("/api/1/products")).status_code == 503


async def test_a_revoked_operator_token_no_longer_passes(world: World, clock: ManualClock) -> None:
    operator = await world.account("ops2@example.com", role="operator")
    await _closed_now(world, clock, operator.token)
    async with world.client(operator.token) as ops:
        through = await ops.get("/api/1/products")
        assert through.status_code == 200 and through.headers["pitstop-maintenance-bypass"] == "1"
        await world.rt.tokens.revoke(raw=operator.token)
        refused = await ops.get("/api/1/products")
    assert refused.status_code == 503 and "pitstop-maintenance-bypass" not in refused.headers
    # Revoked by id (the console's way) rather than by value: the same.
    again = await world.rt.tokens.issue(operator.user, client_id="tests")
    async with world.client(again.access_token) as ops:
        assert (await ops.get("/api/1/products")).status_code == 200
        infos = [t for t in await world.rt.tokens.list(operator.user.id) if t.revoked_at is None]
        assert len(infos) == 1
        await world.rt.tokens.revoke(token_id=infos[0].id)
        assert (await ops.get("/api/1/products")).status_code == 503


async def test_retry_after_is_steady_per_client_and_spread_between_clients(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    await _schedule(ops, clock, in_minutes=0, minutes=30)
    await _closed(world, clock, "vehicle_data")
    seen: dict[str, set[int]] = {}
    for i in range(40):
        client = f"not-a-token-{i}"
        async with world.client(client) as http:
            for _ in range(2):  # the clock stands still: the same client, the same answer
                r = await http.get("/api/1/products")
                assert r.status_code == 503 and r.headers["cache-control"] == "no-store"
                seen.setdefault(client, set()).add(int(r.headers["retry-after"]))
    assert all(len(values) == 1 for values in seen.values())
    values = {v for both in seen.values() for v in both}
    assert min(values) >= 29 * 60 and max(values) <= 30 * 60 + 60
    assert len(values) > 5  # clients are not all told the same second


async def test_a_client_asking_again_is_told_the_time_left_now(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    """The gate remembers its last answer to each client; what it says still follows the
    clock, an extension and an overrun, for the very same client on the same connection."""
    window = await _schedule(ops, clock, in_minutes=0, minutes=30, auto_finish=False)
    await _closed(world, clock, "vehicle_data")

    async def retry_after(http: httpx.AsyncClient) -> int:
        r = await http.get("/api/1/products")
        assert r.status_code == 503, r.text
        return int(r.headers["retry-after"])

    async with world.client("not-a-token") as http:
        first = await retry_after(http)
        assert await retry_after(http) == first
        await clock.advance(10)
        assert await retry_after(http) == first - 10
        old_end = world.rt.maintenance.closing("vehicle_data").expected_end
        extended = await ops.post(f"/api/1/maintenance/{window['id']}/extend", json={"minutes": 15})
        assert extended.status_code == 200, extended.text
        await world.eventually(
            lambda: world.rt.maintenance.closing("vehicle_data").expected_end != old_end
        )
        assert await retry_after(http) == first - 10 + 15 * 60
        await clock.advance(45 * 60)
        r = await http.get("/api/1/products")
        assert "longer than planned" in r.json()["error_description"]
        assert 5 <= int(r.headers["retry-after"]) <= 60


async def test_failures_behind_and_in_the_gate_are_clean_500s(
    world: World, clock: ManualClock, ops: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug in a route")

    # A failing route under a gated prefix: the gate is in front, Starlette's error middleware
    # behind it still turns the error into its 500, and the gate's notice header is added.
    world.app.router.routes.insert(0, Route("/api/1/service/boom", boom))
    window = await _schedule(ops, clock, in_minutes=30, components=["service"])
    async with world.client() as http:
        failed = await http.get("/api/1/service/boom")
    assert failed.status_code == 500 and failed.text == "Internal Server Error"
    assert failed.headers["pitstop-maintenance-next"].endswith(f"id={window['id']}")

    # The gate's own answer failing (here: its body cannot be built) is a 500 too, and the
    # next request, once it can be built, is the usual 503.
    await _until_status(world, clock, window["id"], "in_progress", 30 * 60)

    def broken(*args: object) -> bytes:
        raise RuntimeError("a bug in the gate")

    monkeypatch.setattr(answer, "body", broken)
    async with world.client() as http:
        failed = await http.get("/api/1/service/centers")
        assert failed.status_code == 500 and failed.text == "Internal Server Error"
        monkeypatch.undo()
        recovered = await http.get("/api/1/service/centers")
    assert recovered.status_code == 503 and recovered.json()["error"] == "server_maintenance"


async def _closed_now(world: World, clock: ManualClock, operator_token: str) -> None:
    """A window of the whole service, started now."""
    async with world.client(operator_token) as ops:
        await _schedule(ops, clock, in_minutes=0)
    await _closed(world, clock, "vehicle_data")


async def test_read_only_serves_reads_and_refuses_writes(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    await _schedule(ops, clock, in_minutes=0, mode="read_only")
    await _closed(world, clock, "vehicle_commands")
    async with world.client(ada.token) as http:
        read = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
        write = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
    assert read.status_code == 200 and read.json()["response"]["vehicle_state"]["locked"] is True
    assert write.status_code == 503 and "changes are paused" in write.json()["error_description"]
    assert car.model.signals()["vehicle_state.locked"] is True


async def test_an_overrunning_window_says_so_with_a_short_retry_after(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    window = await _schedule(ops, clock, in_minutes=0, minutes=20, auto_finish=False)
    await _closed(world, clock, "vehicle_data")
    await clock.advance(25 * 60)
    async with world.client() as http:
        r = await http.get("/api/1/products")
    assert r.status_code == 503
    assert "longer than planned" in r.json()["error_description"]
    assert 5 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["maintenance"]["overrunning"] is True
    assert _status(world, window["id"]) == "in_progress"  # until an operator finishes it
    done = await ops.post(
        f"/api/1/maintenance/{window['id']}/finish", json={"message": "All good."}
    )
    assert done.json()["response"]["status"] == "completed"
    async with world.client() as http:
        assert (
            await http.get("/api/1/products")
        ).status_code == 401  # open again: asks for a token


async def test_the_car_link_stays_up_unless_the_window_names_it(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    ada = await world.account("ada@example.com")
    await _schedule(ops, clock, in_minutes=0)  # the whole service
    await _closed(world, clock, "vehicle_data")
    car = await world.car(ada)  # connects fine
    assert car.connections == 1
    await _schedule(ops, clock, in_minutes=0, components=["vehicle_link"], force=True)
    await _closed(world, clock, "vehicle_link")
    late = await world.car(ada, connect=False)
    world.start(late)
    await clock.advance(0)
    with pytest.raises(TimeoutError):
        await world.eventually(lambda: late.connections > 0, timeout=1.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_restarted_server_comes_back_in_maintenance(
    settings: Settings, clock: ManualClock
) -> None:
    app = create_app(settings, clock=clock)
    async with World.running(app, clock) as world:
        operator: Account = await world.account("ops@example.com", role="operator")
        async with world.client(operator.token) as ops:
            await _schedule(ops, clock, in_minutes=0)
        await _closed(world, clock, "vehicle_data")
    again = create_app(settings, clock=clock)
    async with World.running(again, clock) as world, world.client() as http:
        assert (await http.get("/api/1/products")).status_code == 503


async def test_maintenance_api_refuses_bad_input_and_changes_nothing(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    window = await _schedule(ops, clock, components=["charging"])
    start = clock.now() + timedelta(minutes=20)
    cases = [
        (
            {
                "title": "x",
                "reason": "bug_fixes",
                "starts_at": start.isoformat(),
                "expected_end": (start - timedelta(minutes=1)).isoformat(),
            },
            422,
            "expected_end",
        ),
        (
            {
                "title": "x",
                "reason": "boredom",
                "starts_at": start.isoformat(),
                "duration_minutes": 5,
            },
            422,
            "reason",
        ),
        (
            {
                "title": "x",
                "reason": "other",
                "starts_at": start.isoformat(),
                "duration_minutes": 5,
                "components": ["moon"],
            },
            422,
            "components",
        ),
        (
            {
                "title": "x",
                "reason": "other",
                "starts_at": start.isoformat(),
                "duration_minutes": 5,
                "components": ["charging"],
            },
            409,
            "starts_at",
        ),
        (
            {"title": "x", "reason": "other", "starts_at": "tomorrow", "duration_minutes": 5},
            422,
            "starts_at",
        ),
    ]
    for body, status, field in cases:
        r = await ops.post("/api/1/maintenance", json=body)
        assert r.status_code == status, (body, r.text)
        assert field in r.json()["messages"], r.json()
    assert len((await ops.get("/api/1/maintenance")).json()["response"]) == 1
    await _until_status(world, clock, window["id"], "in_progress", 10 * 60)
    await ops.post(f"/api/1/maintenance/{window['id']}/finish")
    r = await ops.post(f"/api/1/maintenance/{window['id']}/extend", json={"minutes": 10})
    assert r.status_code == 409 and "cannot be extended" in r.json()["error_description"]
    missing = await ops.get("/api/1/maintenance/4242")
    assert missing.status_code == 404


async def test_read_only_shows_an_unreachable_car_as_last_known(
    world: World, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, battery_level=57.0)
    world.cars[-1][1].cancel()  # the car loses its link
    await world.eventually(lambda: not world.rt.hub.links)
    async with world.client(ada.token) as http:
        assert (await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")).status_code == 408
        await _schedule(ops, clock, in_minutes=0, mode="read_only", components=["vehicle_data"])
        await _closed(world, clock, "vehicle_data")
        r = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
    assert r.status_code == 200
    data = r.json()["response"]
    assert data["state"] == "offline" and data["charge_state"]["battery_level"] == 57
    assert data["charge_state"]["timestamp"] <= int(clock.now().timestamp() * 1000)
