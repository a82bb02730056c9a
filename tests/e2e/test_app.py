"""An owner uses the app at /app in a real browser, on a real server with simulated cars."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

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


async def test_a_refused_command_shows_the_cars_reason(owner: Owner, tmp_path: Path) -> None:
    car = card(owner.page)
    await car.get_by_role("button", name="Start charging").click()
    await expect(car.get_by_role("status")).to_have_text(
        "The car refused: the charge cable is not connected."
    )
    await owner.page.screenshot(path=tmp_path / "refused.png")


async def test_unlock_with_the_keyboard_only(owner: Owner) -> None:
    page, car = owner.page, card(owner.page)
    await page.locator("body").focus()
    unlock = car.get_by_role("button", name="Unlock")
    for _ in range(60):
        await page.keyboard.press("Tab")
        if await unlock.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the Unlock button")
    # The focus is visible where it is.
    outline = await unlock.evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline != "none"
    await page.keyboard.press("Enter")
    await expect(car.get_by_role("status")).to_have_text("Unlocked.")
    await expect(car.locator(".locks")).to_have_text("Unlocked")
    # The focus comes back to the button that acted.
    assert await unlock.evaluate("b => b === document.activeElement")


# Every control has a name, every input a label, and text has AA contrast, in light and dark.
A11Y = """() => {
  const problems = [];
  const name = (el) => {
    const labelled = el.getAttribute("aria-labelledby");
    if (labelled) return labelled.split(" ").map((id) => document.getElementById(id)?.textContent || "").join(" ").trim();
    return (el.getAttribute("aria-label") || (el.labels && [...el.labels].map((l) => l.textContent).join(" ")) || el.textContent || el.title || "").trim();
  };
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  for (const el of document.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea, [role=button]")) {
    if (visible(el) && !name(el)) problems.push(`no name: ${el.outerHTML.slice(0, 120)}`);
  }
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) problems.push(`img without alt: ${img.src}`);
  for (const r of document.querySelectorAll("[role=img]")) if (!r.getAttribute("aria-label")) problems.push("role=img without a label");
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3); } return null; };
  for (const el of document.querySelectorAll("body *")) {
    if (!visible(el) || el.closest("svg") || el.closest("fieldset:disabled") || el.disabled) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const back = bg(el);
    if (!back) continue;
    const fore = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fore), lum(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const big = parseFloat(getComputedStyle(el).fontSize) >= 24 || (parseFloat(getComputedStyle(el).fontSize) >= 18.6 && Number(getComputedStyle(el).fontWeight) >= 700);
    if (ratio < (big ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}: ${el.textContent.trim().slice(0, 40)}`);
  }
  return problems;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_accessibility_basics(owner: Owner, scheme: str, tmp_path: Path) -> None:
    page = owner.page
    await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    await expect(page.locator("html[data-ready]")).to_have_count(1)
    for view in ("cars", "inbox", "settings"):
        await page.get_by_role("link", name=re.compile(f"^{view}", re.I)).click()
        if view == "settings":
            await expect(page.get_by_role("checkbox").first).to_be_visible()
        if view == "cars":
            await card(page).get_by_text("Add a charge schedule").click()
        problems = await page.evaluate(A11Y)
        assert problems == [], f"{view}: {problems}"
        await page.screenshot(path=tmp_path / f"{scheme}-{view}.png", full_page=True)
    assert await page.locator("[aria-live]").count() >= 2


async def test_a_window_from_announcement_to_recovery_without_a_reload(
    world: World, owner: Owner, tmp_path: Path
) -> None:
    page, car = owner.page, card(owner.page)
    await page.evaluate("window.__sameDocument = true")
    await expect(car.locator(".age")).to_contain_text("Updated")
    ops = await operator(world)
    async with ops:
        starts = datetime.now(UTC) + timedelta(hours=2)
        window = await schedule_window(
            ops,
            title="Database upgrade",
            reason="security_update",
            description="We move to a patched database.",
            starts_at=starts.isoformat(),
            duration_minutes=30,
        )
        # Ahead of the window: a banner with what, when (the reader's local time), how long.
        banner = page.get_by_role("region", name="Planned maintenance")
        await expect(banner).to_contain_text("Database upgrade")
        await expect(banner).to_contain_text("for about 30 min, for a security update")
        local = starts.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")
        await expect(banner.locator("time")).to_contain_text(local)
        await expect(banner).to_contain_text("Affects all of Pitstop")
        await page.screenshot(path=tmp_path / "1-banner.png", full_page=True)

        # During: a clear notice, the countdown, the last-known state with its age.
        r = await ops.post(f"/api/1/maintenance/{window}/start")
        assert r.status_code == 200, r.text
        notice = page.get_by_role("region", name="Server maintenance")
        await expect(notice).to_be_visible(timeout=10_000)
        await expect(notice).to_contain_text("Database upgrade")
        await expect(notice).to_contain_text("for a security update")
        await expect(notice.get_by_role("timer")).to_have_text(
            re.compile(r"^(29|30) min \d\d s left$")
        )
        await expect(notice.get_by_role("link", name="Status page")).to_have_attribute(
            "href", re.compile(r"/status$")
        )
        await expect(banner).to_be_hidden()
        await expect(car.locator(".age")).to_contain_text(
            re.compile(r"Last known state \((just now|\d+ s old), from \d\d:\d\d\)")
        )
        await expect(car.locator(".soc")).to_have_text(re.compile(r"^\d+ %$"))
        unlock = car.get_by_role("button", name="Unlock")
        await expect(unlock).to_be_disabled()
        await expect(car.locator(".paused-note").first).to_contain_text(
            "Not available during server maintenance until about"
        )
        # It counts down. Under a loaded CI machine a tick can come late, so wait for it.
        timer = notice.get_by_role("timer")
        first = await timer.text_content()
        assert first
        await expect(timer).not_to_have_text(first, timeout=5_000)
        await page.screenshot(path=tmp_path / "2-during.png", full_page=True)

        # The app shell still opens while /app itself answers 503 (the service worker's copy).
        await page.evaluate("navigator.serviceWorker.ready")
        assert (await world.client().get("/app")).status_code == 503
        await page.reload()
        await expect(notice).to_be_visible()
        await expect(car.locator(".soc")).to_have_text(re.compile(r"^\d+ %$"))
        await expect(car.locator(".age")).to_contain_text("Last known state")
        await page.evaluate("window.__sameDocument = true")
        await page.screenshot(path=tmp_path / "3-during-reloaded.png", full_page=True)

        # After: the app sees the end by itself and comes back without a reload.
        r = await ops.post(f"/api/1/maintenance/{window}/finish")
        assert r.status_code == 200, r.text
        await expect(notice).to_be_hidden(timeout=10_000)
        await expect(unlock).to_be_enabled()
        await expect(car.locator(".age")).to_contain_text("Updated")
        assert await page.evaluate("window.__sameDocument") is True
        await unlock.click()
        await expect(car.get_by_role("status")).to_have_text("Unlocked.")
        await page.screenshot(path=tmp_path / "4-after.png", full_page=True)


async def test_a_scoped_window_keeps_the_rest_usable(
    world: World, owner: Owner, tmp_path: Path
) -> None:
    page, car = owner.page, card(owner.page)
    async with await operator(world) as ops:
        await schedule_window(
            ops,
            title="Charging backend",
            reason="hardware_upgrade",
            components=["charging"],
            starts_at=datetime.now(UTC).isoformat(),
            duration_minutes=20,
        )
        r = await ops.get("/api/1/maintenance")
        window = r.json()["response"][0]["id"]
        await ops.post(f"/api/1/maintenance/{window}/start")
        notice = page.get_by_role("region", name="Server maintenance")
        await expect(notice).to_contain_text("Paused: charging commands and schedules.")
        await expect(notice).to_contain_text("Still working: reading your cars' data")
        await expect(car.get_by_role("button", name="Start charging")).to_be_disabled()
        await expect(
            car.get_by_role("group", name="Charging").locator(".paused-note")
        ).to_have_text(re.compile("Not available during server maintenance"))
        await car.get_by_role("button", name="Unlock").click()
        await expect(car.get_by_role("status")).to_have_text("Unlocked.")
        await expect(car.locator(".age")).to_contain_text("Updated")
        await page.screenshot(path=tmp_path / "scoped.png", full_page=True)


async def test_the_inbox_updates_live_and_preferences_are_saved(
    world: World, owner: Owner, tmp_path: Path
) -> None:
    page = owner.page
    await page.get_by_role("link", name=re.compile("^Inbox")).click()
    await expect(page.locator("#live-state")).to_contain_text("Live", timeout=10_000)
    await world.rt.notify.notifier.notify(
        key="charged-1",
        topic="alert.charging_complete",
        user_ids=[owner.account.user.id],
        subject="Blue Model 3 has finished charging",
        text="It is at 80 %, its charge limit.",
        channels=["feed"],
    )
    item = page.locator("#feed li", has_text="Blue Model 3 has finished charging")
    await expect(item).to_be_visible(timeout=10_000)  # over SSE, without a reload
    await expect(page.locator("#unread")).to_be_visible()
    await page.screenshot(path=tmp_path / "inbox.png", full_page=True)
    await item.get_by_role("button", name=re.compile("^Mark read")).click()
    await expect(item.get_by_role("button")).to_have_count(0)

    await page.get_by_role("link", name="Settings").click()
    email = page.get_by_role("checkbox", name="Email: charging has finished")
    await expect(email).to_be_checked()
    await email.uncheck()
    await page.get_by_label("Time zone for mails").fill("Europe/Berlin")
    await page.get_by_role("button", name="Save notification settings").click()
    await expect(page.locator("#prefs-result")).to_have_text("Saved.")
    prefs = await world.rt.notify.preferences.get(owner.account.user.id)
    assert prefs.channels["alert.charging_complete"] == ["feed", "push"]
    assert prefs.timezone == "Europe/Berlin"
    await page.screenshot(path=tmp_path / "settings.png", full_page=True)


async def test_a_read_only_window_keeps_reading_and_pauses_changes(
    world: World, owner: Owner, tmp_path: Path
) -> None:
    page, car = owner.page, card(owner.page)
    async with await operator(world) as ops:
        window = await schedule_window(
            ops,
            title="Storage move",
            reason="performance",
            mode="read_only",
            starts_at=datetime.now(UTC).isoformat(),
            duration_minutes=15,
        )
        await ops.post(f"/api/1/maintenance/{window}/start")
        notice = page.get_by_role("region", name="Server maintenance")
        await expect(notice).to_contain_text("Read-only: you can still see")
        lock = car.get_by_role("button", name="Lock", exact=True)
        await expect(lock).to_be_disabled()
        await expect(car.locator(".paused-note").first).to_contain_text(
            "changes wait, reading works"
        )
        await expect(car.locator(".soc")).to_have_text(re.compile(r"^\d+ %$"))
        await expect(car.locator(".age")).not_to_contain_text("Last known state")
        await page.screenshot(path=tmp_path / "read-only.png", full_page=True)
        await ops.post(f"/api/1/maintenance/{window}/finish")
        await expect(lock).to_be_enabled(timeout=10_000)
