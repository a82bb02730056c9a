"""Booking on a real server: free slots, what is refused (and leaves nothing behind), capacity."""

from __future__ import annotations

import asyncio
from collections import Counter

from pitstop.clock import ManualClock
from tests.service.support import book, make_center, stored, utc
from tests.world import Account, World

# Thursday 26 March 2026, Berlin is on CET (UTC+1): 10:00 local is 09:00Z.
THU_10 = "2026-03-26T10:00:00+01:00"
THU_11 = "2026-03-26T11:00:00+01:00"


async def test_an_owner_finds_free_slots_and_books_one(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        centers = (await http.get("/api/1/service/centers")).json()["response"]
        assert [c["name"] for c in centers] == ["Berlin Mitte"]
        r = await http.get(
            f"/api/1/service/centers/{center['id']}/slots",
            params={"vin": car.vin, "from": "2026-03-25", "days": "2"},
        )
        assert r.status_code == 200, r.text
        listed = r.json()["response"]
        assert listed["timezone"] == "Europe/Berlin"
        starts = [s["local_start"] for s in listed["slots"]]
        # Wednesday: it is 10:00 in Berlin, so 11:00 is the first slot still ahead; lunch is shut.
        assert starts[0] == "2026-03-25T11:00:00+01:00"
        assert "2026-03-25T12:00:00+01:00" not in starts
        assert len(starts) == 5 + 8
        assert all(s["free"] == 2 and s["capacity"] == 2 for s in listed["slots"])

        r = await book(http, car.vin, center["id"], THU_10, "Front left tyre loses pressure.")
        assert r.status_code == 200, r.text
        made = r.json()["response"]
        assert made["status"] == "booked" and made["vin"] == car.vin
        assert utc(made["starts_at"]) == utc(THU_10)
        assert made["local_start"] == THU_10 and made["center_name"] == "Berlin Mitte"

        mine = (await http.get("/api/1/service/appointments")).json()["response"]
        assert [a["id"] for a in mine] == [made["id"]]
        after = (
            await http.get(
                f"/api/1/service/centers/{center['id']}/slots",
                params={"from": "2026-03-26", "days": "1"},
            )
        ).json()["response"]["slots"]
        assert next(s for s in after if s["local_start"] == THU_10)["free"] == 1
        # The car itself no longer sees the slot it holds.
        for_car = (
            await http.get(
                f"/api/1/service/centers/{center['id']}/slots",
                params={"vin": car.vin, "from": "2026-03-26", "days": "1"},
            )
        ).json()["response"]["slots"]
        assert THU_10 not in [s["local_start"] for s in for_car]
    assert await stored(world) == (1, 1)


async def test_booking_outside_opening_hours_is_refused_and_nothing_stored(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        for when in (
            "2026-03-26T12:00:00+01:00",  # lunch
            "2026-03-26T07:00:00+01:00",  # before opening
            "2026-03-28T14:00:00+01:00",  # Saturday afternoon
            "2026-03-29T10:00:00+02:00",  # Sunday: closed
            "2026-03-26T10:30:00+01:00",  # not on the hourly grid
        ):
            r = await book(http, car.vin, center["id"], when)
            assert r.status_code == 422, (when, r.text)
            body = r.json()
            assert body["error"] == "invalid_field"
            assert "no slot starting at" in body["messages"]["starts_at"][0]
    assert await stored(world) == (0, 0)


async def test_booking_in_the_past_is_refused_and_nothing_stored(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        # 09:00 Berlin today began an hour ago (it is 10:00 there).
        r = await book(http, car.vin, center["id"], "2026-03-25T09:00:00+01:00")
        assert r.status_code == 422
        assert "in the past" in r.json()["messages"]["starts_at"][0]
    assert await stored(world) == (0, 0)


async def test_booking_for_someone_elses_car_is_not_found_and_nothing_stored(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    other = await world.account("bob@example.com")
    theirs = await world.car(other, connect=False)
    async with world.client(owner.token) as http:
        r = await book(http, theirs.vin, center["id"], THU_10)
        assert r.status_code == 404
        assert r.json()["error"] == "not_found" and theirs.vin in r.json()["error_description"]
        r = await http.get(
            f"/api/1/service/centers/{center['id']}/slots", params={"vin": theirs.vin}
        )
        assert r.status_code == 404
    assert await stored(world) == (0, 0)


async def test_booking_at_an_unknown_center_is_not_found_and_nothing_stored(
    world: World, owner: Account
) -> None:
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        r = await book(http, car.vin, 999, THU_10)
        assert r.status_code == 404
        assert r.json()["messages"] == {"center_id": ["There is no service center 999."]}
    assert await stored(world) == (0, 0)


async def test_a_booking_with_several_problems_names_each_field(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        r = await book(http, car.vin, center["id"], "2026-03-26T12:00:00+01:00", "   ")
        assert r.status_code == 422
        assert set(r.json()["messages"]) == {"starts_at", "description"}
        r = await http.post("/api/1/service/appointments", json={"vin": car.vin})
        assert r.status_code == 422 and r.json()["error"] == "invalid_field"
    assert await stored(world) == (0, 0)


async def test_the_same_car_cannot_take_two_bays_of_one_slot(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        assert (await book(http, car.vin, center["id"], THU_10)).status_code == 200
        r = await book(http, car.vin, center["id"], THU_10)
        assert r.status_code == 409 and r.json()["error"] == "already_booked"
    assert await stored(world) == (1, 1)


async def test_owners_need_a_token_that_may_read_their_cars(world: World, ops: Account) -> None:
    await make_center(world, ops)
    limited = await world.account("eve@example.com", scopes=frozenset({"openid"}))
    async with world.client(limited.token) as http:
        r = await http.get("/api/1/service/centers")
        assert r.status_code == 403 and r.json()["error"] == "missing_scopes"
    async with world.client() as http:
        assert (await http.get("/api/1/service/centers")).status_code == 401


async def test_concurrent_bookings_never_exceed_capacity(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    cars = [await world.car(owner, connect=False) for _ in range(8)]
    async with world.client(owner.token) as http:
        answers = await asyncio.gather(*(book(http, c.vin, center["id"], THU_11) for c in cars))
    counts = Counter(r.status_code for r in answers)
    assert counts == {200: 2, 409: 6}, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"] == "slot_full"
            assert "fully booked" in r.json()["error_description"]
    assert await stored(world) == (2, 2)


async def test_concurrent_bookings_from_two_server_processes_share_the_capacity(
    world: World, ops: Account, owner: Account, settings: object, clock: ManualClock
) -> None:
    from pitstop.app import create_app
    from pitstop.settings import Settings

    assert isinstance(settings, Settings)
    center = await make_center(world, ops)
    cars = [await world.car(owner, connect=False) for _ in range(10)]
    async with World.running(create_app(settings, clock=clock), clock) as second:
        async with world.client(owner.token) as a, second.client(owner.token) as b:
            answers = await asyncio.gather(
                *(book(a if n % 2 else b, c.vin, center["id"], THU_11) for n, c in enumerate(cars))
            )
    counts = Counter(r.status_code for r in answers)
    assert counts == {200: 2, 409: 8}, [r.text for r in answers]
    assert await stored(world) == (2, 2)
