"""Unexpected downtime: the database goes away under a running server, and comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from pitstop.app import create_app
from pitstop.clock import SystemClock
from pitstop.settings import Settings
from tests.proxy import Proxy
from tests.world import World


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[Proxy]:
    url = make_url(database_url)
    p = await Proxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield p
    await p.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_unreachable_database_is_a_503_and_the_server_recovers(
    settings: Settings, database_url: str, proxy: Proxy
) -> None:
    settings.database_url = (
        make_url(database_url).set(port=proxy.port).render_as_string(hide_password=False)
    )
    clock = SystemClock()
    async with World.running(create_app(settings, clock=clock), clock) as world:
        ada = await world.account("ada@example.com")
        async with world.client(ada.token) as http:
            assert (await http.get("/api/1/products")).status_code == 200
            proxy.cut()
            # A token the server has not seen yet needs the database.
            async with world.client("an-unseen-token") as stranger:
                down = await stranger.get("/api/1/products")
                page = await stranger.get(
                    "/api/1/products", headers={"accept": "application/problem+json"}
                )
            assert down.status_code == 503, down.text
            assert down.json()["error"] == "service_unavailable"
            assert "database" in down.json()["error_description"]
            assert 5 <= int(down.headers["retry-after"]) <= 10
            assert down.headers["cache-control"] == "no-store"
            assert page.status_code == 503 and page.json()["status"] == 503
            # Signing in needs the database too.
            token = await http.post(
                "/oauth2/v3/token",
                data={
                    "grant_type": "password",
                    "client_id": "pitstop-cli",
                    "username": "ada@example.com",
                    "password": ada.password,
                },
            )
            assert token.status_code == 503
            assert (await http.get("/healthz")).status_code == 200

            proxy.restore()
            async with asyncio.timeout(20):
                while (
                    await http.post(
                        "/oauth2/v3/token",
                        data={
                            "grant_type": "password",
                            "client_id": "pitstop-cli",
                            "username": "ada@example.com",
                            "password": ada.password,
                        },
                    )
                ).status_code != 200:
                    await asyncio.sleep(0.2)
