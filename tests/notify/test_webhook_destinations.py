"""A server that sends webhooks and Web Push to public addresses only
(PITSTOP_WEBHOOK_ALLOW_PRIVATE=false) refuses URLs into a network when they are registered and
again before each delivery, and delivers to the address it checked; by default (a self-hosted
server posting to its own LAN) they are allowed."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from pitstop.notify.destinations import PrivateDestination, check_public, pinned
from pitstop.settings import Settings
from tests.notify.push_service import Browser, PushService
from tests.notify.support import WebhookReceiver, notify, receiver, settled
from tests.world import Account, World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/api/webhook/x",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://192.168.1.20:8123/api/webhook/car",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_a_url_into_a_network_is_refused_and_nothing_is_stored(
    world: World, ada: Account, url: str
) -> None:
    async with world.client(ada.token) as http:
        r = await http.post("/api/1/notifications/webhooks", json={"url": url})
        assert r.status_code == 422, r.text
        assert "public addresses only" in r.json()["messages"]["url"][0]
        assert (await http.get("/api/1/notifications/webhooks")).json()["response"] == []


async def test_public_addresses_pass_and_private_ones_are_named() -> None:
    await check_public("https://93.184.215.14/hook")
    await check_public("https://[2606:4700::6810:84e5]/hook")
    with pytest.raises(PrivateDestination, match=r"localhost resolves to a private address"):
        await check_public("http://localhost:9/hook")


async def test_an_endpoint_leading_into_a_network_gets_nothing_and_its_delivery_is_parked(
    world: World, ada: Account
) -> None:
    hook: WebhookReceiver
    async with receiver() as hook:
        # Registered while the server still allowed it (or its name resolved elsewhere then).
        world.rt.notify.endpoints.allow_private = True
        endpoint, _ = await world.rt.notify.endpoints.create(ada.user.id, hook.url)
        world.rt.notify.endpoints.allow_private = False
        async with world.client(ada.token) as http:
            r = await http.put(
                "/api/1/notifications/preferences",
                json={"channels": {"maintenance.vehicle_data": ["webhook"]}},
            )
            assert r.status_code == 200, r.text
        await notify(world, "inside", [ada.user.id])
        (delivery,) = await settled(world, "inside", "dead", attempts=1)
        assert "127.0.0.1 is a private address" in (delivery.last_error or "")
        assert hook.requests == []
        assert endpoint.enabled  # kept: the owner sees why its deliveries failed


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:6379/x",  # plain http to this machine: only for a local push service
        "https://169.254.169.254/latest",
        "https://10.0.0.5:8443/admin",
        "https://[::1]:5432/",
        "https://localhost:9/push",
    ],
)
async def test_a_push_endpoint_into_a_network_is_refused_and_nothing_is_stored(
    world: World, ada: Account, endpoint: str
) -> None:
    async with world.client(ada.token) as http:
        r = await http.post(
            "/api/1/notifications/push/subscriptions",
            json=Browser().subscription(endpoint),
        )
        assert r.status_code == 422, r.text
        assert await world.rt.notify.push_subscriptions.of_user(ada.user.id) == []


async def test_a_push_service_inside_a_network_gets_nothing_and_its_delivery_is_parked(
    world: World, ada: Account
) -> None:
    service = PushService()
    await service.start()
    try:
        # Subscribed while the server still allowed it.
        world.rt.notify.push_subscriptions.allow_private = True
        await world.rt.notify.push_subscriptions.subscribe(
            ada.user.id, **_keys(Browser().subscription(service.endpoint("ada")))
        )
        world.rt.notify.push_subscriptions.allow_private = False
        async with world.client(ada.token) as http:
            r = await http.put(
                "/api/1/notifications/preferences",
                json={"channels": {"maintenance.vehicle_data": ["push"]}},
            )
            assert r.status_code == 200, r.text
        await notify(world, "inside-push", [ada.user.id])
        (delivery,) = await settled(world, "inside-push", "dead", attempts=1)
        assert "is a private address" in (delivery.last_error or "")
        assert service.requests == []
    finally:
        await service.stop()


def _keys(subscription: dict[str, Any]) -> dict[str, str]:
    return {"endpoint": subscription["endpoint"], **subscription["keys"]}


async def test_a_delivery_goes_to_the_address_that_was_checked() -> None:
    """A name is resolved once: a second answer (DNS rebinding to 127.0.0.1) is never asked."""
    answers = [["93.184.215.14"], ["127.0.0.1"]]
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return answers[len(asked) - 1]

    target = await pinned("https://hooks.example.com:8443/car?x=1", resolve=resolve)
    assert asked == [("hooks.example.com", 8443)]
    assert target.url == "https://93.184.215.14:8443/car?x=1"
    assert target.headers == {"host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}  # TLS checks the name

    async def six(host: str, port: int) -> list[str]:
        return ["2606:4700::6810:84e5"]

    assert (await pinned("http://hooks.example.com/h", resolve=six)).url == (
        "http://[2606:4700::6810:84e5]/h"
    )

    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(PrivateDestination, match=r"resolves to a private address \(10.0.0.7\)"):
        await pinned("https://hooks.example.com/h", resolve=mixed)
