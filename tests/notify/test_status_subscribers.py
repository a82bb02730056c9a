"""Following the status page by email (no account): double opt-in, announcements, incidents,
and the unsubscribe link in every mail, through a real SMTP server."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from email.message import EmailMessage

import httpx

from pitstop.clock import ManualClock
from pitstop.status.incidents import Incident
from tests.notify.support import SmtpSink
from tests.world import World

URL = "https://pitstop.test"


def to(smtp: SmtpSink, address: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if address in str(m["To"])]


def text(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def arrived(world: World, smtp: SmtpSink, address: str, count: int) -> list[EmailMessage]:
    clock = world.clock
    assert isinstance(clock, ManualClock)
    for _ in range(600):  # at most ~30 s of real time, 10 min of the clock
        if len(to(smtp, address)) >= count:
            return to(smtp, address)
        await clock.advance(1)
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"expected {count} mails to {address}: {[m['Subject'] for m in to(smtp, address)]}"
    )


def path(url: str) -> str:
    return url.removeprefix(URL)


async def subscribe(
    world: World, smtp: SmtpSink, email: str, components: list[str] | None = None
) -> None:
    async with world.client() as anyone:
        form = {"email": email, "components": components or []}
        r = await anyone.post("/status/subscribe", data=form)
        assert r.status_code == 202 and "Check your inbox" in r.text
        (mail,) = await arrived(world, smtp, email, 1)
        assert mail["Subject"] == "Confirm your subscription to the Pitstop status page"
        link = re.search(r"open: (\S+)", text(mail))
        assert link is not None
        page = await anyone.get(path(link[1]))
        assert page.status_code == 200 and "Yes, subscribe" in page.text
        assert (
            await world.rt.status_subscribers.confirmed_at(email) is None
        )  # a GET confirms nothing
        done = await anyone.post(path(link[1]))
        assert done.status_code == 200 and "status updates. Every mail has a link" in done.text
        assert (await anyone.post(path(link[1]))).status_code == 404  # used once


async def test_nothing_is_sent_before_the_address_is_confirmed(
    world: World, clock: ManualClock, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    async with world.client() as anyone:
        r = await anyone.post("/status/subscribe", data={"email": "zoe@example.com"})
        assert r.status_code == 202
        bad = await anyone.post("/status/subscribe", data={"email": "not an address"})
        assert bad.status_code == 422 and "is not an email address" in bad.text
        unknown = await anyone.post(
            "/status/subscribe", json={"email": "x@example.com", "components": ["teleport"]}
        )
        assert unknown.status_code == 422 and unknown.json()["messages"]["components"]
    await arrived(world, smtp, "zoe@example.com", 1)
    await ops.post("/api/1/maintenance", json={
        "title": "Database upgrade", "reason": "security_update",
        "starts_at": (clock.now() + timedelta(hours=5)).isoformat(), "duration_minutes": 30,
    })  # fmt: skip
    await arrived(world, smtp, "ops@example.com", 1)  # the announcement went out to users
    assert len(to(smtp, "zoe@example.com")) == 1  # the confirmation only


async def test_a_confirmed_subscriber_hears_of_windows_they_follow_and_can_leave_in_one_click(
    world: World, clock: ManualClock, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    await subscribe(world, smtp, "zoe@example.com", ["charging"])
    await ops.post("/api/1/maintenance", json={
        "title": "Web app release", "reason": "new_features", "components": ["web"],
        "starts_at": (clock.now() + timedelta(hours=5)).isoformat(), "duration_minutes": 30,
    })  # fmt: skip
    await ops.post("/api/1/maintenance", json={
        "title": "Charger firmware", "reason": "bug_fixes", "components": ["charging"],
        "starts_at": (clock.now() + timedelta(hours=6)).isoformat(), "duration_minutes": 30,
    })  # fmt: skip
    mails = await arrived(world, smtp, "zoe@example.com", 2)
    await clock.advance(60)
    assert [str(m["Subject"]) for m in to(smtp, "zoe@example.com")][1:] == [
        f"Planned maintenance: Charger firmware, {mails[1]['Subject'].split(', ', 1)[1]}"
    ]
    unsubscribe = str(mails[1]["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.startswith(f"{URL}/status/unsubscribe/") and unsubscribe in text(mails[1])
    async with world.client() as mail_client:
        r = await mail_client.post(path(unsubscribe), data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200 and "no more mail" in r.text
    await ops.post("/api/1/maintenance", json={
        "title": "More chargers", "reason": "hardware_upgrade", "components": ["charging"],
        "starts_at": (clock.now() + timedelta(hours=9)).isoformat(), "duration_minutes": 30,
    })  # fmt: skip
    await arrived(world, smtp, "ops@example.com", 3)
    assert len(to(smtp, "zoe@example.com")) == 2


async def test_subscribers_and_users_hear_of_an_outage_and_its_end(
    world: World, clock: ManualClock, ops: httpx.AsyncClient, smtp: SmtpSink
) -> None:
    await subscribe(world, smtp, "zoe@example.com")
    # What the health monitor writes once the database answers again.
    began = clock.now() - timedelta(minutes=20)
    await world.rt.incidents.record(Incident(
        cause="database", title="Pitstop's database is not answering",
        components=("vehicle_data", "accounts"), impact="outage",
        started_at=began, resolved_at=began + timedelta(minutes=12),
    ))  # fmt: skip
    world.app.state.announcer.poke()
    mails = await arrived(world, smtp, "zoe@example.com", 2)
    assert mails[1]["Subject"] == "Resolved: Pitstop's database is not answering"
    assert "Everything works again." in text(mails[1])
    users = await arrived(world, smtp, "ops@example.com", 1)
    assert users[-1]["Subject"] == "Resolved: Pitstop's database is not answering"
