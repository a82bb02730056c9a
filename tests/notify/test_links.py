"""Where links in notifications point on a server with no PITSTOP_PUBLIC_URL: the address its
signed-in users reach it on, never what an anonymous request claims in its Host header."""

from __future__ import annotations

import re

import httpx
import msgspec
import pytest

from pitstop.settings import Settings
from tests.notify.support import SmtpSink
from tests.notify.test_status_subscribers import arrived, text
from tests.world import Account, World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, public_url="")


async def test_an_anonymous_host_header_does_not_steer_the_links_in_mails(
    world: World, ada: Account, smtp: SmtpSink
) -> None:
    async with httpx.AsyncClient(base_url=world.url, headers={"host": "evil.example"}) as eve:
        assert (await eve.get("/app")).status_code == 200
        r = await eve.post("/status/subscribe", data={"email": "victim@example.com"})
        assert r.status_code == 202, r.text
    (mail,) = await arrived(world, smtp, "victim@example.com", 1)
    link = re.search(r"open: (\S+)", text(mail))
    assert link is not None and "evil.example" not in link[1]
    assert "evil.example" not in world.rt.notify.links.base_url

    # A signed-in owner opening the feed on the server's own address does set it.
    async with world.client(ada.token) as http:
        assert (await http.get("/api/1/notifications")).status_code == 200
    assert world.rt.notify.links.base_url == world.url
