"""An owner books service in the app at /app, in a real browser, on a real server with a
simulated car: books a free slot (a slot that filled up meanwhile is refused in plain words),
sees it listed, moves it, cancels it; a car that reports service due suggests booking and
opens the form filled in, as the alert's link does; a window on `service` pauses this screen
only. On SQLite: the capacity rules themselves are tested on both databases in tests/service."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from playwright.async_api import Page, expect

from pitstop.settings import Settings
from pitstop.sim.model import CarModel
from tests.e2e.test_app import A11Y, TUNING, Owner, card, schedule_window, sign_in
from tests.world import Account, World

BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pitstop.db'}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The alert watcher looks often, so the service-due alert reaches the inbox at once.
    return msgspec.structs.replace(settings, alert_interval=0.5, notify_poll_interval=0.2)


@pytest.fixture
async def ops(world: World) -> Account:
    return await world.account("ops@example.com", role="operator")


@pytest.fixture
async def center(world: World, ops: Account) -> dict[str, Any]:
    async with world.client(ops.token) as http:
        r = await http.post(
            "/api/1/service/centers",
            json={
                "name": "Pitstop Mitte",
                "address": "Invalidenstraße 1, Berlin",
                "timezone": "Europe/Berlin",
                "hours": EVERY_DAY,
                "slot_minutes": 60,
                "capacity": 1,
            },
        )
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["response"]
    return found


def worn(model: CarModel) -> None:
    model.set_service(distance_km=21_000, last_service_at=model.now - timedelta(days=90))


@pytest.fixture
def car_setup() -> Callable[[CarModel], None] | None:
    """How the owner's car starts (a test parametrizes it to make the car due for service)."""
    return None


@pytest.fixture
async def owner(
    world: World,
    page: Page,
    center: dict[str, Any],
    car_setup: Callable[[CarModel], None] | None,
) -> AsyncIterator[Owner]:
    account = await world.account("olga@example.com")
    car = await world.car(account, name="Blue Model 3", setup=car_setup)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.add_init_script(f"localStorage.setItem('pitstop.app.tuning', '{TUNING}')")
    await sign_in(page, world.url, account.user.email, account.password)
    await expect(card(page).locator(".soc")).to_have_text(re.compile(r"^\d+ %$"))
    yield Owner(account, car, page, requests)


def tomorrow() -> date:
    return datetime.now(BERLIN).date() + timedelta(days=1)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


async def book_over_api(http: httpx.AsyncClient, vin: str, center_id: int, when: datetime) -> int:
    r = await http.post(
        "/api/1/service/appointments",
        json={
            "vin": vin,
            "center_id": center_id,
            "starts_at": when.isoformat(),
            "description": "Wipers squeak",
        },
    )
    assert r.status_code == 200, r.text
    appointment_id: int = r.json()["response"]["id"]
    return appointment_id


