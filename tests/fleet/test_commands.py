"""Commanding cars: the car's answer, its effect on the reported state, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.world import Account, World


async def _data(
    world: World, owner: Account, vin: str, endpoints: str | None = None
) -> dict[str, Any]:
    async with world.client(owner.token) as http:
        params = {"endpoints": endpoints} if endpoints else {}
        r = await http.get(f"/api/1/vehicles/{vin}/vehicle_data", params=params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["response"]
    return data


async def test_unlock_and_lock_change_what_the_car_reports(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    assert (await _data(world, ada, car.vin))["vehicle_state"]["locked"] is True
    async with world.client(ada.token) as http:
        r = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
    assert r.status_code == 200
    assert r.json() == {"response": {"result": True, "reason": ""}, "error": None}
    assert (await _data(world, ada, car.vin))["vehicle_state"]["locked"] is False
    async with world.client(ada.token) as http:
        await http.post(f"/api/1/vehicles/{car.vin}/command/door_lock")
    assert (await _data(world, ada, car.vin))["vehicle_state"]["locked"] is True


async def test_a_refused_command_is_200_with_result_false_and_a_reason(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        r = await http.post(f"/api/1/vehicles/{car.vin}/command/charge_start")
    assert r.status_code == 200
    assert r.json()["response"]["result"] is False
    assert r.json()["response"]["reason"] == "cable_not_connected"
    assert r.json()["error"] is None


async def test_charging_climate_and_limits_follow_commands(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, battery_level=40.0, setup=lambda m: m.plug_in())
    async with world.client(ada.token) as http:
        for name, body in [
            ("set_charge_limit", {"percent": 90}),
            ("set_temps", {"driver_temp": 21.5, "passenger_temp": 22}),
            ("auto_conditioning_start", None),
            ("charge_stop", None),
        ]:
            r = await http.post(f"/api/1/vehicles/{car.vin}/command/{name}", json=body)
            assert r.json()["response"]["result"] is True, (name, r.text)
    data = await _data(world, ada, car.vin)
    assert data["charge_state"]["charge_limit_soc"] == 90
    assert data["charge_state"]["charging_state"] == "Stopped"
    assert data["climate_state"]["driver_temp_setting"] == 21.5
    assert data["climate_state"]["is_climate_on"] is True


async def test_charge_schedules_are_stored_on_the_car(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    schedule = {
        "days_of_week": "Weekdays",
        "enabled": True,
        "start_enabled": True,
        "end_enabled": True,
        "start_time": 23 * 60,
        "end_time": 6 * 60,
        "lat": 52.5,
        "lon": 13.4,
        "id": 7,
    }
    async with world.client(ada.token) as http:
        r = await http.post(f"/api/1/vehicles/{car.vin}/command/add_charge_schedule", json=schedule)
        assert r.json()["response"]["result"] is True
        data = await _data(world, ada, car.vin, "charge_schedule_data")
        schedules = data["charge_schedule_data"]["charge_schedules"]
        assert [s["start_time"] for s in schedules] == [23 * 60]
        sid = schedules[0]["id"]
        r = await http.post(
            f"/api/1/vehicles/{car.vin}/command/remove_charge_schedule", json={"id": sid}
        )
        assert r.json()["response"]["result"] is True
    data = await _data(world, ada, car.vin, "charge_schedule_data")
    assert data["charge_schedule_data"]["charge_schedules"] == []


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("set_charge_limit", {"percent": 0}, 422, "percent"),
        ("set_charge_limit", {"percent": 101}, 422, "percent"),
        ("set_charge_limit", {"percent": "eighty"}, 422, "percent"),
        ("set_charge_limit", {}, 422, "body"),
        ("set_temps", {"driver_temp": 40, "passenger_temp": 20}, 422, "driver_temp"),
        ("set_temps", {"driver_temp": 20, "passenger_temp": 10}, 422, "passenger_temp"),
        ("set_scheduled_charging", {"enable": True}, 422, "time"),
        ("set_scheduled_charging", {"enable": True, "time": 1440}, 422, "time"),
        ("add_charge_schedule", {"days_of_week": "Someday", "start_time": 60}, 422, "days_of_week"),
        ("teleport", {}, 400, "command"),
    ],
)
async def test_bad_input_is_a_clear_error_and_changes_nothing(
    world: World, name: str, body: dict[str, Any], status: int, field: str
) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    before = car.seq
    async with world.client(ada.token) as http:
        r = await http.post(f"/api/1/vehicles/{car.vin}/command/{name}", json=body)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["response"] is None and err["error"] in {"invalid_field", "invalid_command"}
    assert field in err["messages"], err
    assert err["error_description"]
    # Nothing reached the car.
    assert car.seq == before and car.model.signals()["charge_state.charge_limit_soc"] == 80


async def test_malformed_json_is_400(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        r = await http.post(
            f"/api/1/vehicles/{car.vin}/command/set_charge_limit",
            content=b'{"percent": 8',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert "JSON" in r.json()["error_description"]


async def test_charging_commands_work_with_only_the_charging_scope(world: World) -> None:
    ada = await world.account("ada@example.com", scopes=frozenset({"vehicle_charging_cmds"}))
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        limit = await http.post(
            f"/api/1/vehicles/{car.vin}/command/set_charge_limit", json={"percent": 70}
        )
        unlock = await http.post(f"/api/1/vehicles/{car.vin}/command/door_unlock")
    assert limit.status_code == 200
    assert unlock.status_code == 403 and unlock.json()["missing_scopes"] == ["vehicle_cmds"]


async def test_turning_scheduled_departure_off_keeps_its_time(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    async with world.client(ada.token) as http:
        on = {"enable": True, "departure_time": 7 * 60 + 30, "end_off_peak_time": 6 * 60}
        r = await http.post(f"/api/1/vehicles/{car.vin}/command/set_scheduled_departure", json=on)
        assert r.json()["response"]["result"] is True, r.text
        r = await http.post(
            f"/api/1/vehicles/{car.vin}/command/set_scheduled_departure", json={"enable": False}
        )
        assert r.json()["response"]["result"] is True, r.text
        missing = await http.post(
            f"/api/1/vehicles/{car.vin}/command/set_scheduled_departure", json={"enable": True}
        )
        assert missing.status_code == 422 and "departure_time" in missing.json()["messages"]
    charge = (await _data(world, ada, car.vin, "charge_state"))["charge_state"]
    assert charge["scheduled_departure_time_minutes"] == 7 * 60 + 30
    assert charge["scheduled_charging_mode"] == "Off"
