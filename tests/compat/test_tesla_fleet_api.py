"""A real peer client, the PyPI package `tesla-fleet-api`, against a real running Pitstop."""

from __future__ import annotations

import aiohttp
import pytest
from tesla_fleet_api import TeslaFleetApi
from tesla_fleet_api.exceptions import InvalidCommand, InvalidResource, NotFound, VehicleOffline

from tests.world import World


async def test_tesla_fleet_api_reads_and_commands_a_car(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada, name="Compat car", battery_level=72.0)
    async with aiohttp.ClientSession() as session:
        api = TeslaFleetApi(session, access_token=ada.token, server=world.url)
        products = await api.products()
        assert [p["vin"] for p in products["response"]] == [car.vin]

        vehicle = api.vehicles.createFleet(car.vin)
        assert (await vehicle.wake_up())["response"]["state"] == "online"
        data = (await vehicle.vehicle_data())["response"]
        assert data["charge_state"]["battery_level"] == 72
        assert data["vehicle_state"]["locked"] is True

        assert (await vehicle.door_unlock())["response"]["result"] is True
        data = (await vehicle.vehicle_data(["vehicle_state"]))["response"]
        assert data["vehicle_state"]["locked"] is False
        assert (await vehicle.door_lock())["response"]["result"] is True
        assert (await vehicle.vehicle_data())["response"]["vehicle_state"]["locked"] is True

        assert (await vehicle.auto_conditioning_start())["response"]["result"] is True
        assert (await vehicle.set_temps(20.5, 21.0))["response"]["result"] is True
        climate = (await vehicle.vehicle_data(["climate_state"]))["response"]["climate_state"]
        assert climate["is_climate_on"] is True
        assert climate["driver_temp_setting"] == 20.5 and climate["passenger_temp_setting"] == 21.0
        assert (await vehicle.auto_conditioning_stop())["response"]["result"] is True
        climate = (await vehicle.vehicle_data(["climate_state"]))["response"]["climate_state"]
        assert climate["is_climate_on"] is False

        assert (await vehicle.set_charge_limit(65))["response"]["result"] is True
        charge = (await vehicle.vehicle_data(["charge_state"]))["response"]["charge_state"]
        assert charge["charge_limit_soc"] == 65


async def test_tesla_fleet_api_sees_teslas_errors(world: World) -> None:
    ada = await world.account("ada@example.com")
    car = await world.car(ada)
    parked = await world.car(ada, connect=False)
    async with aiohttp.ClientSession() as session:
        api = TeslaFleetApi(session, access_token=ada.token, server=world.url)
        with pytest.raises(NotFound):
            await api.vehicles.createFleet("5YJ3E1EA7PF999999").vehicle_data()
        with pytest.raises(VehicleOffline):
            await api.vehicles.createFleet(parked.vin).vehicle_data()
        with pytest.raises(InvalidResource) as caught:
            await api.vehicles.createFleet(car.vin).set_charge_limit(101)
        assert caught.value.data["messages"] == {"percent": ["must be between 50 and 100"]}
        with pytest.raises(InvalidCommand):
            await api._request("POST", f"api/1/vehicles/{car.vin}/command/teleport")  # type: ignore[arg-type]
