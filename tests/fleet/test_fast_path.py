"""vehicle_data's fast path (pitstop.fleet.fast) on a real server: a client gets exactly what the
full route would give, and every case that is not the plain one is answered by the route.

Each test first "warms" the fast path (the route has checked the token and cached the car's
body, and a second read is then answered by the fast path), then changes one thing and reads
again. Whether the fast path or the route answered is read from the middleware's counter; what
the client gets is compared with what the route answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from pitstop.clock import ManualClock
from pitstop.fleet.fast import FastVehicleData
from pitstop.fleet.routes import SECTIONS
from tests.world import Account, World

#: The query that makes the route build the very body of a plain read (every section, in order,
#: no location); any query string sends a request past the fast path to the route.
ALL_SECTIONS = {"endpoints": ";".join(SECTIONS)}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def ada(world: World) -> Account:
    return await world.account("ada@example.com")


@pytest.fixture
async def ops(world: World) -> AsyncIterator[httpx.AsyncClient]:
    operator = await world.account("ops@example.com", role="operator")
    async with world.client(operator.token) as http:
        yield http


def fast_path(world: World) -> FastVehicleData:
    layer: Any = world.app.middleware_stack
    while layer is not None and not isinstance(layer, FastVehicleData):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, FastVehicleData), "create_app must install the fast path"
    return layer


def url(vin: str) -> str:
    return f"/api/1/vehicles/{vin}/vehicle_data"


async def warm(world: World, http: httpx.AsyncClient, vin: str) -> httpx.Response:
    """Read twice: the route fills the caches, the fast path answers the second read."""
    fast = fast_path(world)
    first = await http.get(url(vin))
    assert first.status_code == 200, first.text
    before = fast.answered
    second = await http.get(url(vin))
    assert second.status_code == 200 and fast.answered == before + 1
    assert second.content == first.content
    return second


async def read_past_fast_path(world: World, http: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET twice (the second with the token surely cached); both must come from the route and
    be the same; returns the second."""
    fast = fast_path(world)
    before = fast.answered
    first = await http.get(path)
    second = await http.get(path)
    assert fast.answered == before, "the fast path answered a request it must leave to the route"
    assert (second.status_code, second.content) == (first.status_code, first.content)
    return second


def without_date(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k != "date"]


async def schedule(
    ops: httpx.AsyncClient, clock: ManualClock, *, in_minutes: float, **body: Any
) -> dict[str, Any]:
    payload = {
        "title": "Database upgrade",
        "reason": "security_update",
        "starts_at": (clock.now() + timedelta(minutes=in_minutes)).isoformat(),
        "duration_minutes": 30,
        "components": ["vehicle_data"],
    } | body
    r = await ops.post("/api/1/maintenance", json=payload)
    assert r.status_code == 200, r.text
    window: dict[str, Any] = r.json()["response"]
    return window


async def closed(world: World, clock: ManualClock) -> None:
    await clock.advance(1)
    await world.eventually(lambda: world.rt.maintenance.closing("vehicle_data") is not None)


async def test_same_bytes_and_headers_as_the_route_for_the_owners_online_car(
    world: World, ada: Account
) -> None:
    car = await world.car(ada)
    vehicle = world.rt.registry.known(car.vin)
    assert vehicle is not None
    fast = fast_path(world)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        for key in (car.vin, vehicle.id_s, car.vin.lower()):
            before = fast.answered
            quick = await http.get(url(key))
            assert fast.answered == before + 1, key
            full = await http.get(url(key), params=ALL_SECTIONS)
            assert fast.answered == before + 1, key
            assert quick.status_code == full.status_code == 200
            assert quick.content == full.content
            assert without_date(quick) == without_date(full)
            assert quick.headers["content-type"] == "application/json"
            assert int(quick.headers["content-length"]) == len(quick.content)
    data = quick.json()["response"]
    assert data["vin"] == car.vin and data["state"] == "online" and set(SECTIONS) <= set(data)