async def test_book_a_slot_see_it_move_it_and_cancel_it(
    world: World, owner: Owner, center: dict[str, Any], tmp_path: Path
) -> None:
    page = owner.page
    await page.get_by_role("link", name="Service").click()
    await expect(page.get_by_role("heading", name="Your appointments")).to_be_visible()
    await expect(page.locator("#appointments")).to_contain_text("No appointments ahead.")

    await page.get_by_role("button", name="Book service").click()
    form = page.get_by_role("form", name="Book service")
    await expect(form.get_by_label("Car")).to_have_value(owner.car.vin)
    await expect(form.get_by_label("Service center")).to_have_value(str(center["id"]))
    await expect(form).to_contain_text("Open Mon–Sun 08:00–20:00 (Europe/Berlin time)")
    day = tomorrow()
    await form.get_by_label("Day").fill(day.isoformat())
    slots = form.get_by_role("group", name=re.compile("^Free times on"))
    await expect(slots.get_by_role("radio")).to_have_count(12)  # 08:00 to 19:00
    await form.get_by_label("What needs doing?").fill("The brakes squeal when cold.")

    # Someone else takes the 10:00 slot (capacity 1) while the owner looks at it.
    bob = await world.account("bob@example.com")
    bobs_car = await world.car(bob, name="Red", connect=False)
    async with world.client(bob.token) as http:
        await book_over_api(http, bobs_car.vin, center["id"], at(day, 10))
    await slots.get_by_role("radio", name="10:00").check()
    await form.get_by_role("button", name="Book this time").click()
    refused = form.locator("#booking-result")
    await expect(refused).to_have_text(
        "Not booked: someone took the last place at that time a moment ago. "
        "The free times below are up to date again: pick another one."
    )
    await expect(slots.get_by_role("radio", name="10:00")).to_have_count(0)  # no longer offered
    await expect(slots.get_by_role("radio")).to_have_count(11)
    await page.screenshot(path=tmp_path / "1-slot-full.png", full_page=True)

    await slots.get_by_role("radio", name="11:00").check()
    problems = await page.evaluate(A11Y)
    assert problems == [], problems
    await form.get_by_role("button", name="Book this time").click()
    result = page.locator("#service-result")
    await expect(result).to_have_text(
        re.compile(
            r"^Booked: Blue Model 3 at Pitstop Mitte, (tomorrow|\w{3} \d+ \w{3}), 11:00–12:00\.$"
        )
    )
    item = page.locator("#appointments li.appointment")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("11:00–12:00")
    await expect(item).to_contain_text("Blue Model 3 at Pitstop Mitte")
    await expect(item).to_contain_text("The brakes squeal when cold.")
    await expect(item.locator(".status")).to_have_text("Booked")
    await expect(item).to_be_focused()  # the focus is on what was made
    await page.screenshot(path=tmp_path / "2-booked.png", full_page=True)
    async with world.client(owner.account.token) as me:
        (stored,) = (await me.get("/api/1/service/appointments")).json()["response"]
    assert datetime.fromisoformat(stored["starts_at"]) == at(day, 11)
    assert stored["description"] == "The brakes squeal when cold."

    # Reschedule to 14:00 the same day.
    await item.get_by_role("button", name="Reschedule").click()
    move = page.get_by_role("form", name="Reschedule service")
    await expect(move.get_by_label("Car")).to_be_disabled()
    await expect(move).to_contain_text("Now: ")
    await move.get_by_label("Day").fill(day.isoformat())
    await expect(move.get_by_role("radio", name="14:00")).to_be_visible()
    await expect(move.get_by_role("radio", name="11:00")).to_have_count(0)  # its own slot
    await move.get_by_role("radio", name="14:00").check()
    await move.get_by_role("button", name="Move to this time").click()
    await expect(result).to_contain_text("Moved: Blue Model 3 at Pitstop Mitte is now")
    await expect(result).to_contain_text("14:00–15:00 (was ")
    await expect(item).to_contain_text("14:00–15:00")
    await page.screenshot(path=tmp_path / "3-moved.png", full_page=True)

    # Cancel, with a confirmation, by keyboard: the focus starts on "Keep it".
    await item.get_by_role("button", name="Cancel appointment").click()
    confirm = item.get_by_role("group", name=re.compile("^Cancel the appointment for"))
    await expect(confirm).to_be_visible()
    await expect(confirm.get_by_role("button", name="Keep it")).to_be_focused()
    await page.screenshot(path=tmp_path / "4-confirm.png", full_page=True)
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Enter")
    await expect(result).to_contain_text("Cancelled: Blue Model 3 at Pitstop Mitte")
    await expect(item.locator(".status")).to_have_text("Cancelled")
    await expect(item.get_by_role("button")).to_have_count(0)
    async with world.client(owner.account.token) as me:
        (stored,) = (await me.get("/api/1/service/appointments?all=1")).json()["response"]
    assert stored["status"] == "cancelled"
    assert datetime.fromisoformat(stored["starts_at"]) == at(day, 14)
    await page.screenshot(path=tmp_path / "5-cancelled.png", full_page=True)


@pytest.mark.parametrize("car_setup", [worn], ids=["worn"])
async def test_a_car_due_for_service_suggests_booking_filled_in(
    world: World, owner: Owner, tmp_path: Path
) -> None:
    page, car = owner.page, card(owner.page)
    suggestion = car.get_by_role("group", name="Service due")
    await expect(suggestion).to_contain_text(
        "21000 km driven since its last service (service every 20000 km)."
    )
    await page.screenshot(path=tmp_path / "1-due.png", full_page=True)
    await suggestion.get_by_role("button", name="Book service now").click()
    await expect(page).to_have_url(re.compile(rf"#service/book\?vin={owner.car.vin}$"))
    form = page.get_by_role("form", name="Book service")
    await expect(form.get_by_label("Car")).to_have_value(owner.car.vin)
    problem = form.get_by_label("What needs doing?")
    await expect(problem).to_have_value(
        re.compile(r"^Service due \(reported by the car\): 21000 km")
    )
    await expect(form).to_contain_text("Filled in from what the car reports")
    await expect(form.get_by_role("radio").first).to_be_visible()  # the first free day is shown
    await page.screenshot(path=tmp_path / "2-prefilled.png", full_page=True)

    # The alert in the inbox suggests booking too, with a link to this very form.
    await page.get_by_role("link", name=re.compile("^Inbox")).click()
    alert = page.locator("#feed li", has_text="Blue Model 3 is due for service")
    await expect(alert).to_be_visible(timeout=15_000)
    text = await alert.locator("p").text_content() or ""
    link = re.search(r"https?://\S+/app#service/book\?vin=\S+", text)
    assert link is not None, text
    assert link[0].endswith(f"/app#service/book?vin={owner.car.vin}")
    await page.get_by_role("link", name=link[0]).click()  # the address in the text is a link
    await expect(page).to_have_url(f"{world.url}/app#service/book?vin={owner.car.vin}")
    await expect(form.get_by_label("What needs doing?")).to_have_value(
        re.compile(r"^Service due \(reported by the car\): 21000 km")
    )


