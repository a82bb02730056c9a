"""Web Push to a real push service on a real port: the browser's keys decrypt what arrives, the
VAPID signature verifies with the key the app subscribed with, and each answer of the push
service leads where it should."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pitstop.clock import ManualClock
from pitstop.notify.b64url import b64url
from pitstop.notify.service import vapid_key
from pitstop.settings import Settings, load_settings
from tests.notify.push_service import Browser, PushService, check_vapid
from tests.notify.support import later, notify, settled
from tests.world import Account, World

TOPIC = "maintenance.vehicle_data"


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    s = PushService()
    await s.start()
    yield s
    await s.stop()


async def _subscribe(world: World, owner: Account, browser: Browser, endpoint: str) -> int:
    async with world.client(owner.token) as http:
        r = await http.post(
            "/api/1/notifications/push/subscriptions",
            json=browser.subscription(endpoint),
            headers={"user-agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile"},
        )
        assert r.status_code == 200, r.text
        sub_id: int = r.json()["response"]["id"]
    return sub_id


async def _overview(world: World, owner: Account) -> dict[str, object]:
    async with world.client(owner.token) as http:
        r = await http.get("/api/1/notifications/push")
        assert r.status_code == 200, r.text
        found: dict[str, object] = r.json()["response"]
    return found


async def test_a_push_is_encrypted_for_the_browser_and_signed_with_the_key_it_subscribed_with(
    world: World, ada: Account, service: PushService
) -> None:
    browser = Browser()
    overview = await _overview(world, ada)
    assert overview["available"] is True and overview["subscriptions"] == []
    await _subscribe(world, ada, browser, service.endpoint("ada-phone"))

    made = await notify(
        world, "window:3:announced", [ada.user.id], data={"url": "https://pitstop.test/status"}
    )
    assert made == 3  # email, feed and this browser: push is on by default once subscribed
    await world.eventually(lambda: len(service.requests) == 1)
    request = service.requests[0]
    vapid = check_vapid(request, service.origin)
    assert vapid.public_key == overview["public_key"]
    assert vapid.claims["sub"] == "mailto:noreply@pitstop.test"
    assert time.time() < vapid.claims["exp"] <= time.time() + 24 * 3600
    assert request.headers["ttl"] == str(24 * 3600)
    message = browser.read(request)
    assert message["title"] == "Maintenance on Saturday"
    assert message["body"] == "Reading your cars' data will pause for 30 minutes."
    assert message["url"] == "https://pitstop.test/status"
    assert message["tag"] == "window:3:announced"
    with pytest.raises(Exception):  # noqa: B017 - another browser's keys cannot read it
        Browser().read(request)

    (push,) = [
        d for d in await settled(world, "window:3:announced", "delivered") if d.channel == "push"
    ]
    subscriptions = (await _overview(world, ada))["subscriptions"]
    assert isinstance(subscriptions, list)
    assert subscriptions[0]["device"] == "Chrome on Android"
    assert subscriptions[0]["last_delivered_at"] is not None
    assert push.recipient == str(subscriptions[0]["id"])


async def test_a_gone_subscription_is_forgotten_and_its_delivery_parked(
    world: World, ada: Account, service: PushService, clock: ManualClock
) -> None:
    await _subscribe(world, ada, Browser(), service.endpoint("old-laptop"))
    service.script = [(410, {})]
    await notify(world, "gone", [ada.user.id], channels=["push"])
    (delivery,) = await settled(world, "gone", "dead", attempts=1)
    assert delivery.last_error == "HTTP 410: the browser's subscription is gone"
    assert (await _overview(world, ada))["subscriptions"] == []
    assert await notify(world, "after-gone", [ada.user.id], channels=["push"]) == 0
    await later(world, clock, 3600)
    assert len(service.requests) == 1


async def test_a_busy_push_service_is_tried_again_no_sooner_than_it_asked(
    world: World, ada: Account, service: PushService, clock: ManualClock
) -> None:
    browser = Browser()
    await _subscribe(world, ada, browser, service.endpoint("busy"))
    service.script = [(429, {"Retry-After": "300"})]
    await notify(world, "busy", [ada.user.id], channels=["push"])
    (delivery,) = await settled(world, "busy", "pending", attempts=1)
    assert (delivery.next_attempt_at - clock.now()).total_seconds() >= 300
    await later(world, clock, 120)
    assert len(service.requests) == 1
    await later(world, clock, 181)
    await settled(world, "busy", "delivered", attempts=2)
    assert browser.read(service.requests[1])["tag"] == "busy"  # the same message, same tag


async def test_a_push_service_refusing_our_key_parks_the_delivery_but_keeps_the_browser(
    world: World, ada: Account, service: PushService
) -> None:
    await _subscribe(world, ada, Browser(), service.endpoint("strict"))
    service.script = [(403, {})]
    await notify(world, "refused", [ada.user.id], channels=["push"])
    (delivery,) = await settled(world, "refused", "dead", attempts=1)
    assert "VAPID" in (delivery.last_error or "")
    assert len((await _overview(world, ada))["subscriptions"]) == 1  # type: ignore[arg-type]


async def test_push_follows_the_owners_preferences(
    world: World, ada: Account, service: PushService
) -> None:
    await _subscribe(world, ada, Browser(), service.endpoint("prefs"))
    async with world.client(ada.token) as http:
        r = await http.put("/api/1/notifications/preferences", json={"channels": {TOPIC: ["feed"]}})
        assert r.status_code == 200, r.text
    assert await notify(world, "feed-only", [ada.user.id]) == 1
    assert await notify(world, "alert", [ada.user.id], topic="alert.battery_low") == 3


async def test_subscribing_again_from_the_same_browser_replaces_its_entry(
    world: World, ada: Account, service: PushService
) -> None:
    endpoint = service.endpoint("shared-tablet")
    first = await _subscribe(world, ada, Browser(), endpoint)
    fresh = Browser()
    assert await _subscribe(world, ada, fresh, endpoint) == first
    bob = await world.account("bob@example.com")
    assert await _subscribe(world, bob, fresh, endpoint) == first  # bob signed in there now
    assert (await _overview(world, ada))["subscriptions"] == []
    await notify(world, "for-bob", [bob.user.id], channels=["push"])
    await world.eventually(lambda: len(service.requests) == 1)
    assert fresh.read(service.requests[0])["tag"] == "for-bob"

    async with world.client(bob.token) as http:
        r = await http.post("/api/1/notifications/push/unsubscribe", json={"endpoint": endpoint})
        assert r.json()["response"] == {"deleted": True}
        r = await http.delete(f"/api/1/notifications/push/subscriptions/{first}")
        assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_a_bad_subscription_is_refused_in_plain_words_and_nothing_is_stored(
    world: World, ada: Account, service: PushService
) -> None:
    good = Browser().subscription(service.endpoint("x"))
    bad_key = {**good, "keys": {**good["keys"], "p256dh": b64url(b"\x04" + b"\x01" * 64)}}
    cases = {
        "endpoint": {**good, "endpoint": "http://push.example.com/x"},
        "keys.p256dh": bad_key,
        "keys.auth": {**good, "keys": {**good["keys"], "auth": b64url(b"short")}},
    }
    async with world.client(ada.token) as http:
        for field, body in cases.items():
            r = await http.post("/api/1/notifications/push/subscriptions", json=body)
            assert r.status_code == 422, (field, r.text)
            assert r.json()["error"] == "invalid_field"
            assert field in r.json()["messages"], r.json()
        r = await http.post("/api/1/notifications/push/subscriptions", json={"endpoint": "x"})
        assert r.status_code == 422 and "keys" in r.json()["error_description"]
        r = await http.post("/api/1/notifications/push/subscriptions/abc/test")
        assert r.status_code == 422
    assert (await _overview(world, ada))["subscriptions"] == []


async def test_the_test_button_says_what_the_push_service_answered(
    world: World, ada: Account, service: PushService
) -> None:
    browser = Browser()
    sub_id = await _subscribe(world, ada, browser, service.endpoint("button"))
    async with world.client(ada.token) as http:
        r = await http.post(f"/api/1/notifications/push/subscriptions/{sub_id}/test")
        assert r.json()["response"] == {"delivered": True, "detail": "HTTP 201"}
        assert browser.read(service.requests[0])["title"] == "Pitstop notifications are on"
        service.script = [(503, {})]
        r = await http.post(f"/api/1/notifications/push/subscriptions/{sub_id}/test")
        assert r.json()["response"] == {"delivered": False, "detail": "HTTP 503", "retry": True}
    bob = await world.account("bob@example.com")
    async with world.client(bob.token) as http:
        r = await http.post(f"/api/1/notifications/push/subscriptions/{sub_id}/test")
        assert r.status_code == 404  # not bob's browser
    assert len(service.requests) == 2


def _settings(tmp_path: Path, **values: str) -> Settings:
    return load_settings(env={}, data_dir=tmp_path, **values)


def test_every_process_sharing_the_secret_has_the_same_vapid_key(
    tmp_path: Path, clock: ManualClock
) -> None:
    one = vapid_key(_settings(tmp_path / "a", secret_key="s" * 40), clock)
    two = vapid_key(_settings(tmp_path / "b", secret_key="s" * 40), clock)
    other = vapid_key(_settings(tmp_path / "c", secret_key="t" * 40), clock)
    assert one.public_key == two.public_key != other.public_key
    # A restarted process with a generated secret keeps it in the data dir: same key again.
    assert (
        vapid_key(_settings(tmp_path / "d"), clock).public_key
        == vapid_key(_settings(tmp_path / "d"), clock).public_key
    )
    given = b64url((12345).to_bytes(32, "big"))
    assert vapid_key(_settings(tmp_path / "e", vapid_private_key=given), clock).public_key != (
        one.public_key
    )
    with pytest.raises(ValueError, match="32 bytes"):
        vapid_key(_settings(tmp_path / "f", vapid_private_key="abc"), clock)
    with pytest.raises(ValueError, match="mailto"):
        vapid_key(_settings(tmp_path / "g", vapid_subject="admin@example.com"), clock)


async def test_a_signed_token_is_reused_while_fresh_and_renewed_before_it_ends(
    tmp_path: Path, clock: ManualClock
) -> None:
    key = vapid_key(_settings(tmp_path, secret_key="s" * 40), clock)
    first = key.authorization("https://push.example.net")
    assert key.authorization("https://push.example.net") == first
    assert key.authorization("https://other.example.net") != first
    await clock.advance(11 * 3600 + 60)
    assert key.authorization("https://push.example.net") != first
