"""Rescheduling, cancelling, operators' day view, center management, and slots across DST."""

from __future__ import annotations

import asyncio

from pitstop.clock import ManualClock
from tests.service.support import book, make_center, stored, utc
from tests.world import Account, World

THU_10 = "2026-03-26T10:00:00+01:00"
THU_11 = "2026-03-26T11:00:00+01:00"
THU_14 = "2026-03-26T14:00:00+01:00"


async def _fill(world: World, center_id: int, when: str, n: int) -> None:
    """Book `n` bays of `when` for someone else's cars."""
    other = await world.account(f"filler{n}{when[11:13]}@example.com")
    async with world.client(other.token) as http:
        for _ in range(n):
            car = await world.car(other, connect=False)
            assert (await book(http, car.vin, center_id, when)).status_code == 200


async def test_reschedule_moves_the_booking_and_frees_the_old_slot(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops, capacity=1)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        made = (await book(http, car.vin, center["id"], THU_10)).json()["response"]
        r = await http.post(
            f"/api/1/service/appointments/{made['id']}/reschedule", json={"starts_at": THU_14}
        )
        assert r.status_code == 200, r.text
        assert r.json()["response"]["local_start"] == THU_14
        free = (
            await http.get(
                f"/api/1/service/centers/{center['id']}/slots",
                params={"from": "2026-03-26", "days": "1"},
            )
        ).json()["response"]["slots"]
        starts = [s["local_start"] for s in free]
        assert THU_10 in starts and THU_14 not in starts
    assert await stored(world) == (1, 1)


