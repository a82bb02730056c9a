"""`pitstop service ...` against a real server: find a slot, book, list, move and cancel it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.cli.conftest import Invoke
from tests.service.support import make_center
from tests.world import Account, World

BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _day(ahead: int) -> date:
    return datetime.now(UTC).astimezone(BERLIN).date() + timedelta(days=ahead)


async def _setup(world: World, *, capacity: int = 2) -> tuple[Account, Account, dict[str, Any]]:
    ops = await world.account("ops@example.com", role="operator")
    owner = await world.account("ada@example.com")
    center = await make_center(world, ops, hours=EVERY_DAY, capacity=capacity)
    return ops, owner, center


async def test_book_list_reschedule_and_cancel_end_to_end(world: World, pitstop: Invoke) -> None:
    ops, owner, center = await _setup(world)
    car = await world.car(owner, connect=False, name="Blue")
    cid = str(center["id"])
    day = _day(3)

    async def run(*args: str, token: str = owner.token) -> Any:
        result = await pitstop("service", *args, token=token, url=world.url)
        assert result.exit_code == 0, result.output
        return result

    shown = await run("centers")
    assert "Berlin Mitte" in shown.stdout and "Mon 08:00-18:00" in shown.stdout
    free = await run("slots", cid, "--from", day.isoformat(), "--days", "1")
    assert "Free slots at Berlin Mitte" in free.stdout and "10:00" in free.stdout
    assert "2/2" in free.stdout

    booked = await run(
        "book", car.vin, "--center", cid, "--at", f"{day} 10:00", "-d", "Wipers squeak"
    )
    assert booked.stdout.startswith("Booked appointment ")
    assert "10:00 CET at Berlin Mitte for Blue" in booked.stdout
    made = json.loads((await run("list", "--json")).stdout)
    assert [a["description"] for a in made] == ["Wipers squeak"]
    appointment_id = str(made[0]["id"])
    listed = await run("list")
    assert "Wipers squeak" in listed.stdout and car.vin in listed.stdout

    moved = await run("reschedule", appointment_id, "--at", f"{day} 15:00")
    assert f"Moved appointment {appointment_id} to" in moved.stdout and "15:00" in moved.stdout
    free = json.loads(
        (await run("slots", cid, "--from", day.isoformat(), "--days", "1", "--json")).stdout
    )
    by_start = {s["local_start"][11:16]: s["free"] for s in free["slots"]}
    assert by_start["10:00"] == 2 and by_start["15:00"] == 1

    day_view = await run("list", "--center", cid, "--date", day.isoformat(), token=ops.token)
    assert "Wipers squeak" in day_view.stdout

    gone = await run("cancel", appointment_id)
    assert f"Cancelled appointment {appointment_id}:" in gone.stdout
    assert "No service appointments." in (await run("list")).stdout
    assert "cancelled" in (await run("list", "--all")).stdout


async def test_times_are_shown_in_your_zone_with_the_centers_beside_them(
    world: World, pitstop: Invoke
) -> None:
    _, owner, center = await _setup(world)
    day = _day(3)
    result = await pitstop(
        "service", "slots", str(center["id"]), "--from", day.isoformat(), "--days", "1",
        token=owner.token, url=world.url, tz="America/New_York",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # 08:00 in Berlin is 02:00 in New York.
    assert "02:00 EST" in result.stdout and "At the center (Europe/Berlin)" in result.stdout


async def test_booking_a_full_slot_says_so_with_a_hint(world: World, pitstop: Invoke) -> None:
    _, owner, center = await _setup(world, capacity=1)
    first, second = [await world.car(owner, connect=False) for _ in range(2)]
    at = f"{_day(2)} 11:00"
    ok = await pitstop(
        "service", "book", first.vin, "-c", str(center["id"]), "--at", at, "-d", "Noise",
        token=owner.token, url=world.url,
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    full = await pitstop(
        "service", "book", second.vin, "-c", str(center["id"]), "--at", at, "-d", "Noise",
        token=owner.token, url=world.url,
    )  # fmt: skip
    assert full.exit_code == 1
    assert "fully booked" in full.stderr
    assert f"pitstop service slots {center['id']}" in full.stderr
    assert "Traceback" not in full.output


async def test_rescheduling_into_a_full_slot_keeps_the_appointment_and_says_so(
    world: World, pitstop: Invoke
) -> None:
    _, owner, center = await _setup(world, capacity=1)
    first, second = [await world.car(owner, connect=False) for _ in range(2)]
    day = _day(2)
    for car, hour in ((first, "09:00"), (second, "10:00")):
        r = await pitstop(
            "service", "book", car.vin, "-c", str(center["id"]), "--at", f"{day} {hour}",
            "-d", "Check", "--json", token=owner.token, url=world.url,
        )  # fmt: skip
        assert r.exit_code == 0, r.output
    mine = json.loads(
        (await pitstop("service", "list", "--json", token=owner.token, url=world.url)).stdout
    )
    result = await pitstop(
        "service", "reschedule", str(mine[0]["id"]), "--at", f"{day} 10:00",
        token=owner.token, url=world.url,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "fully booked" in result.stderr and "stays at" in result.stderr
    assert "09:00" in result.stderr


async def test_booking_outside_opening_hours_or_for_an_unknown_car_is_a_sentence(
    world: World, pitstop: Invoke
) -> None:
    _, owner, center = await _setup(world)
    car = await world.car(owner, connect=False)
    late = await pitstop(
        "service", "book", car.vin, "-c", str(center["id"]), "--at", f"{_day(2)} 19:00",
        "-d", "Noise", token=owner.token, url=world.url,
    )  # fmt: skip
    assert late.exit_code == 1
    assert "no slot starting at" in late.stderr and "Hint:" in late.stderr
    unknown = await pitstop(
        "service", "book", "5YJ3E1EA7PF999999", "-c", str(center["id"]),
        "--at", f"{_day(2)} 10:00", "-d", "Noise", token=owner.token, url=world.url,
    )  # fmt: skip
    assert unknown.exit_code == 1 and "You have no vehicle 5YJ3E1EA7PF999999" in unknown.stderr
    nowhere = await pitstop(
        "service", "book", car.vin, "-c", "999", "--at", f"{_day(2)} 10:00", "-d", "Noise",
        "--json", token=owner.token, url=world.url,
    )  # fmt: skip
    assert nowhere.exit_code == 1
    assert json.loads(nowhere.stdout)["message"] == "There is no service center 999."
