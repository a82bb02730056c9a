"""A person looks at /status before, during and after a window, in a real browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.world import World


async def _schedule(ops: httpx.AsyncClient, **body: object) -> int:
    r = await ops.post("/api/1/maintenance", json=body)
    assert r.status_code == 200, r.text
    window_id: int = r.json()["response"]["id"]
    return window_id


async def test_status_before_during_and_after_a_window(
    world: World, page: Page, tmp_path: Path
) -> None:
    operator = await world.account("ops@example.com", role="operator")
    async with world.client(operator.token) as ops:
        window = await _schedule(
            ops,
            title="Charging backend upgrade",
            reason="hardware_upgrade",
            description="We replace the chargers' controller.",
            components=["charging", "vehicle_commands"],
            starts_at=(datetime.now(UTC) + timedelta(hours=3)).isoformat(),
            duration_minutes=40,
        )

        await page.goto(f"{world.url}/status")
        await expect(page.locator("#overall")).to_have_text("All systems operational")
        upcoming = page.locator("section.upcoming")
        await expect(upcoming).to_contain_text("Charging backend upgrade")
        await expect(upcoming).to_contain_text("Affected: Charging, Vehicle commands")
        await page.screenshot(path=tmp_path / "1-before.png", full_page=True)

        await ops.post(f"/api/1/maintenance/{window}/start")
        await ops.post(
            f"/api/1/maintenance/{window}/updates", json={"message": "Controller swapped."}
        )
        await page.reload()
        await expect(page.locator("#overall")).to_have_text("Maintenance in progress")
        current = page.locator("section.current")
        await expect(current).to_contain_text("Maintenance in progress: Charging backend upgrade")
        await expect(current.locator(".countdown")).to_have_text(
            re.compile(r"^(39|40) min \d+ s left$")
        )
        await expect(current).to_contain_text("Controller swapped.")
        charging = page.locator('li[data-component="charging"]')
        await expect(charging).to_contain_text("Under maintenance")
        await expect(page.locator('li[data-component="vehicle_data"]')).to_contain_text(
            "Operational"
        )
        await page.screenshot(path=tmp_path / "2-during.png", full_page=True)

        await ops.post(f"/api/1/maintenance/{window}/finish")
        await page.reload()
        await expect(page.locator("#overall")).to_have_text("All systems operational")
        await expect(page.locator("section.current")).to_have_count(0)
        history = page.locator('.history[data-component="charging"]')
        await expect(history.locator(".bars span")).to_have_count(90)
        await expect(history.locator(".bars span").last).to_have_class("day-maintenance")
        await expect(
            page.locator('.history[data-component="vehicle_data"] .bars span').last
        ).to_have_class("day-operational")
        await expect(page.get_by_text("Past maintenance")).to_be_visible()
        await page.screenshot(path=tmp_path / "3-after.png", full_page=True)
    assert (tmp_path / "3-after.png").stat().st_size > 0


async def test_times_are_shown_in_the_readers_zone(world: World, page: Page) -> None:
    operator = await world.account("ops@example.com", role="operator")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=1, minute=0, second=0, microsecond=0
    )
    async with world.client(operator.token) as ops:
        await _schedule(
            ops,
            title="Night work",
            reason="other",
            starts_at=start.isoformat(),
            duration_minutes=30,
        )
    await page.goto(f"{world.url}/status")
    # The browser's zone here is Berlin: 01:00 UTC reads 02:00 in winter, 03:00 in summer.
    berlin = start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")
    await expect(page.locator("section.upcoming time").first).to_contain_text(berlin)
