"""The console's doors, over plain HTTP on a real server (SQLite and PostgreSQL): who gets in,
forms from elsewhere refused, signing out ends the session, the console answers during a
whole-service window while the rest is 503, and a mail's HTML part is served sandboxed."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx

from pitstop.admin import session
from pitstop.notify.mailbox import Mailbox, mail_dir
from tests.world import World

PASSWORD = "correct horse battery"


@contextlib.asynccontextmanager
async def signed_in(world: World, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=world.url, headers={"Origin": world.url}, timeout=15
    ) as browser:
        r = await browser.post("/admin/signin", data={"email": email, "password": PASSWORD})
        assert r.status_code == 303, r.text
        yield browser


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


async def test_only_operators_get_in(world: World) -> None:
    await world.account("ada@example.com")
    await world.account("ops@example.com", role="operator")
    async with httpx.AsyncClient(base_url=world.url, headers={"Origin": world.url}) as browser:
        r = await browser.get("/admin/notifications")
        assert r.status_code == 303
        assert r.headers["location"] == "/admin/signin?next=/admin/notifications"
        r = await browser.post(
            "/admin/signin", data={"email": "ada@example.com", "password": PASSWORD}
        )
        assert r.status_code == 401 and "Only operators can use the console" in r.text
        assert session.COOKIE not in browser.cookies
        r = await browser.post(
            "/admin/signin", data={"email": "ops@example.com", "password": "wrong"}
        )
        assert r.status_code == 401 and "The email or password is wrong." in r.text
        r = await browser.post(
            "/admin/signin",
            data={"email": "ops@example.com", "password": PASSWORD, "next": "//evil.example/"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin"  # never elsewhere
        page = await browser.get("/admin")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    tokens = await world.rt.tokens.list()
    assert "console" in [t.label for t in tokens if t.email == "ops@example.com"]


async def test_forms_from_elsewhere_are_refused_and_signing_out_ends_the_session(
    world: World,
) -> None:
    await world.account("ops@example.com", role="operator")
    async with signed_in(world, "ops@example.com") as browser:
        token = csrf((await browser.get("/admin")).text)
        form = {
            "title": "Sneaky",
            "reason": "other",
            "starts_local": "2030-01-01T02:00",
            "timezone": "UTC",
            "duration_minutes": "30",
        }
        # Another site posting with the operator's cookies: no Origin of ours, no form token.
        r = await browser.post(
            "/admin/windows",
            data=form | {"csrf": token},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        r = await browser.post("/admin/windows", data=form | {"csrf": "0" * 40})
        assert r.status_code == 403
        assert await world.rt.windows.find() == []

        r = await browser.post("/admin/windows", data=form | {"csrf": token})
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/windows/")
        (window,) = await world.rt.windows.find()
        assert window.title == "Sneaky" and window.starts_at == datetime(2030, 1, 1, 2, tzinfo=UTC)

        # A mistake is said in words, next to the form, which keeps what was typed.
        r = await browser.post(
            "/admin/windows", data=form | {"csrf": token, "duration_minutes": "-5"}
        )
        assert r.status_code == 422
        assert "Not scheduled: The duration must be positive." in r.text
        assert 'value="Sneaky"' in r.text

        raw = browser.cookies[session.COOKIE]
        r = await browser.post("/admin/signout")
        assert r.status_code == 303
    # The session's token is revoked, not just forgotten by this browser.
    async with httpx.AsyncClient(base_url=world.url, headers={"Origin": world.url}) as again:
        again.cookies.set(session.COOKIE, raw, path="/admin")
        r = await again.get("/admin")
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/signin")


async def test_the_console_answers_during_a_whole_service_window(world: World) -> None:
    ops = await world.account("ops@example.com", role="operator")
    owner = await world.account("ada@example.com")
    async with world.client(ops.token) as api:
        r = await api.post(
            "/api/1/maintenance",
            json={
                "title": "Everything",
                "reason": "hardware_upgrade",
                "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "duration_minutes": 30,
            },
        )
        window_id = r.json()["response"]["id"]
        assert (await api.post(f"/api/1/maintenance/{window_id}/start")).status_code == 200
    async with world.client(owner.token) as me:
        assert (await me.get("/api/1/vehicles")).status_code == 503
    async with httpx.AsyncClient(base_url=world.url) as anonymous:
        assert (await anonymous.get("/app")).status_code == 503
        assert (await anonymous.get("/admin/signin")).status_code == 200
    async with signed_in(world, "ops@example.com") as browser:
        page = await browser.get(f"/admin/windows/{window_id}")
        assert page.status_code == 200 and "Finish: back online" in page.text
        assert (await browser.get("/app")).status_code == 200  # the bypass cookie
        r = await browser.post(
            f"/admin/windows/{window_id}/finish", data={"csrf": csrf(page.text), "message": ""}
        )
        assert r.status_code == 303
        # The window's page says what owners were told, step by step, and how it went.
        async with asyncio.timeout(20):
            while True:
                page = await browser.get(f"/admin/windows/{window_id}")
                told = page.text.split("What owners were told", 1)[1].split("</table>", 1)[0]
                rows = re.findall(r"<tr><td>(\w+)</td><td>.*?</td><td>(\d+)</td>", told)
                if [what for what, _ in rows] == ["scheduled", "started", "finished"] and all(
                    int(delivered) >= 1 for _, delivered in rows
                ):
                    break
                await asyncio.sleep(0.2)
    async with world.client(owner.token) as me:
        assert (await me.get("/api/1/vehicles")).status_code == 200


async def test_a_mails_html_is_served_sandboxed_and_the_inbox_only_exists_in_the_demo(
    world: World,
) -> None:
    await world.account("ops@example.com", role="operator")
    async with signed_in(world, "ops@example.com") as browser:
        r = await browser.get("/admin/mail")
        assert r.status_code == 200 and "This server has no demo inbox" in r.text
        assert "Demo inbox</a>" not in r.text  # not in the navigation either
        box = Mailbox(mail_dir(world.rt.settings.data_dir))
        mail_id = box.add(
            b"From: x@example.com\r\nTo: ops@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            b"<p>hi</p><script>alert(1)</script>"
        )
        listed = await browser.get("/admin/mail")
        assert "Grüße" in listed.text and "Demo inbox</a>" in listed.text
        shown = await browser.get(f"/admin/mail/{mail_id}")
        assert '<iframe class="mail" sandbox src=' in shown.text
        assert "<script>alert(1)</script>" not in shown.text  # only ever inside the frame
        html = await browser.get(f"/admin/mail/{mail_id}/html")
        policy = html.headers["content-security-policy"]
        assert policy.startswith("sandbox;") and "default-src 'none'" in policy
        assert html.headers["x-content-type-options"] == "nosniff"
        assert (await browser.get("/admin/mail/999999")).status_code == 404
    async with httpx.AsyncClient(base_url=world.url) as anonymous:
        r = await anonymous.get(f"/admin/mail/{mail_id}/html")
        assert r.status_code == 303  # signed-out: to the sign-in page, never the mail
