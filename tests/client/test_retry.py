"""The client's retry policy, against a scripted transport (the one place a mock network is right:
a real server cannot be told to answer 503, 503, 200 on cue).

Reads are retried on 503, 429 and failed connections, with Retry-After as a floor and full
jitter on top, within the attempts and the time budget; 4xx never are. A command is resent
only when the server certainly did not act on it, and never past its expiry.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from pitstop.client import (
    AuthError,
    InvalidInput,
    NotFoundError,
    PitstopClient,
    PitstopError,
    RateLimited,
    RetryEvent,
    RetryPolicy,
    ServerUnavailable,
    Unreachable,
    VehicleAsleep,
    set_testing,
)
from pitstop.clock import ManualClock

#: The client's "now" in these tests: 12 minutes before MAINTENANCE's expected end.
NOW = datetime(2026, 1, 5, 10, 18, tzinfo=UTC)

URL = "http://pitstop.test"
OK_BODY = {
    "response": {"email": "ada@example.com", "full_name": "Ada", "role": "owner"},
    "error": None,
}
MAINTENANCE = {
    "response": None,
    "error": "server_maintenance",
    "error_description": "Pitstop is down for planned maintenance until 10:30 UTC.",
    "maintenance": {
        "id": "42",
        "title": "Database upgrade",
        "reason": "hardware_upgrade",
        "scope": "all",
        "started_at": "2026-01-05T10:00:00Z",
        "expected_end": "2026-01-05T10:30:00Z",
        "status_url": "http://pitstop.test/status",
    },
}


class Script:
    """A transport that answers from a list, and remembers what it was asked."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def unavailable(
    retry_after: str | None = None, body: dict[str, object] | None = None
) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, json=body or MAINTENANCE, headers=headers)


def client(
    script: Script, sleeps: list[float], policy: RetryPolicy | None = None, **kwargs: object
) -> PitstopClient:
    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    kwargs.setdefault("clock", ManualClock(NOW))
    kwargs.setdefault("tz", UTC)
    return PitstopClient(
        URL,
        token="t",
        transport=httpx.MockTransport(script),
        retry=policy or RetryPolicy(),
        sleep=record,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def not_testing() -> Iterator[None]:
    set_testing(False)
    yield
    set_testing(False)


async def test_a_read_is_retried_on_503_and_waits_at_least_retry_after() -> None:
    script = Script(unavailable("2"), unavailable("3"), httpx.Response(200, json=OK_BODY))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        me = await pitstop.me()
    assert me.email == "ada@example.com"
    assert len(script.requests) == 3
    # The floor is Retry-After; the full jitter adds at most the backoff (0.5 s, then 1 s).
    assert len(sleeps) == 2
    assert 2 <= sleeps[0] <= 2.5
    assert 3 <= sleeps[1] <= 4


async def test_without_jitter_the_waits_are_the_floor_plus_the_backoff() -> None:
    script = Script(unavailable("2"), unavailable("3"), httpx.Response(200, json=OK_BODY))
    sleeps: list[float] = []
    async with client(script, sleeps, RetryPolicy(jitter=False)) as pitstop:
        await pitstop.me()
    assert sleeps == [2.5, 4.0]


async def test_without_retry_after_the_backoff_doubles_with_full_jitter() -> None:
    script = Script(unavailable(), unavailable(), unavailable(), httpx.Response(200, json=OK_BODY))
    sleeps: list[float] = []
    async with client(script, sleeps, RetryPolicy(initial=1.0)) as pitstop:
        await pitstop.me()
    assert len(sleeps) == 3
    for wait, backoff in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert 0 <= wait <= backoff


async def test_the_jitter_spreads_clients_that_failed_together() -> None:
    waits = {RetryPolicy().delay(1, 5.0, random.Random(seed)) for seed in range(20)}
    assert len(waits) > 15
    assert all(5.0 <= w <= 5.5 for w in waits if w is not None)


async def test_the_budget_bounds_the_total_wait() -> None:
    script = Script(unavailable("20"))
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=10, budget=50)
    async with client(script, sleeps, policy) as pitstop:
        with pytest.raises(ServerUnavailable) as caught:
            await pitstop.me()
    # 20 s (+ jitter) twice fits in 50 s; a third wait would not.
    assert len(sleeps) == 2 and sum(sleeps) <= 50
    assert len(script.requests) == 3
    assert caught.value.retry_after == 20


