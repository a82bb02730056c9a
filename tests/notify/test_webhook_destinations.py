"""A server that sends webhooks to public addresses only (PITSTOP_WEBHOOK_ALLOW_PRIVATE=false)
refuses URLs into a network when they are registered and again before each delivery; by
default (a self-hosted server posting to its own LAN) they are allowed."""

from __future__ import annotations

import msgspec
import pytest

from pitstop.notify.destinations import PrivateDestination, check_public
from pitstop.settings import Settings
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
        assert endpoint.url == hook.url
