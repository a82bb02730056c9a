"""An owner turns on push notifications in the app, in a real browser, on a real server: the
app subscribes with the server's VAPID key, Pitstop encrypts each message for the browser's
keys and sends it to the browser's push service, and the service worker shows it.

The one part that cannot run here is the browser vendor's push service (Chromium registers
with Google's, which this machine cannot reach). So the page's `pushManager.subscribe` hands
out a subscription whose endpoint is a real push service of the test's own (PushService: it
checks the VAPID signature) and whose keys the test holds (Browser: it decrypts). What that
service receives is then delivered to the service worker as a real `push` event, and the test
reads the notifications the worker showed. On SQLite: tests/notify covers both databases."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, Worker, expect

from tests.e2e.test_app import A11Y, TUNING, sign_in
from tests.notify.push_service import Browser, PushService, check_vapid
from tests.world import World

# The browser's push registration, as Chromium would make it, but with the test's endpoint
# and keys. It keeps what it made in localStorage, as the browser keeps it across reloads.
PUSH_MANAGER = """([endpoint, p256dh, auth]) => {
  const key = "test.push.subscription";
  const bytes = (b64) => Uint8Array.from(atob(b64.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const made = (serverKey) => ({
    endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: bytes(serverKey) },
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
    unsubscribe: async () => { localStorage.removeItem(key); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const k = new Uint8Array(options.applicationServerKey);
    const b64 = btoa(String.fromCharCode(...k)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    localStorage.setItem(key, b64);
    return made(b64);
  };
  PushManager.prototype.getSubscription = async function () {
    const b64 = localStorage.getItem(key);
    return b64 ? made(b64) : null;
  };
}"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pitstop.db'}"


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    s = PushService()
    await s.start()
    yield s
    await s.stop()


async def push_capable(page: Page, world: World, endpoint: str) -> Browser:
    """The page may show notifications, and its push registration hands out `endpoint` with
    the keys of the returned Browser (which decrypts what is sent there)."""
    keys = Browser()
    await page.context.grant_permissions(["notifications"], origin=world.url)
    sub = keys.subscription(endpoint)["keys"]
    await page.add_init_script(
        f"({PUSH_MANAGER})({json.dumps([endpoint, sub['p256dh'], sub['auth']])})"
    )
    return keys


async def worker(page: Page) -> Worker:
    for _ in range(100):
        if page.context.service_workers:
            return page.context.service_workers[0]
        await page.wait_for_timeout(100)
    raise AssertionError("the app's service worker did not start")


async def deliver(sw: Worker, message: object) -> None:
    """Dispatch a push event as the browser would, and wait until the worker has handled it
    (what it passed to waitUntil has settled), as the browser keeps the worker alive for."""
    await sw.evaluate(
        """async (data) => {
          const event = new PushEvent("push", { data });
          const pending = [];
          event.waitUntil = (promise) => pending.push(promise);
          self.dispatchEvent(event);
          await Promise.all(pending);
        }""",
        json.dumps(message),
    )


async def shown(sw: Worker) -> list[dict[str, str]]:
    found: list[dict[str, str]] = await sw.evaluate(
        """async () => (await self.registration.getNotifications())
             .map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data.url }))"""
    )
    return found


async def test_turn_on_push_get_a_test_and_an_alert_shown_by_the_service_worker_turn_off(
    world: World, page: Page, service: PushService, tmp_path: Path
) -> None:
    account = await world.account("pia@example.com")
    await page.add_init_script(f"localStorage.setItem('pitstop.app.tuning', '{TUNING}')")
    endpoint = service.endpoint("pia-phone")
    keys = await push_capable(page, world, endpoint)
    await sign_in(page, world.url, account.user.email, account.password)
    await page.get_by_role("link", name="Settings").click()
    state = page.locator("#push-state")
    await expect(state).to_have_text("Off on this browser.")
    # The preferences table has a Push column, ticked by default.
    await expect(page.get_by_role("checkbox", name="Push: charging has finished")).to_be_checked()

    await page.get_by_role("button", name="Turn on push notifications").click()
    await expect(page.locator("#push-result")).to_have_text(
        "Push notifications are on for this browser."
    )
    await expect(state).to_contain_text("On: this browser shows")
    (stored,) = await world.rt.notify.push_subscriptions.of_user(account.user.id)
    assert stored.endpoint == endpoint and stored.device.startswith("Chrome")

    await page.get_by_role("button", name="Send a test notification").click()
    await expect(page.locator("#push-result")).to_have_text(
        "Sent: a notification should appear in a moment."
    )
    assert len(service.requests) == 1
    vapid = check_vapid(service.requests[0], service.origin)
    # Signed with the key the app subscribed with.
    assert vapid.public_key == world.rt.notify.vapid.public_key
    test_message = keys.read(service.requests[0])

    # An alert reaches the push service by itself (push is on by default once subscribed).
    await world.rt.notify.notifier.notify(
        key="charged-7",
        topic="alert.charging_complete",
        user_ids=[account.user.id],
        subject="Blue Model 3 has finished charging",
        text="It is at 80 %, its charge limit.",
    )
    await world.eventually(lambda: len(service.requests) == 2)
    alert = keys.read(service.requests[1])

    # What the push service received, delivered to the service worker as the browser would.
    sw = await worker(page)
    for message in (test_message, alert):
        await deliver(sw, message)
    notes = await shown(sw)
    assert {n["title"] for n in notes} == {
        "Pitstop notifications are on",
        "Blue Model 3 has finished charging",
    }
    charged = next(n for n in notes if n["tag"] == "charged-7")
    assert charged["body"] == "It is at 80 %, its charge limit." and charged["url"] == "/app"
    # The same message again (a retry) replaces its notification instead of adding one.
    await deliver(sw, alert)
    assert len(await shown(sw)) == 2

    problems = await page.evaluate(A11Y)
    assert problems == [], problems
    await page.screenshot(path=tmp_path / "push-on.png", full_page=True)

    await page.get_by_role("button", name="Turn off on this browser").click()
    await expect(page.locator("#push-result")).to_have_text(
        "Push notifications are off for this browser."
    )
    await expect(state).to_have_text("Off on this browser.")
    assert await world.rt.notify.push_subscriptions.of_user(account.user.id) == []
    await page.screenshot(path=tmp_path / "push-off.png", full_page=True)


async def test_push_turned_off_from_another_device_shows_off_here(
    world: World, page: Page, service: PushService
) -> None:
    account = await world.account("pia@example.com")
    await push_capable(page, world, service.endpoint("old-tablet"))
    other = await world.rt.notify.push_subscriptions.subscribe(
        account.user.id, service.endpoint("phone"), **Browser().subscription("x")["keys"]
    )
    await sign_in(page, world.url, account.user.email, account.password)
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("button", name="Turn on push notifications").click()
    await expect(page.locator("#push-state")).to_contain_text("On: this browser shows")
    # The owner's other browser is listed, and can be removed from here.
    devices = page.locator("#push-devices li")
    await expect(devices).to_have_count(1)
    await expect(devices).to_contain_text(re.compile(r"no message yet"))

    mine = [s for s in await world.rt.notify.push_subscriptions.of_user(account.user.id)]
    this = next(s for s in mine if s.id != other.id)
    await world.rt.notify.push_subscriptions.unsubscribe(account.user.id, subscription_id=this.id)
    await page.reload()
    await page.get_by_role("link", name="Settings").click()
    await expect(page.locator("#push-state")).to_have_text("Off on this browser.")

    await devices.get_by_role("button", name=re.compile("^Stop push notifications to")).click()
    await expect(page.locator("#push-result")).to_contain_text("gets no more push notifications")
    await expect(devices).to_have_count(0)
    assert await world.rt.notify.push_subscriptions.of_user(account.user.id) == []


async def test_signing_out_stops_push_to_this_browser(
    world: World, page: Page, service: PushService
) -> None:
    """The next person to use this browser must not get the last owner's notifications."""
    account = await world.account("pia@example.com")
    await push_capable(page, world, service.endpoint("shared-laptop"))
    await sign_in(page, world.url, account.user.email, account.password)
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_role("button", name="Turn on push notifications").click()
    await expect(page.locator("#push-state")).to_contain_text("On: this browser shows")
    assert len(await world.rt.notify.push_subscriptions.of_user(account.user.id)) == 1

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("button", name=re.compile("^Sign in"))).to_be_visible()
    assert await world.rt.notify.push_subscriptions.of_user(account.user.id) == []
    # The browser's own registration is gone too: signing in again shows push off.
    assert await page.evaluate("localStorage.getItem('test.push.subscription')") is None
