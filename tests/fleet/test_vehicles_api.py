"""Reading cars through the fleet API, in Tesla's dialect."""

from __future__ import annotations

import asyncio

import pytest

from tests.world import World


async def test_products_and_vehicles_list_only_the_owners_cars(world: World) -> None:
    ada = await world.account("ada@example.com")
    bob = await world.account("bob@example.com")
    mine = await world.car(ada, name="Ada's car")
    theirs = await world.car(bob, name="Bob's car")
    async with world.client(ada.token) as http:
        products = (await http.get("/api/1/products")).json()
        vehicles = (await http.get("/api/1/vehicles")).json()
    assert [p["vin"] for p in products["response"]] == [mine.vin]
    assert products["count"] == 1 and products["error"] is None
    car = vehicles["response"][0]
    assert car["display_name"] == "Ada's car" and car["state"] == "online"
    assert car["id_s"] == str(car["id"]) and car["access_type"] == "OWNER"
    assert theirs.vin not in str(vehicles)


async def test_someone_elses_car_is_as_unknown_as_a_missing_one(world: World) -> None:
    ada = await world.account("ada@example.com")
    bob = await world.account("bob@example.com")
    theirs = await world.car(bob)
    vehicle = await world.rt.registry.by_vin(theirs.vin)
    assert vehicle is not None
    async with world.client(ada.token) as http:
        for key in (theirs.vin, str(vehicle.id), "5YJ3E1EA7PF999999"):
            for path in ("", "/vehicle_data"):
                r = await http.get(f"/api/1/vehicles/{key}{path}")
                assert r.status_code == 404, (key, path)
                assert r.json()["error"] == "not_found"
            r = await http.post(f"/api/1/vehicles/{key}/command/door_unlock")
            assert r.status_code == 404


async def test_a_vehicle_is_addressed_by_id_id_s_or_vin(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    vehicle = await world.rt.registry.by_vin(car.vin)
    assert vehicle is not None
    async with world.client(ada.token) as http:
        for key in (car.vin, vehicle.id_s, car.vin.lower()):
            r = await http.get(f"/api/1/vehicles/{key}")
            assert r.status_code == 200 and r.json()["response"]["vin"] == car.vin


async def test_vehicles_are_paginated(world: World) -> None:
    ada = await world.account("ada@example.com")
    for _ in range(5):
        await world.car(ada, connect=False)
    async with world.client(ada.token) as http:
        p1 = (await http.get("/api/1/vehicles", params={"per_page": 2})).json()
        p3 = (await http.get("/api/1/vehicles", params={"per_page": 2, "page": 3})).json()
        bad = await http.get("/api/1/vehicles", params={"per_page": 0})
    assert len(p1["response"]) == 2 and p1["count"] == 5
    assert p1["pagination"] == {
        "previous": None,
        "next": 2,
        "current": 1,
        "per_page": 2,
        "count": 5,
        "pages": 3,
    }
    assert len(p3["response"]) == 1 and p3["pagination"]["next"] is None
    assert bad.status_code == 422 and "per_page" in bad.json()["messages"]
    # Cars that never connected are offline.
    assert {v["state"] for v in p1["response"]} == {"offline"}


async def test_vehicle_data_has_teslas_sections_names_and_units(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, battery_level=50.0)
    async with world.client(ada.token) as http:
        r = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()["response"]
    assert data["vin"] == car.vin and data["state"] == "online"
    for section in (
        "charge_state",
        "climate_state",
        "drive_state",
        "gui_settings",
        "vehicle_config",
        "vehicle_state",
    ):
        assert isinstance(data[section]["timestamp"], int), section
    charge = data["charge_state"]
    assert charge["battery_level"] == 50
    # Range in miles: 50% of 75 kWh at 150 Wh/km is 250 km, 155 mi.
    assert 140 < charge["battery_range"] < 170
    assert data["gui_settings"]["gui_distance_units"] == "mi/hr"
    assert 5 < data["vehicle_state"]["odometer"] < 10_000  # miles
    # Without location_data, no position.
    assert "latitude" not in data["drive_state"]


async def test_endpoints_filter_and_location_data(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, latitude=52.52, longitude=13.405)
    async with world.client(ada.token) as http:
        r = await http.get(
            f"/api/1/vehicles/{car.vin}/vehicle_data",
            params={"endpoints": "charge_state;location_data"},
        )
        bad = await http.get(
            f"/api/1/vehicles/{car.vin}/vehicle_data",
            params={"endpoints": "charge_state;fuel_state"},
        )
    data = r.json()["response"]
    assert "charge_state" in data and "climate_state" not in data
    assert data["drive_state"]["latitude"] == pytest.approx(52.52, abs=0.01)
    assert bad.status_code == 422 and "fuel_state" in bad.json()["error_description"]


async def test_location_needs_the_location_scope(world: World) -> None:
    ada = await world.account("ada@example.com", scopes=frozenset({"vehicle_device_data"}))
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        r = await http.get(
            f"/api/1/vehicles/{car.vin}/vehicle_data", params={"endpoints": "location_data"}
        )
        ok = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
    assert r.status_code == 403 and r.json()["missing_scopes"] == ["vehicle_location"]
    assert ok.status_code == 200


async def test_a_sleeping_car_answers_408_until_woken_and_reads_never_wake_it(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, sleep_timeout_s=0.5, wake_duration_s=0.3)
    await world.eventually(
        lambda: world.rt.states.get(world.rt.registry._by_vin[car.vin].id).state == "asleep"
    )
    async with world.client(ada.token) as http:
        for _ in range(3):
            r = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
            assert r.status_code == 408
            assert (
                r.json()["error"] == "vehicle_unavailable"
                and "wake" in r.json()["error_description"]
            )
            listed = (await http.get("/api/1/vehicles")).json()["response"][0]
            assert listed["state"] == "asleep"
            cmd = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
            assert cmd.status_code == 408
            await asyncio.sleep(0.2)
        assert car.model.state == "asleep"
        woke = await http.post(f"/api/1/vehicles/{car.vin}/wake_up")
        assert woke.status_code == 200 and woke.json()["response"]["state"] in {"asleep", "online"}
        await world.eventually(lambda: car.model.state == "online")
        await world.settled(car)
        r = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
        assert r.status_code == 200


async def test_an_offline_car_is_408_offline(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, connect=False)
    async with world.client(ada.token) as http:
        r = await http.get(f"/api/1/vehicles/{car.vin}/vehicle_data")
        w = await http.post(f"/api/1/vehicles/{car.vin}/wake_up")
    assert r.status_code == 408 and "offline" in r.json()["error_description"]
    assert w.status_code == 408
