"""Which cars are due for service, as the app asks (`GET /api/1/service/due`): the vehicle
alerts' own rules and settings, in plain words, for the owner's cars only."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from pitstop.clock import ManualClock
from pitstop.settings import Settings
from pitstop.sim.model import CarModel
from tests.world import Account, World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, alert_service_km=15_000.0)


async def test_an_owner_sees_which_cars_are_due_and_why(
    world: World, clock: ManualClock, owner: Account
) -> None:
    def worn(model: CarModel) -> None:
        model.set_tyre_pressure("rl", 2.0)
        model.set_service(distance_km=16_200, last_service_at=clock.now() - timedelta(days=30))

    def fine(model: CarModel) -> None:
        model.set_service(distance_km=100, last_service_at=clock.now() - timedelta(days=30))

    due = await world.car(owner, name="Worn", setup=worn)
    ok = await world.car(owner, name="Fine", setup=fine)
    never = await world.car(owner, name="Quiet", connect=False)  # nothing reported yet
    other = await world.account("bob@example.com")
    async with world.client(owner.token) as http:
        r = await http.get("/api/1/service/due")
        assert r.status_code == 200, r.text
        found = {d["vin"]: d for d in r.json()["response"]}
        assert set(found) == {due.vin, ok.vin, never.vin}
        worn_car = found[due.vin]
        assert worn_car["due"] is True and worn_car["vehicle_name"] == "Worn"
        # The operator's setting (15,000 km here), the alert's words.
        assert worn_car["reasons"] == [
            "16200 km driven since its last service (service every 15000 km).",
            "The rear left tyre is at 2.0 bar, below 2.4 bar.",
        ]
        assert worn_car["problem"].startswith("Service due (reported by the car): 16200 km")
        assert found[ok.vin]["due"] is False and found[ok.vin]["problem"] == ""
        assert found[never.vin]["due"] is False

        one = await http.get("/api/1/service/due", params={"vin": due.vin})
        assert [d["vin"] for d in one.json()["response"]] == [due.vin]
    async with world.client(other.token) as http:
        r = await http.get("/api/1/service/due", params={"vin": due.vin})
        assert r.status_code == 404, r.text
        assert (await http.get("/api/1/service/due")).json()["response"] == []
