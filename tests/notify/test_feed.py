"""The in-app feed: REST list, pages, read marks, and the live Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.notify.support import notify, settled
from tests.world import Account, World


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse an SSE body as it arrives: one dict per event (comments skipped)."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in event or "retry" in event:
                yield event
            event = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            event[name] = value.removeprefix(" ")


async def _next_item(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(10):
        async for event in events:
            if event.get("event") == "notification":
                data: dict[str, Any] = json.loads(event["data"])
                assert int(event["id"]) == data["id"]
                return data
    raise AssertionError("the stream ended")


async def test_the_feed_lists_newest_first_in_pages_and_marks_read(
    world: World, ada: Account
) -> None:
    bob = await world.account("bob@example.com")
    for n in range(5):
        await notify(world, f"feed-{n}", [ada.user.id], subject=f"Notice {n}", channels=["feed"])
        await settled(world, f"feed-{n}", "delivered")
    await notify(world, "bob-only", [bob.user.id], channels=["feed"])
    await settled(world, "bob-only", "delivered")
    async with world.client(ada.token) as http:
        r = await http.get("/api/1/notifications", params={"limit": 3})
        assert r.status_code == 200
        page = r.json()["response"]
        assert [i["subject"] for i in page["items"]] == ["Notice 4", "Notice 3", "Notice 2"]
        assert page["unread_count"] == 5 and page["next_before"] == page["items"][-1]["id"]
        r = await http.get("/api/1/notifications", params={"before": page["next_before"]})
        rest = r.json()["response"]
        assert [i["key"] for i in rest["items"]] == ["feed-1", "feed-0"]
        assert rest["next_before"] is None

        r = await http.post("/api/1/notifications/read", json={"ids": [page["items"][0]["id"]]})
        assert r.json()["response"] == {"marked": 1, "unread_count": 4}
        r = await http.get("/api/1/notifications", params={"unread": "true"})
        assert len(r.json()["response"]["items"]) == 4
        r = await http.post("/api/1/notifications/read", json={})
        assert r.json()["response"] == {"marked": 4, "unread_count": 0}

        bad = await http.get("/api/1/notifications", params={"limit": 0})
        assert bad.status_code == 422 and "limit" in bad.json()["messages"]
    async with world.client() as http:
        assert (await http.get("/api/1/notifications")).status_code == 401


async def test_the_stream_pushes_new_items_live_and_resumes_from_last_event_id(
    world: World, ada: Account
) -> None:
    await notify(world, "before-connecting", [ada.user.id], channels=["feed"])
    await settled(world, "before-connecting", "delivered")
    async with (
        world.client(ada.token) as http,
        http.stream("GET", "/api/1/notifications/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = _events(response)
        first = await anext(events)
        assert first == {"retry": "3000"}
        await notify(world, "live-1", [ada.user.id], subject="Charging complete", channels=["feed"])
        item = await _next_item(events)
        assert item["key"] == "live-1" and item["subject"] == "Charging complete"
        assert item["topic"] == "maintenance.vehicle_data" and item["read_at"] is None
        last_seen = item["id"]
    await world.eventually(lambda: world.rt.notify.hub.listeners == 0)

    # Missed while away: comes first after reconnecting with Last-Event-ID.
    await notify(world, "missed", [ada.user.id], channels=["feed"])
    await settled(world, "missed", "delivered")
    async with (
        world.client(ada.token) as http,
        http.stream(
            "GET", "/api/1/notifications/stream", headers={"Last-Event-ID": str(last_seen)}
        ) as response,
    ):
        events = _events(response)
        assert (await _next_item(events))["key"] == "missed"
        await notify(world, "live-2", [ada.user.id], channels=["feed"])
        assert (await _next_item(events))["key"] == "live-2"


async def test_a_stream_only_carries_its_own_users_items(world: World, ada: Account) -> None:
    bob = await world.account("bob@example.com")
    async with (
        world.client(ada.token) as http,
        http.stream("GET", "/api/1/notifications/stream") as response,
    ):
        events = _events(response)
        await anext(events)
        await notify(world, "for-bob", [bob.user.id], channels=["feed"])
        await settled(world, "for-bob", "delivered")
        await notify(world, "for-ada", [ada.user.id], channels=["feed"])
        assert (await _next_item(events))["key"] == "for-ada"


async def test_the_stream_tells_a_bad_last_event_id(world: World, ada: Account) -> None:
    async with world.client(ada.token) as http:
        r = await http.get("/api/1/notifications/stream", headers={"Last-Event-ID": "abc"})
        assert r.status_code == 422 and r.json()["error"] == "invalid_field"