async def test_a_service_window_pauses_the_service_screen_only(
    world: World, owner: Owner, ops: Account, center: dict[str, Any], tmp_path: Path
) -> None:
    page, car = owner.page, card(owner.page)
    async with world.client(owner.account.token) as me:
        await book_over_api(me, owner.car.vin, center["id"], at(tomorrow(), 9))
    # Bob, who uses the same phone later, has his own appointment at 10:00.
    bob = await world.account("bob@example.com")
    bobs_car = await world.car(bob, name="Red Model Y", connect=False)
    async with world.client(bob.token) as http:
        await book_over_api(http, bobs_car.vin, center["id"], at(tomorrow(), 10))
    await page.get_by_role("link", name="Service").click()
    item = page.locator("#appointments li.appointment")
    await expect(item).to_contain_text("Wipers squeak")
    await expect(item).to_contain_text("09:00–10:00")
    async with world.client(ops.token) as http:
        window = await schedule_window(
            http,
            title="Booking system upgrade",
            reason="new_features",
            components=["service"],
            starts_at=datetime.now(UTC).isoformat(),
            duration_minutes=20,
        )
        r = await http.post(f"/api/1/maintenance/{window}/start")
        assert r.status_code == 200, r.text

        notice = page.get_by_role("region", name="Service appointments are paused")
        await expect(notice).to_be_visible(timeout=10_000)
        await expect(notice).to_contain_text("Booking system upgrade")
        await expect(notice).to_contain_text("server maintenance for new features")
        await expect(notice.get_by_role("timer")).to_have_text(
            re.compile(r"^(19|20) min \d\d s left$")
        )
        await expect(notice).to_contain_text("Your cars and their controls keep working.")
        await expect(page.get_by_role("region", name="Server maintenance")).to_contain_text(
            "Paused: service appointments."
        )
        await expect(notice.get_by_role("link", name="Status page")).to_be_visible()
        await expect(page.get_by_role("button", name="Book service")).to_be_disabled()
        await expect(item.get_by_role("button", name="Reschedule")).to_be_disabled()
        await expect(item).to_contain_text("Wipers squeak")  # the last-known list stays
        await expect(page.locator("#service-paused-note")).to_contain_text(
            "Not available during server maintenance until about"
        )
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            problems = await page.evaluate(A11Y)
            assert problems == [], f"{scheme}: {problems}"
            await page.screenshot(path=tmp_path / f"1-paused-{scheme}.png", full_page=True)
        await page.emulate_media(color_scheme="light")

        # The cars keep working.
        await page.get_by_role("link", name="Cars").click()
        await car.get_by_role("button", name="Unlock").click()
        await expect(car.get_by_role("status")).to_have_text("Unlocked.")
        await page.screenshot(path=tmp_path / "2-cars-work.png", full_page=True)

        # Olga signs out and Bob signs in on the same device while the window holds: the
        # app cannot show him his appointments yet, and shows him none of hers instead.
        await page.get_by_role("link", name="Settings").click()
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        await sign_in(page, world.url, bob.user.email, bob.password)
        await expect(card(page, "Red Model Y")).to_be_visible()
        await expect(car).to_have_count(0)
        await page.get_by_role("link", name="Service").click()
        await expect(notice).to_be_visible(timeout=10_000)
        await expect(page.locator("#appointments")).to_have_text(
            "Your appointments could not be loaded yet."
        )
        await expect(page.locator("#appointments-age")).to_be_hidden()
        for hers in ("Blue Model 3", "09:00–10:00", "As last seen"):
            await expect(page.locator("#view-service")).not_to_contain_text(hers)
        await page.screenshot(path=tmp_path / "3-next-owner.png", full_page=True)

        r = await http.post(f"/api/1/maintenance/{window}/finish")
        assert r.status_code == 200, r.text
        await page.get_by_role("link", name="Service").click()
        await expect(notice).to_be_hidden(timeout=10_000)
        await expect(page.get_by_role("button", name="Book service")).to_be_enabled()
        await expect(item).to_have_count(1)  # Bob's own, and only his
        await expect(item).to_contain_text("Red Model Y at Pitstop Mitte")
        await expect(item).to_contain_text("10:00–11:00")
        await expect(item.get_by_role("button", name="Reschedule")).to_be_enabled()