async def test_a_retry_after_longer_than_the_maximum_wait_is_not_waited_for() -> None:
    script = Script(unavailable("600"))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        with pytest.raises(ServerUnavailable) as caught:
            await pitstop.me()
    assert sleeps == [] and len(script.requests) == 1
    assert caught.value.retry_after == 600
    assert "in 12 min" in caught.value.message


async def test_when_attempts_run_out_the_503_is_raised_with_its_maintenance() -> None:
    script = Script(unavailable("1"))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        with pytest.raises(ServerUnavailable) as caught:
            await pitstop.vehicles()
    assert len(script.requests) == 4 and len(sleeps) == 3  # attempts=4 by default
    error = caught.value
    assert error.message == (
        "Server maintenance (hardware upgrade): Pitstop expects to be back at 10:30, in 12 min. "
        "Status: http://pitstop.test/status"
    )
    assert error.error == "server_maintenance" and error.retry_after == 1
    assert error.maintenance is not None
    assert error.maintenance.title == "Database upgrade"
    assert error.maintenance.reason == "hardware_upgrade"
    assert error.maintenance.expected_end is not None
    assert error.maintenance.expected_end.isoformat() == "2026-01-05T10:30:00+00:00"
    assert error.maintenance.status_url == "http://pitstop.test/status"


async def test_a_503_without_a_maintenance_object_still_reads_well() -> None:
    body = {
        "response": None,
        "error": "overloaded",
        "error_description": "Pitstop is overloaded; please retry shortly.",
    }
    script = Script(unavailable("5", body))
    async with client(script, [], RetryPolicy(attempts=1)) as pitstop:
        with pytest.raises(ServerUnavailable) as caught:
            await pitstop.me()
    assert caught.value.maintenance is None and caught.value.error == "overloaded"
    assert caught.value.hint == "try again in 5 s"


async def test_429_is_retried_and_then_raised_as_rate_limited() -> None:
    limited = httpx.Response(
        429,
        headers={"Retry-After": "1"},
        json={"response": None, "error": "rate_limited", "error_description": "Slow down."},
    )
    script = Script(limited, httpx.Response(200, json=OK_BODY))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        await pitstop.me()
    assert len(sleeps) == 1 and 1 <= sleeps[0] <= 1.5

    script = Script(limited)
    async with client(script, [], RetryPolicy(attempts=2)) as pitstop:
        with pytest.raises(RateLimited) as caught:
            await pitstop.me()
    assert caught.value.retry_after == 1 and len(script.requests) == 2


async def test_a_failed_connection_is_retried_for_reads_then_reported_as_unreachable() -> None:
    script = Script(httpx.ConnectError("connection refused"))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        with pytest.raises(Unreachable) as caught:
            await pitstop.vehicles()
    assert len(script.requests) == 4 and len(sleeps) == 3
    assert caught.value.message == (
        f"Cannot reach the Pitstop server at {URL}: is it running? Check PITSTOP_URL."
    )

    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json=OK_BODY))
    async with client(script, []) as pitstop:
        assert (await pitstop.me()).email == "ada@example.com"


async def test_a_command_the_server_may_have_acted_on_is_never_resent() -> None:
    not_handled_for_sure = (
        httpx.Response(503, json={"response": None, "error": "service_unavailable"}),
        httpx.ReadTimeout("slow"),  # it may have reached the car
        httpx.RemoteProtocolError("closed mid-answer"),
    )
    for answer in not_handled_for_sure:
        script = Script(answer)
        sleeps: list[float] = []
        async with client(script, sleeps) as pitstop:
            with pytest.raises((ServerUnavailable, Unreachable)):
                await pitstop.command("5YJ3E1EA7PF000001", "honk_horn")
        assert len(script.requests) == 1 and sleeps == []
        assert script.requests[0].method == "POST"


async def test_a_command_the_gate_turned_away_is_resent_within_its_expiry() -> None:
    ok = httpx.Response(200, json={"response": {"result": True, "reason": ""}, "error": None})
    for refusal in (unavailable("2"), httpx.ConnectError("refused")):
        script = Script(refusal, ok)
        sleeps: list[float] = []
        async with client(script, sleeps) as pitstop:
            outcome = await pitstop.command("5YJ3E1EA7PF000001", "door_unlock")
        assert outcome.result
        assert len(script.requests) == 2 and len(sleeps) == 1


