"""An operator runs Pitstop from the console at /admin, in a real browser: signs in, schedules
and starts a window and sees it on /status, extends and finishes it; the console answers during
a whole-service window; a dead letter is seen and replayed; the day's appointments; a mail of
the demo inbox, its HTML sandboxed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from pitstop.notify.mailbox import Mailbox, MailSink, mail_dir
from pitstop.settings import Settings, load_settings
from tests.world import Account, World

PASSWORD = "correct horse battery"


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    """The demo's SMTP sink, keeping mail where the console's inbox reads it."""
    found = MailSink(Mailbox(mail_dir(tmp_path / "data")))
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, sink: MailSink) -> Settings:
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        telemetry_flush_interval=0.02,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_timeout=3.0,
        notify_max_attempts=1,  # one failure parks a delivery as dead
        notify_poll_interval=0.2,
        announce_interval=1.0,
    )


@pytest.fixture
def database_url(tmp_path: Path) -> str:  # the browser tests run on SQLite
    return f"sqlite:///{tmp_path / 'pitstop.db'}"


@pytest.fixture
async def operator(world: World) -> Account:
    return await world.account("ops@example.com", role="operator")


@pytest.fixture
async def owner(world: World) -> Account:
    return await world.account("ada@example.com")


async def sign_in(page: Page, world: World, email: str, path: str = "/admin") -> None:
    await page.goto(f"{world.url}{path}")
    await expect(page).to_have_url(f"{world.url}/admin/signin?next={path}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_an_operator_schedules_starts_extends_and_finishes_a_window_seen_on_status(
    world: World, page: Page, operator: Account, owner: Account, tmp_path: Path
) -> None:
    # An owner is not let in.
    await sign_in(page, world, "ada@example.com")
    await expect(page.get_by_role("alert")).to_have_text(
        "Only operators can use the console. Owners use the app at /app."
    )
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Email").fill("ops@example.com")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{world.url}/admin")
    await expect(page.get_by_role("heading", name="Maintenance", exact=True)).to_be_visible()
    await expect(page.get_by_text("No window is in progress")).to_be_visible()
    await page.screenshot(path=tmp_path / "1-console.png", full_page=True)

    # Schedule: the form starts in the browser's zone (Europe/Berlin), which we keep.
    await expect(page.get_by_label("Time zone of the start")).to_have_value("Europe/Berlin")
    start = (datetime.now(UTC) + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Berlin"))
    await page.get_by_label("Title").fill("Charging backend upgrade")
    await page.get_by_label("Reason (owners read it in plain words)").select_option(
        "hardware_upgrade"
    )
    await page.get_by_label("charging commands and schedules").check()
    await page.get_by_label("Starts", exact=True).fill(start.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Duration (minutes)").fill("40")
    await page.get_by_role("button", name="Schedule window").click()
    await expect(page.get_by_role("status")).to_have_text("Window scheduled.")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Charging backend upgrade")
    window_id = int(page.url.split("?")[0].rsplit("/", 1)[1])
    stored = await world.rt.windows.get(window_id)
    assert stored.components == ("charging",) and stored.created_by == "ops@example.com"
    assert stored.starts_at == start.replace(second=0, microsecond=0)

    # Start it now: the status page shows it, charging refuses owners with 503.
    await page.get_by_role("button", name="Start now").click()
    await expect(page.get_by_role("status")).to_have_text("Window started.")
    await expect(page.locator(".pill").first).to_have_text("in progress")
    await page.get_by_label("Post an update").fill("Controller swapped, testing now.")
    await page.get_by_role("button", name="Post update").click()
    await expect(page.get_by_role("status")).to_have_text("Window updated.")
    await expect(page.locator(".timeline")).to_contain_text("Controller swapped, testing now.")
    audit = page.get_by_role("table").filter(has_text="Who")
    await expect(audit).to_contain_text("ops@example.com")
    await page.screenshot(path=tmp_path / "2-window.png", full_page=True)

    status = await page.context.new_page()
    await status.goto(f"{world.url}/status")
    await expect(status.locator("#overall")).to_have_text("Maintenance in progress")
    await expect(status.locator('li[data-component="charging"]')).to_contain_text(
        "Under maintenance"
    )
    await expect(status.locator("section.current")).to_contain_text(
        "Controller swapped, testing now."
    )
    async with world.client(owner.token) as me:
        vehicle = await world.car(owner, connect=False)
        r = await me.post(f"/api/1/vehicles/{vehicle.vin}/command/charge_start")
        assert r.status_code == 503 and r.json()["error"] == "server_maintenance"

    # Extend, then finish: back online.
    before = (await world.rt.windows.get(window_id)).expected_end
    await page.get_by_label("Extend by (minutes)").fill("20")
    await page.get_by_label("Why (owners are told)").fill("The firmware flash is slow.")
    await page.get_by_role("button", name="Extend").click()
    await expect(page.get_by_role("status")).to_have_text("Window extended.")
    assert (await world.rt.windows.get(window_id)).expected_end == before + timedelta(minutes=20)
    await page.get_by_label("Closing note (optional)").fill("All chargers answer again.")
    await page.get_by_role("button", name="Finish: back online").click()
    await expect(page.get_by_role("status")).to_have_text("Window finished.")
    await expect(page.locator(".pill").first).to_have_text("completed")
    await status.reload()
    await expect(status.locator("#overall")).to_have_text("All systems operational")
    await page.screenshot(path=tmp_path / "3-finished.png", full_page=True)


async def test_the_console_answers_during_a_whole_service_window(
    world: World, browser: Browser, operator: Account, tmp_path: Path
) -> None:
    async with world.client(operator.token) as ops:
        r = await ops.post(
            "/api/1/maintenance",
            json={
                "title": "Everything moves",
                "reason": "hardware_upgrade",
                "starts_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
                "duration_minutes": 30,
            },
        )
        window_id = r.json()["response"]["id"]
        assert (await ops.post(f"/api/1/maintenance/{window_id}/start")).status_code == 200
    context = await browser.new_context()
    page = await context.new_page()
    try:
        app = await page.goto(f"{world.url}/app")
        assert app is not None and app.status == 503  # the owner app is down
        await sign_in(page, world, "ops@example.com", f"/admin/windows/{window_id}")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Everything moves")
        # Signed in, the operator's browser passes the gate elsewhere too.
        app = await page.goto(f"{world.url}/app")
        assert app is not None and app.status == 200
        await page.go_back()
        await page.get_by_role("button", name="Finish: back online").click()
        await expect(page.get_by_role("status")).to_have_text("Window finished.")
        await page.screenshot(path=tmp_path / "console-during.png", full_page=True)
    finally:
        await context.close()
    async with httpx.AsyncClient(base_url=world.url) as anonymous:
        assert (await anonymous.get("/app")).status_code == 200


async def test_a_dead_letter_is_seen_and_replayed_once_the_mail_server_is_back(
    world: World, page: Page, operator: Account, owner: Account, sink: MailSink, tmp_path: Path
) -> None:
    port = sink.port
    await sink.stop()  # the mail server is down
    await world.rt.notify.notifier.notify(
        key="test:dead-letter",
        topic="maintenance.vehicle_data",
        user_ids=[owner.user.id],
        subject="Reading your cars pauses on Saturday",
        text="For thirty minutes.",
    )
    async with asyncio.timeout(20):
        while not await world.rt.notify.outbox.deliveries(status="dead"):
            await asyncio.sleep(0.1)

    await sign_in(page, world, "ops@example.com", "/admin/notifications")
    await expect(page.get_by_role("heading", name="Dead letters (1)")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="test:dead-letter")
    await expect(row).to_contain_text("ada@example.com")
    await expect(row).to_contain_text("email")
    await page.screenshot(path=tmp_path / "1-dead.png", full_page=True)

    sink.port = port
    await sink.start()  # back
    await row.get_by_role("button", name="Replay delivery").click()
    await expect(page.get_by_role("status")).to_have_text("1 delivery put back in line.")
    await sink.wait_for(1, within=20)
    await page.reload()
    await expect(page.get_by_role("heading", name="Dead letters (0)")).to_be_visible()
    await page.get_by_role("link", name="Demo inbox").click()
    await expect(
        page.get_by_role("link", name="Reading your cars pauses on Saturday")
    ).to_be_visible()
    await page.screenshot(path=tmp_path / "2-replayed.png", full_page=True)


async def test_the_days_appointments_per_center(
    world: World, page: Page, operator: Account, owner: Account, tmp_path: Path
) -> None:
    every_day = {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    ids = {}
    async with world.client(operator.token) as ops:
        for name in ("Berlin Mitte", "Hamburg Hafen"):
            r = await ops.post(
                "/api/1/service/centers",
                json={
                    "name": name,
                    "address": "Somewhere 1",
                    "timezone": "Europe/Berlin",
                    "hours": every_day,
                    "slot_minutes": 60,
                    "capacity": 2,
                },
            )
            assert r.status_code == 200, r.text
            ids[name] = r.json()["response"]["id"]
    car = await world.car(owner, name="Blue Model 3", connect=False)
    tomorrow = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=1)
    slot = datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 10, tzinfo=ZoneInfo("Europe/Berlin")
    )
    async with world.client(owner.token) as me:
        r = await me.post(
            "/api/1/service/appointments",
            json={
                "vin": car.vin,
                "center_id": ids["Berlin Mitte"],
                "starts_at": slot.isoformat(),
                "description": "Brakes squeal",
            },
        )
        assert r.status_code == 200, r.text

    await sign_in(page, world, "ops@example.com", "/admin/service")
    await expect(page.get_by_role("heading", name="Berlin Mitte")).to_be_visible()
    await expect(
        page.get_by_text(f"No appointments on {tomorrow - timedelta(days=1)}")
    ).to_have_count(2)
    await page.get_by_role("link", name="Next day").click()
    berlin_table = page.get_by_role("table", name="Appointments at Berlin Mitte")
    await expect(berlin_table).to_contain_text("10:00–11:00")
    await expect(berlin_table).to_contain_text("Blue Model 3")
    await expect(berlin_table).to_contain_text("ada@example.com")
    await expect(berlin_table).to_contain_text("Brakes squeal")
    await expect(page.get_by_text(f"No appointments on {tomorrow}")).to_be_visible()  # Hamburg
    await page.screenshot(path=tmp_path / "service.png", full_page=True)


async def test_a_demo_mail_is_read_in_the_console_with_its_html_sandboxed(
    world: World, page: Page, operator: Account, owner: Account, sink: MailSink, tmp_path: Path
) -> None:
    async with world.client(operator.token) as ops:
        r = await ops.post(
            "/api/1/maintenance",
            json={
                "title": "Database upgrade",
                "reason": "performance",
                "components": ["vehicle_data"],
                "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
                "duration_minutes": 30,
            },
        )
        assert r.status_code == 200, r.text
    await sink.wait_for(2, within=20)  # to the owner and to the operator
    # A hostile mail, as a sink might receive: its script must not run in the console.
    sink.mailbox.add(
        b"From: x@example.com\r\nTo: ops@example.com\r\nSubject: Hostile\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<p id="p">static</p><script>document.getElementById("p").textContent="ran"</script>'
    )

    await sign_in(page, world, "ops@example.com", "/admin/mail")
    await expect(page.get_by_text("3 in all")).to_be_visible()
    await page.get_by_role("row").filter(has_text="ada@example.com").get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Planned maintenance: Database upgrade"
    )
    text = page.locator("pre.mailtext")
    await expect(text).to_contain_text("What will not work: reading your cars' data.")
    frame_element = page.locator("iframe.mail")
    assert await frame_element.get_attribute("sandbox") == ""
    frame = page.frame_locator("iframe.mail")
    await expect(frame.get_by_text("Database upgrade").first).to_be_visible(timeout=15_000)
    await page.screenshot(path=tmp_path / "mail.png", full_page=True)
    await frame_element.screenshot(path=tmp_path / "mail-html.png")

    await page.goto(f"{world.url}/admin/mail")
    await page.get_by_role("link", name="Hostile").click()
    await expect(page.frame_locator("iframe.mail").locator("#p")).to_have_text(
        "static", timeout=15_000
    )
    response = await page.request.get(page.url + "/html")
    assert "sandbox" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_console_by_keyboard_with_labels_names_and_contrast(
    world: World, page: Page, operator: Account, scheme: str, tmp_path: Path
) -> None:
    from tests.e2e.test_app import A11Y

    await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    async with world.client(operator.token) as ops:
        r = await ops.post(
            "/api/1/maintenance",
            json={
                "title": "Token store upgrade",
                "reason": "security_update",
                "components": ["accounts"],
                "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "duration_minutes": 15,
            },
        )
        window_id = r.json()["response"]["id"]

    # Sign in with the keyboard only: the skip link first, then the form.
    await page.goto(f"{world.url}/admin/signin")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    problems = await page.evaluate(A11Y)
    assert problems == [], f"signin: {problems}"
    await page.get_by_label("Email").focus()
    await page.keyboard.type("ops@example.com")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{world.url}/admin")

    # Start the window with the keyboard, the focus visible on the way.
    await page.get_by_role("link", name=f"#{window_id} Token store upgrade").focus()
    await page.keyboard.press("Enter")
    start = page.get_by_role("button", name="Start now")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await start.evaluate("b => b === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached Start now")
    assert await start.evaluate("b => getComputedStyle(b).outlineStyle") != "none"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Window started.")

    for path in (
        "/admin",
        f"/admin/windows/{window_id}",
        "/admin/notifications",
        "/admin/service",
        "/admin/mail",
    ):
        await page.goto(f"{world.url}{path}")
        problems = await page.evaluate(A11Y)
        assert problems == [], f"{path}: {problems}"
        await page.screenshot(
            path=tmp_path / f"{scheme}{path.replace('/', '-')}.png", full_page=True
        )
