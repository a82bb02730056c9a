"""The demo story as a newcomer watches it: the owner app in a real browser shows the banner,
then the maintenance notice with the car's last-known state, then recovers by itself, while
the story's mails arrive in the demo inbox and the API answers 503 during and 200 after. The
story runs ten times faster than in `pitstop demo --story`, on real time."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from pitstop.notify.mailbox import Mailbox, MailSink, mail_dir
from pitstop.settings import Settings, load_settings
from pitstop.story import Pacing, Story
from tests.e2e.test_app import TUNING, card, sign_in
from tests.world import World

PACING = Pacing().scaled(10)  # 15 s ahead, reminded 9 s before, 8 s in progress


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    found = MailSink(Mailbox(mail_dir(tmp_path / "data")))
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pitstop.db'}"


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
        maintenance_reminders=f"24,{PACING.reminder_hours:.6g}",
        announce_interval=1.0,
        notify_poll_interval=0.2,
    )


async def until(said: list[str], start: str) -> None:
    async with asyncio.timeout(60):
        while not any(line.startswith(start) for line in said):
            await asyncio.sleep(0.1)


async def test_the_story_in_the_owner_app_and_the_demo_inbox(
    world: World, page: Page, sink: MailSink, tmp_path: Path
) -> None:
    owner = await world.account("owner@pitstop.example")
    operator = await world.account("operator@pitstop.example", role="operator")
    await world.car(owner, name="Blue Model 3")
    await page.add_init_script(f"localStorage.setItem('pitstop.app.tuning', '{TUNING}')")
    await sign_in(page, world.url, owner.user.email, owner.password)
    car = card(page)
    await expect(car.locator(".soc")).to_have_text(re.compile(r"^\d+ %$"))
    await page.evaluate("window.__sameDocument = true")

    said: list[str] = []
    story = Story(
        world.rt,
        sink,
        url=world.url,
        owner_token=owner.token,
        operator=operator.user.email,
        say=lambda text: said.append(re.sub(r"\[/?bold\]", "", text).strip()),
        pacing=PACING,
    )
    told = asyncio.create_task(story.run())
    try:
        await until(said, "1. Announced.")
        banner = page.get_by_role("region", name="Planned maintenance")
        await expect(banner).to_contain_text("Database upgrade (demo story)", timeout=10_000)
        await page.screenshot(path=tmp_path / "1-announced.png", full_page=True)

        await until(said, "3. Started")
        notice = page.get_by_role("region", name="Server maintenance")
        await expect(notice).to_be_visible(timeout=10_000)
        await expect(notice).to_contain_text("for performance improvements")
        await expect(car.locator(".age")).to_contain_text("Last known state")
        await page.screenshot(path=tmp_path / "2-started.png", full_page=True)

        await until(said, "5. Finished")
        await expect(notice).to_be_hidden(timeout=10_000)
        await expect(car.locator(".age")).to_contain_text("Updated")
        assert await page.evaluate("window.__sameDocument") is True  # no reload
        await page.screenshot(path=tmp_path / "3-finished.png", full_page=True)
        await asyncio.wait_for(told, 30)
    finally:
        told.cancel()

    assert [(s.name, s.api_status) for s in story.steps] == [
        ("announced", 200),
        ("reminded", 200),
        ("started", 503),
        ("extended", 503),
        ("finished", 200),
    ]
    owner_mail = [m.subject for m in reversed(sink.mailbox.latest()) if owner.user.email in m.to]
    assert [s.split(":")[0] for s in owner_mail] == [
        "Planned maintenance",
        "Reminder",
        "Maintenance has started",
        "Maintenance extended",
        "Pitstop is back online",
    ]
    assert not any("no " in line and "mail has arrived" in line for line in said), said