async def test_a_command_is_not_resent_once_its_expiry_would_have_passed() -> None:
    # Retry-After 20 s: the first resend (at ~20 s) is within 30 s, a second (at ~40 s) is not.
    script = Script(unavailable("20"))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        with pytest.raises(ServerUnavailable) as caught:
            await pitstop.command("5YJ3E1EA7PF000001", "door_unlock", expires_in=30)
    assert len(script.requests) == 2 and len(sleeps) == 1 and 20 <= sleeps[0] < 30
    assert "door_unlock was not carried out: send it again later" in caught.value.hint
    # With a shorter expiry it is not resent at all.
    script = Script(unavailable("20"))
    async with client(script, []) as pitstop:
        with pytest.raises(ServerUnavailable):
            await pitstop.command("5YJ3E1EA7PF000001", "door_unlock", expires_in=10)
    assert len(script.requests) == 1


async def test_a_read_timeout_says_the_server_did_not_answer() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    async with client(script, [], RetryPolicy(attempts=1)) as pitstop:
        with pytest.raises(Unreachable) as caught:
            await pitstop.me()
    assert caught.value.message == f"The Pitstop server at {URL} did not answer in time."


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {
                "error": "invalid_request",
                "error_description": "Bad JSON.",
                "messages": {"body": ["bad"]},
            },
            InvalidInput,
        ),
        (
            401,
            {"error": "invalid_token", "error_description": "The access token is not valid."},
            AuthError,
        ),
        (404, {"error": "not_found", "error_description": "You have no vehicle X."}, NotFoundError),
        (
            408,
            {"error": "vehicle_unavailable", "error_description": "Asleep.", "state": "asleep"},
            VehicleAsleep,
        ),
        (
            422,
            {
                "error": "invalid_field",
                "error_description": "percent is wrong.",
                "messages": {"percent": ["must be between 50 and 100"]},
            },
            InvalidInput,
        ),
    ],
)
async def test_4xx_answers_are_not_retried(
    status: int, body: dict[str, object], error: type[Exception]
) -> None:
    script = Script(httpx.Response(status, json={"response": None, **body}))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        with pytest.raises(error):
            await pitstop.vehicle_data("X")
    assert len(script.requests) == 1 and sleeps == []


async def test_testing_mode_removes_the_waits_but_keeps_the_retries() -> None:
    set_testing(True)
    script = Script(unavailable("3"), unavailable("3"), httpx.Response(200, json=OK_BODY))
    sleeps: list[float] = []
    async with client(script, sleeps) as pitstop:
        await pitstop.me()
    assert sleeps == [] and len(script.requests) == 3

    set_testing(True, attempts=1)
    script = Script(unavailable("3"))
    async with client(script, sleeps) as pitstop:
        with pytest.raises(ServerUnavailable):
            await pitstop.me()
    assert len(script.requests) == 1


async def test_each_retry_is_reported_to_the_hook() -> None:
    events: list[RetryEvent] = []
    script = Script(
        unavailable("1"), httpx.ConnectError("refused"), httpx.Response(200, json=OK_BODY)
    )
    async with client(script, [], on_retry=events.append) as pitstop:
        await pitstop.me()
    assert [(e.method, e.attempt, e.reason) for e in events] == [
        ("GET", 1, "503 server_maintenance"),
        ("GET", 2, "ConnectError"),
    ]
    assert events[0].url == f"{URL}/api/1/users/me" and events[0].wait >= 1


def test_the_policy_checks_its_numbers() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(budget=-1)
    assert RetryPolicy().backoff(1) == 0.5 and RetryPolicy().backoff(20) == 30


async def test_a_body_that_is_not_json_becomes_a_readable_error() -> None:
    script = Script(httpx.Response(502, text="<html>Bad gateway</html>"))
    async with client(script, []) as pitstop:
        with pytest.raises(PitstopError) as caught:
            await pitstop.me()
    assert caught.value.message == "The server answered 502 Bad Gateway."
    assert caught.value.status == 502