async def test_reschedule_to_a_full_slot_leaves_the_original_booking_intact(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    await _fill(world, center["id"], THU_14, 2)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        made = (await book(http, car.vin, center["id"], THU_10)).json()["response"]
        r = await http.post(
            f"/api/1/service/appointments/{made['id']}/reschedule", json={"starts_at": THU_14}
        )
        assert r.status_code == 409 and r.json()["error"] == "slot_full"
        assert "fully booked" in r.json()["error_description"]
        again = (await http.get(f"/api/1/service/appointments/{made['id']}")).json()["response"]
        assert again["status"] == "booked" and again["local_start"] == THU_10
        # Its bay is still held: the slot shows one free bay, not two.
        free = (
            await http.get(
                f"/api/1/service/centers/{center['id']}/slots",
                params={"from": "2026-03-26", "days": "1"},
            )
        ).json()["response"]["slots"]
        assert next(s for s in free if s["local_start"] == THU_10)["free"] == 1
    assert await stored(world) == (3, 3)


async def test_reschedule_to_a_time_outside_opening_hours_changes_nothing(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        made = (await book(http, car.vin, center["id"], THU_10)).json()["response"]
        r = await http.post(
            f"/api/1/service/appointments/{made['id']}/reschedule",
            json={"starts_at": "2026-03-26T12:00:00+01:00"},
        )
        assert r.status_code == 422 and "starts_at" in r.json()["messages"]
        again = (await http.get(f"/api/1/service/appointments/{made['id']}")).json()["response"]
        assert again["local_start"] == THU_10
    assert await stored(world) == (1, 1)


async def test_cancel_frees_the_slot(world: World, ops: Account, owner: Account) -> None:
    center = await make_center(world, ops, capacity=1)
    car = await world.car(owner, connect=False)
    other = await world.account("bob@example.com")
    theirs = await world.car(other, connect=False)
    async with world.client(owner.token) as http, world.client(other.token) as bob:
        made = (await book(http, car.vin, center["id"], THU_11)).json()["response"]
        assert (await book(bob, theirs.vin, center["id"], THU_11)).status_code == 409
        # Bob cannot see or cancel Ada's appointment.
        assert (
            await bob.post(f"/api/1/service/appointments/{made['id']}/cancel")
        ).status_code == 404
        r = await http.post(f"/api/1/service/appointments/{made['id']}/cancel")
        assert r.status_code == 200 and r.json()["response"]["status"] == "cancelled"
        assert (await http.get("/api/1/service/appointments")).json()["response"] == []
        everything = (await http.get("/api/1/service/appointments", params={"all": "1"})).json()
        assert [a["status"] for a in everything["response"]] == ["cancelled"]
        # Cancelling twice changes nothing; rescheduling a cancelled one is a conflict.
        assert (
            await http.post(f"/api/1/service/appointments/{made['id']}/cancel")
        ).status_code == 200
        r = await http.post(
            f"/api/1/service/appointments/{made['id']}/reschedule", json={"starts_at": THU_14}
        )
        assert r.status_code == 409
        assert (await book(bob, theirs.vin, center["id"], THU_11)).status_code == 200
    assert await stored(world) == (2, 1)


async def test_an_appointment_that_has_begun_cannot_be_moved_or_cancelled_by_its_owner(
    world: World, ops: Account, owner: Account, clock: ManualClock
) -> None:
    center = await make_center(world, ops)
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        today_11 = "2026-03-25T11:00:00+01:00"
        made = (await book(http, car.vin, center["id"], today_11)).json()["response"]
        clock.set(utc(today_11))
        r = await http.post(f"/api/1/service/appointments/{made['id']}/cancel")
        assert r.status_code == 409 and "already begun" in r.json()["error_description"]
        r = await http.post(
            f"/api/1/service/appointments/{made['id']}/reschedule", json={"starts_at": THU_14}
        )
        assert r.status_code == 409 and "already begun" in r.json()["error_description"]
    async with world.client(ops.token) as http:  # an operator still may (a no-show)
        r = await http.post(f"/api/1/service/appointments/{made['id']}/cancel")
        assert r.status_code == 200 and r.json()["response"]["status"] == "cancelled"


async def test_slots_across_a_daylight_saving_change_stay_in_the_centers_local_time(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    async with world.client(owner.token) as http:
        r = await http.get(
            f"/api/1/service/centers/{center['id']}/slots",
            params={"from": "2026-03-27", "days": "4"},
        )
        slots = r.json()["response"]["slots"]
    firsts: dict[str, str] = {}
    for s in slots:
        firsts.setdefault(s["local_start"][:10], s["starts_at"])
    # Friday (CET) 08:00 is 07:00Z; Saturday 09:00 is 08:00Z; Sunday is closed (and the change);
    # Monday (CEST) 08:00 is 06:00Z.
    assert firsts == {
        "2026-03-27": "2026-03-27T07:00:00Z",
        "2026-03-28": "2026-03-28T08:00:00Z",
        "2026-03-30": "2026-03-30T06:00:00Z",
    }
    mondays = [s["local_start"] for s in slots if s["local_start"].startswith("2026-03-30")]
    assert mondays[0] == "2026-03-30T08:00:00+02:00" and len(mondays) == 8


async def test_a_center_open_across_the_skipped_hour_has_no_slot_in_it(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops, name="Night shift", hours={"sun": ["00:00-06:00"]})
    async with world.client(owner.token) as http:
        r = await http.get(
            f"/api/1/service/centers/{center['id']}/slots",
            params={"from": "2026-03-29", "days": "1"},
        )
    starts = [s["local_start"][11:16] for s in r.json()["response"]["slots"]]
    assert starts == ["00:00", "01:00", "03:00", "04:00", "05:00"]  # 02:00 does not exist


async def test_operators_see_and_manage_the_days_appointments(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    other_center = await make_center(world, ops, name="Potsdam")
    car = await world.car(owner, connect=False)
    async with world.client(owner.token) as http:
        first = (await book(http, car.vin, center["id"], THU_14)).json()["response"]
        await book(http, car.vin, center["id"], THU_10)
        await book(http, car.vin, other_center["id"], THU_11)
        await book(http, car.vin, center["id"], "2026-03-27T10:00:00+01:00")
    async with world.client(ops.token) as http:
        day = (
            await http.get(
                "/api/1/service/appointments",
                params={"center_id": str(center["id"]), "date": "2026-03-26"},
            )
        ).json()["response"]
        assert [a["local_start"] for a in day] == [THU_10, THU_14]
        assert day[0]["vin"] == car.vin and day[0]["description"] == "Squeak"
        r = await http.post(
            f"/api/1/service/appointments/{first['id']}/reschedule",
            json={"starts_at": "2026-03-26T15:00:00+01:00"},
        )
        assert r.status_code == 200
        r = await http.post(f"/api/1/service/appointments/{first['id']}/cancel")
        assert r.json()["response"]["cancelled_by"] == "ops@example.com"
        everything = (
            await http.get("/api/1/service/appointments", params={"date": "2026-03-26", "all": "1"})
        ).json()["response"]
        assert [a["status"] for a in everything] == ["booked", "booked", "cancelled"]
        # Owners cannot manage centers.
    async with world.client(owner.token) as http:
        assert (await http.post("/api/1/service/centers", json={})).status_code == 403


async def test_operators_manage_centers_and_bad_values_name_each_field(
    world: World, ops: Account
) -> None:
    async with world.client(ops.token) as http:
        r = await http.post(
            "/api/1/service/centers",
            json={
                "name": "Bad",
                "timezone": "Mars/Olympus",
                "hours": {"mon": ["17:00-08:00"], "funday": ["10:00-11:00"]},
                "slot_minutes": 1,
                "capacity": 0,
            },
        )
        assert r.status_code == 422
        assert set(r.json()["messages"]) == {"timezone", "hours.funday", "slot_minutes", "capacity"}
        assert (await http.get("/api/1/service/centers")).json()["response"] == []
    center = await make_center(world, ops)
    async with world.client(ops.token) as http:
        r = await http.patch(
            f"/api/1/service/centers/{center['id']}", json={"capacity": 3, "slot_minutes": 2}
        )
        assert r.status_code == 422
        shown = (await http.get(f"/api/1/service/centers/{center['id']}")).json()["response"]
        assert shown["capacity"] == 2  # nothing half applied
        r = await http.patch(f"/api/1/service/centers/{center['id']}", json={"capacity": 3})
        assert r.json()["response"]["capacity"] == 3
        assert (await http.patch("/api/1/service/centers/77", json={})).status_code == 404


async def test_concurrent_reschedules_into_the_last_bay_move_exactly_one(
    world: World, ops: Account, owner: Account
) -> None:
    center = await make_center(world, ops)
    await _fill(world, center["id"], THU_14, 1)  # one of two bays left
    cars = [await world.car(owner, connect=False) for _ in range(4)]
    async with world.client(owner.token) as http:
        made = [
            (await book(http, c.vin, center["id"], when)).json()["response"]
            for c, when in zip(cars, (THU_10, THU_10, THU_11, THU_11), strict=True)
        ]
        answers = await asyncio.gather(
            *(
                http.post(
                    f"/api/1/service/appointments/{m['id']}/reschedule",
                    json={"starts_at": THU_14},
                )
                for m in made
            )
        )
        assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
        mine = (await http.get("/api/1/service/appointments")).json()["response"]
        at = [a["local_start"] for a in mine]
        assert at.count(THU_14) == 1 and at.count(THU_10) + at.count(THU_11) == 3
    assert await stored(world) == (5, 5)
