"""Webhooks to a real HTTP receiver that checks Standard Webhooks signatures with the
`standardwebhooks` package; rotation; what each answer of the receiver leads to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from pitstop.clock import ManualClock
from tests.notify.support import (
    MAX_ATTEMPTS,
    WebhookReceiver,
    free_port,
    later,
    notify,
    receiver,
    settled,
    verify,
)
from tests.world import Account, World

TOPIC = "maintenance.vehicle_data"


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    async with receiver() as r:
        yield r


async def _register(world: World, owner: Account, url: str) -> tuple[int, str]:
    async with world.client(owner.token) as http:
        r = await http.post("/api/1/notifications/webhooks", json={"url": url})
        assert r.status_code == 200, r.text
        body = r.json()["response"]
        r = await http.put(
            "/api/1/notifications/preferences", json={"channels": {TOPIC: ["webhook"]}}
        )
        assert r.status_code == 200, r.text
    return body["endpoint"]["id"], body["secret"]


async def test_a_webhook_is_signed_and_verifies_with_the_standardwebhooks_package(
    world: World, ada: Account, hook: WebhookReceiver
) -> None:
    _, secret = await _register(world, ada, hook.url)
    assert secret.startswith("whsec_")
    assert await notify(world, "window:1:announced", [ada.user.id], data={"window_id": 1}) == 1
    await world.eventually(lambda: len(hook.requests) == 1)
    received = hook.requests[0]
    assert received.webhook_id == "window:1:announced"
    assert received.headers["content-type"] == "application/json"
    payload = verify(secret, received)
    assert payload["type"] == TOPIC
    assert payload["data"]["key"] == "window:1:announced"
    assert payload["data"]["subject"] == "Maintenance on Saturday"
    assert payload["data"]["data"] == {"window_id": 1}
    with pytest.raises(Exception, match="signature"):
        verify("whsec_" + "A" * 32, received)
    (delivery,) = await settled(world, "window:1:announced", "delivered")
    assert delivery.recipient == str(1)


async def test_after_a_rotation_both_secrets_verify_until_the_old_one_expires(
    world: World, ada: Account, hook: WebhookReceiver, clock: ManualClock
) -> None:
    endpoint_id, old = await _register(world, ada, hook.url)
    async with world.client(ada.token) as http:
        r = await http.post(
            f"/api/1/notifications/webhooks/{endpoint_id}/rotate",
            json={"keep_previous_minutes": 60},
        )
        assert r.status_code == 200, r.text
        new = r.json()["response"]["secret"]
        assert r.json()["response"]["endpoint"]["active_secrets"] == 2
    await notify(world, "during-rotation", [ada.user.id])
    await world.eventually(lambda: len(hook.requests) == 1)
    received = hook.requests[0]
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    verify(old, received)
    verify(new, received)

    clock.set(clock.now() + timedelta(minutes=61))
    await notify(world, "after-rotation", [ada.user.id])
    await world.eventually(lambda: len(hook.requests) == 2)
    received = hook.requests[1]
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    verify(new, received, check_time=False)
    with pytest.raises(Exception, match="signature"):
        verify(old, received, check_time=False)


async def test_a_500_is_retried_and_the_retry_carries_the_same_webhook_id(
    world: World, ada: Account, hook: WebhookReceiver, clock: ManualClock
) -> None:
    _, secret = await _register(world, ada, hook.url)
    hook.script = [(500, {})]
    await notify(world, "flaky", [ada.user.id])
    (delivery,) = await settled(world, "flaky", "pending", attempts=1)
    assert delivery.last_error == "HTTP 500"
    await later(world, clock, 11)
    (delivery,) = await settled(world, "flaky", "delivered", attempts=2)
    assert [r.webhook_id for r in hook.requests] == ["flaky", "flaky"]
    verify(secret, hook.requests[1])


async def test_retry_after_from_the_receiver_is_honoured(
    world: World, ada: Account, hook: WebhookReceiver, clock: ManualClock
) -> None:
    await _register(world, ada, hook.url)
    hook.script = [(429, {"Retry-After": "300"})]
    await notify(world, "slow-down", [ada.user.id])
    (delivery,) = await settled(world, "slow-down", "pending", attempts=1)
    assert (delivery.next_attempt_at - clock.now()).total_seconds() >= 300
    await later(world, clock, 120)
    assert len(hook.requests) == 1
    await later(world, clock, 181)
    await settled(world, "slow-down", "delivered", attempts=2)


async def test_a_410_is_dead_at_once(
    world: World, ada: Account, hook: WebhookReceiver, clock: ManualClock
) -> None:
    await _register(world, ada, hook.url)
    hook.script = [(410, {})]
    await notify(world, "gone", [ada.user.id])
    (delivery,) = await settled(world, "gone", "dead", attempts=1)
    assert delivery.last_error == "HTTP 410"
    await later(world, clock, 3600)
    assert len(hook.requests) == 1


async def test_a_receiver_down_backs_off_longer_each_time_dies_and_an_operator_replays_it(
    world: World, ada: Account, clock: ManualClock, ops: httpx.AsyncClient
) -> None:
    port = free_port()
    _, secret = await _register(world, ada, f"http://127.0.0.1:{port}/hook")
    await notify(world, "receiver-down", [ada.user.id])
    waits = []
    for attempt in range(1, MAX_ATTEMPTS):
        (delivery,) = await settled(world, "receiver-down", "pending", attempts=attempt)
        assert "could not reach" in (delivery.last_error or "")
        wait = (delivery.next_attempt_at - clock.now()).total_seconds()
        waits.append(wait)
        await later(world, clock, wait + 0.5)
    (delivery,) = await settled(world, "receiver-down", "dead", attempts=MAX_ATTEMPTS)
    assert waits == sorted(waits) and waits[-1] > 2 * waits[0]
    assert [5 <= waits[0] <= 10, 10 <= waits[1] <= 20, 20 <= waits[2] <= 40] == [True] * 3

    r = await ops.get("/api/1/notifications/deliveries", params={"status": "dead"})
    (dead,) = r.json()["response"]["items"]
    assert dead["key"] == "receiver-down" and dead["channel"] == "webhook"
    assert (await ops.get("/api/1/notifications/outbox")).json()["response"]["webhook"]["dead"] == 1

    async with receiver(port) as hook:
        r = await ops.post(f"/api/1/notifications/deliveries/{dead['id']}/replay")
        assert r.status_code == 200 and r.json()["response"]["replayed"] == [dead["id"]]
        (delivery,) = await settled(world, "receiver-down", "delivered", attempts=1)
        assert len(hook.requests) == 1
        verify(secret, hook.requests[0], check_time=False)
        assert json.loads(hook.requests[0].body)["data"]["key"] == "receiver-down"
    again = await ops.post(f"/api/1/notifications/deliveries/{dead['id']}/replay")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    missing = await ops.post("/api/1/notifications/deliveries/999999/replay")
    assert missing.status_code == 404


async def test_owners_cannot_see_the_outbox_and_endpoints_are_their_own(
    world: World, ada: Account, hook: WebhookReceiver
) -> None:
    endpoint_id, _ = await _register(world, ada, hook.url)
    bob = await world.account("bob@example.com")
    async with world.client(ada.token) as http:
        r = await http.get("/api/1/notifications/deliveries")
        assert r.status_code == 403 and r.json()["error"] == "missing_scopes"
        bad = await http.post("/api/1/notifications/webhooks", json={"url": "ftp://x"})
        assert bad.status_code == 422 and "url" in bad.json()["messages"]
    async with world.client(bob.token) as http:
        assert (await http.get("/api/1/notifications/webhooks")).json()["response"] == []
        r = await http.post(f"/api/1/notifications/webhooks/{endpoint_id}/rotate")
        assert r.status_code == 404
        r = await http.delete(f"/api/1/notifications/webhooks/{endpoint_id}")
        assert r.status_code == 404
    async with world.client(ada.token) as http:
        r = await http.delete(f"/api/1/notifications/webhooks/{endpoint_id}")
        assert r.status_code == 200
    assert await notify(world, "no-endpoint", [ada.user.id]) == 0
