"""A 503 as a person reads it: the window's reason, when Pitstop is back in the reader's own
time and how long that is, and the status page; read from the server's body, at the client's
clock (a scripted transport: these are the server's exact bodies, at chosen moments)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from pitstop.client import NO_RETRY, Notice, PitstopClient, ServerUnavailable
from pitstop.clock import ManualClock

END = "2026-11-24T13:30:00Z"


def maintenance(**changes: Any) -> dict[str, Any]:
    window = {
        "id": 7,
        "title": "Database upgrade",
        "reason": "security_update",
        "description": "",
        "scope": ["all"],
        "mode": "full",
        "started_at": "2026-11-24T13:00:00Z",
        "expected_end": END,
        "status_url": "http://pitstop.test/status",
        "overrunning": False,
    } | changes
    return {
        "response": None,
        "error": "server_maintenance",
        "error_description": "x",
        "maintenance": window,
    }


async def sentence(
    body: dict[str, Any], now: datetime, tz: tzinfo = UTC, retry_after: str = "60"
) -> ServerUnavailable:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json=body, headers={"Retry-After": retry_after})

    async with PitstopClient(
        "http://pitstop.test", token="t", transport=httpx.MockTransport(answer),
        retry=NO_RETRY, clock=ManualClock(now), tz=tz,
    ) as pitstop:  # fmt: skip
        with pytest.raises(ServerUnavailable) as caught:
            await pitstop.me()
    return caught.value


async def test_the_sentence_says_why_until_when_and_where_to_look() -> None:
    error = await sentence(maintenance(), datetime(2026, 11, 24, 13, 18, tzinfo=UTC))
    assert error.message == (
        "Server maintenance (security update): Pitstop expects to be back at 13:30, in 12 min. "
        "Status: http://pitstop.test/status"
    )
    assert error.hint == ""


async def test_the_time_is_the_readers_own() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    error = await sentence(maintenance(), datetime(2026, 11, 24, 13, 18, tzinfo=UTC), berlin)
    assert "back at 14:30, in 12 min." in error.message
    # Past midnight for the reader: the day is named.
    tokyo = ZoneInfo("Asia/Tokyo")
    error = await sentence(maintenance(), datetime(2026, 11, 24, 13, 18, tzinfo=UTC), tokyo)
    assert "back at 22:30, in 12 min." in error.message
    error = await sentence(maintenance(), datetime(2026, 11, 24, 11, 0, tzinfo=UTC), tokyo)
    assert "back at 22:30, in 2 h 30 min." in error.message
    error = await sentence(
        maintenance(expected_end="2026-11-25T01:00:00Z"),
        datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
        berlin,
    )
    assert "back at 02:00 tomorrow, in 12 h." in error.message


async def test_an_overrunning_window_says_it_is_taking_longer() -> None:
    error = await sentence(
        maintenance(overrunning=True), datetime(2026, 11, 24, 13, 35, tzinfo=UTC), retry_after="30"
    )
    assert error.message == (
        "Server maintenance (security update) is taking longer than planned: Pitstop expected "
        "to be back at 13:30 (5 min ago). Status: http://pitstop.test/status"
    )


async def test_read_only_and_scoped_windows_say_what_still_works() -> None:
    now = datetime(2026, 11, 24, 13, 18, tzinfo=UTC)
    read_only = await sentence(maintenance(mode="read_only"), now)
    assert read_only.hint == "reading works meanwhile; changes are paused until then"
    scoped = await sentence(maintenance(scope=["charging", "vehicle_commands"]), now)
    assert scoped.hint == "only charging, vehicle commands are paused; the rest works"
    assert scoped.maintenance is not None and scoped.maintenance.scope == (
        "charging",
        "vehicle_commands",
    )


async def test_overload_and_failed_dependencies_say_when_to_try_again() -> None:
    now = datetime(2026, 11, 24, 13, 18, tzinfo=UTC)
    overloaded = await sentence(
        {"response": None, "error": "overloaded", "error_description": "Busy."},
        now,
        retry_after="4",
    )
    assert (overloaded.message, overloaded.hint) == (
        "Pitstop is overloaded right now.",
        "try again in 4 s",
    )
    failed = await sentence(
        {"response": None, "error": "service_unavailable", "error_description": "The database is not answering."},
        now, retry_after="120",
    )  # fmt: skip
    assert (failed.message, failed.hint) == (
        "The database is not answering.",
        "try again in about 2 min",
    )


def test_the_notice_headers_are_read_for_a_banner() -> None:
    notice = Notice.from_headers(
        httpx.Headers(
            {
                "Pitstop-Maintenance": "read_only; id=3; expected_end=2026-11-24T13:30:00Z",
                "Pitstop-Maintenance-Next": "2026-11-26T02:00:00Z; id=4",
            }
        )
    )
    assert notice.read_only_until == datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    assert notice.window_id == "3" and notice.next_id == "4"
    assert notice.next_starts_at == datetime(2026, 11, 26, 2, tzinfo=UTC)
    assert Notice.from_headers(httpx.Headers()) == Notice()