async def test_no_token_is_401(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
    async with world.client() as anonymous:
        r = await read_past_fast_path(world, anonymous, url(car.vin))
    assert r.status_code == 401 and r.json()["error"] == "missing_token"
    assert r.headers["www-authenticate"] == 'Bearer realm="pitstop"'


async def test_an_invalid_token_is_401(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
    async with world.client(ada.token + "x") as forged:
        r = await read_past_fast_path(world, forged, url(car.vin))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


async def test_a_revoked_token_is_401_at_once(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        revoked = await http.post("/oauth2/v3/revoke", data={"token": ada.token})
        assert revoked.status_code == 200
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


async def test_an_expired_token_is_401_even_while_cached(
    world: World, clock: ManualClock, ada: Account
) -> None:
    car = await world.car(ada, sleep_timeout_s=24 * 3600)
    # Expires before the token cache forgets it (token_cache_ttl is 5 s).
    short = await world.rt.tokens.issue(ada.user, client_id="tests", ttl=3)
    async with world.client(short.access_token) as http:
        await warm(world, http, car.vin)
        await clock.advance(4)
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 401 and r.json()["error"] == "token_expired"


async def test_a_token_without_the_data_scope_is_403(world: World, ada: Account) -> None:
    car = await world.car(ada)
    commands_only = await world.rt.tokens.issue(
        ada.user, frozenset({"vehicle_cmds"}), client_id="tests"
    )
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
    async with world.client(commands_only.access_token) as http:
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 403 and r.json()["missing_scopes"] == ["vehicle_device_data"]


async def test_an_unknown_car_is_404(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        r = await read_past_fast_path(world, http, url("5YJ3E1EA7PF999999"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_someone_elses_car_is_404(world: World, ada: Account) -> None:
    bob = await world.account("bob@example.com")
    adas = await world.car(ada)
    bobs = await world.car(bob)
    async with world.client(ada.token) as http:
        await warm(world, http, adas.vin)
    async with world.client(bob.token) as http:
        await warm(world, http, bobs.vin)
        r = await read_past_fast_path(world, http, url(adas.vin))
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_a_car_that_fell_asleep_is_408(
    world: World, clock: ManualClock, ada: Account
) -> None:
    car = await world.car(ada, sleep_timeout_s=60)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        await clock.advance(61)
        vehicle = world.rt.registry.known(car.vin)
        assert vehicle is not None
        await world.eventually(lambda: world.rt.states.get(vehicle.id).state == "asleep")
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 408 and r.json()["error"] == "vehicle_unavailable"
    assert "asleep" in r.json()["error_description"]


async def test_a_car_that_went_offline_is_408(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        world.cars[-1][1].cancel()  # the car loses its link
        await world.eventually(lambda: not world.rt.hub.links)
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 408 and "offline" in r.json()["error_description"]


async def test_a_full_window_answers_503(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient
) -> None:
    car = await world.car(ada, sleep_timeout_s=24 * 3600)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        window = await schedule(ops, clock, in_minutes=0)
        await closed(world, clock)
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 503 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store" and int(r.headers["retry-after"]) >= 5
    body = r.json()
    assert body["response"] is None and body["error"] == "server_maintenance"
    assert body["maintenance"]["id"] == window["id"]


async def test_an_announced_window_is_announced_on_fast_answers(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient
) -> None:
    car = await world.car(ada, sleep_timeout_s=24 * 3600)
    window = await schedule(ops, clock, in_minutes=30)
    async with world.client(ada.token) as http:
        r = await warm(world, http, car.vin)  # the second read is a fast answer
    assert r.headers["pitstop-maintenance-next"] == f"{window['starts_at']}; id={window['id']}"


async def test_a_read_only_window_still_serves_the_last_known_state(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient
) -> None:
    car = await world.car(ada, battery_level=57.0, sleep_timeout_s=24 * 3600)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        await schedule(ops, clock, in_minutes=0, mode="read_only")
        await closed(world, clock)
        online = await read_past_fast_path(world, http, url(car.vin))
        assert online.status_code == 200 and online.json()["response"]["state"] == "online"
        world.cars[-1][1].cancel()  # the car loses its link
        await world.eventually(lambda: not world.rt.hub.links)
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 200
    data = r.json()["response"]
    assert data["state"] == "offline" and data["charge_state"]["battery_level"] == 57


async def test_after_a_read_only_window_an_offline_car_is_408_again(
    world: World, clock: ManualClock, ada: Account, ops: httpx.AsyncClient
) -> None:
    car = await world.car(ada, sleep_timeout_s=24 * 3600)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        world.cars[-1][1].cancel()  # the car loses its link
        await world.eventually(lambda: not world.rt.hub.links)
        window = await schedule(ops, clock, in_minutes=0, mode="read_only")
        await closed(world, clock)
        last_known = await read_past_fast_path(world, http, url(car.vin))
        assert last_known.status_code == 200  # the route cached this body for the offline car
        done = await ops.post(f"/api/1/maintenance/{window['id']}/finish")
        assert done.status_code == 200
        await world.eventually(lambda: world.rt.maintenance.closing("vehicle_data") is None)
        r = await read_past_fast_path(world, http, url(car.vin))
    assert r.status_code == 408 and "offline" in r.json()["error_description"]


async def test_the_endpoints_filter_still_works(world: World, ada: Account) -> None:
    car = await world.car(ada, latitude=52.52, longitude=13.405)
    async with world.client(ada.token) as http:
        await warm(world, http, car.vin)
        r = await http.get(url(car.vin), params={"endpoints": "charge_state;location_data"})
        bad = await http.get(url(car.vin), params={"endpoints": "fuel_state"})
    data = r.json()["response"]
    assert r.status_code == 200 and "charge_state" in data and "climate_state" not in data
    assert data["drive_state"]["latitude"] == pytest.approx(52.52, abs=0.01)
    assert bad.status_code == 422


async def test_new_telemetry_is_never_served_stale(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        locked = await warm(world, http, car.vin)
        assert locked.json()["response"]["vehicle_state"]["locked"] is True
        unlock = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
        assert unlock.json()["response"]["result"] is True
        after = await http.get(url(car.vin))
        again = await warm(world, http, car.vin)
    assert after.status_code == 200 and after.content != locked.content
    assert after.json()["response"]["vehicle_state"]["locked"] is False
    assert again.content == after.content


async def test_a_draining_server_answers_through_the_route(world: World, ada: Account) -> None:
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        served = await warm(world, http, car.vin)
        world.app.state.draining = True
        try:
            r = await read_past_fast_path(world, http, url(car.vin))
        finally:
            world.app.state.draining = False
    assert r.status_code == 200 and r.content == served.content
