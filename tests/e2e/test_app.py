"""An owner uses the app at /app in a real browser, on a real server with simulated cars."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, expect

from pitstop.sim.car import SimulatedCar
from tests.world import Account, World

#: The app's timings, made short for tests: status checks every ~1 s during a window, every
#: ~2 s otherwise, car data every ~2 s.
TUNING = '{"during": 1, "calm": 2, "overrun": 1, "data": 2}'


@dataclass
class Owner:
    account: Account
    car: SimulatedCar
    page: Page
    requests: list[str]


async def sign_in(page: Page, url: str, email: str, password: str) -> None:
    await page.goto(f"{url}/app")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/oauth2/v3/authorize\?"))
    await expect(page.get_by_text("pitstop-web")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{url}/app")


@pytest.fixture
async def owner(world: World, page: Page) -> AsyncIterator[Owner]:
    account = await world.account("olga@example.com")
    car = await world.car(account, name="Blue Model 3")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.add_init_script(f"localStorage.setItem('pitstop.app.tuning', '{TUNING}')")
    await sign_in(page, world.url, account.user.email, account.password)
    await expect(card(page)).to_be_visible()
    await expect(card(page).locator(".soc")).to_have_text(re.compile(r"^\d+ %$"))
    yield Owner(account, car, page, requests)


def card(page: Page, name: str = "Blue Model 3"):  # type: ignore[no-untyped-def]
    return page.get_by_role("article", name=name)


async def operator(world: World) -> httpx.AsyncClient:
    ops = await world.account("ops@example.com", role="operator")
    return world.client(ops.token)


async def schedule_window(ops: httpx.AsyncClient, **body: object) -> int:
    r = await ops.post("/api/1/maintenance", json=body)
    assert r.status_code == 200, r.text
    window_id: int = r.json()["response"]["id"]
    return window_id


async def test_sign_in_see_a_car_unlock_it_and_manage_charge_schedules(
    world: World, owner: Owner, tmp_path: Path
) -> None:
    page, car = owner.page, card(owner.page)
    await expect(car.locator(".range")).to_have_text(re.compile(r"^\d+ km · \d+ mi$"))
    await expect(car.locator(".coords")).to_contain_text("52.52000, 13.40500")
    await expect(car.locator(".map-box svg")).to_have_count(1)
    await expect(car.locator(".locks")).to_have_text("Locked")
    await expect(car.locator(".age")).to_contain_text("Updated")
    await page.screenshot(path=tmp_path / "1-signed-in.png", full_page=True)

    await car.get_by_role("button", name="Unlock").click()
    await expect(car.get_by_role("status")).to_have_text("Unlocked.")
    await expect(car.locator(".locks")).to_have_text("Unlocked")
    assert owner.car.model.signals()["vehicle_state.locked"] is False

    await car.get_by_text("Add a charge schedule").click()
    await car.get_by_label("Name").fill("Night tariff")
    await car.get_by_label("Days").select_option("Weekdays")
    await car.get_by_label("Start at").fill("23:30")
    await car.get_by_role("button", name="Save schedule").click()
    await expect(car.get_by_role("status")).to_have_text("Added Night tariff.")
    item = car.locator(".schedule-list li", has_text="Night tariff")
    await expect(item).to_contain_text("weekdays from 23:30")
    await page.screenshot(path=tmp_path / "2-schedule.png", full_page=True)

    await car.get_by_role("button", name="Edit Night tariff").click()
    await car.get_by_label("Start at").fill("22:15")
    await car.get_by_role("button", name="Save schedule").click()
    await expect(car.get_by_role("status")).to_have_text("Saved Night tariff.")
    await expect(item).to_contain_text("weekdays from 22:15")
    await car.get_by_role("button", name="Remove Night tariff").click()
    await expect(car.get_by_role("status")).to_have_text("Removed Night tariff.")
    await expect(item).to_have_count(0)

    # Served by Pitstop itself: nothing was fetched from anywhere else.
    origin = urlsplit(world.url).netloc
    assert {urlsplit(u).netloc for u in owner.requests if u.startswith("http")} == {origin}
