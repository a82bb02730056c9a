"""Retrying: exponential backoff with full jitter, Retry-After as a floor, a budget.

Reads (safe to repeat) are retried on answers that say "later": 503, 429 and a connection that
failed. A command is resent only when the server certainly did not act on it (the gate's 503
for maintenance or overload, a 429, a connection never made), and never once its expiry has
passed: an unlock must not happen late.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from pitstop.client._errors import retry_after_seconds

log = logging.getLogger("pitstop.client")

#: Status codes that mean "not now, try again later".
RETRY_STATUSES = frozenset({429, 503})
#: 503 causes given before a request is handled at all (the gate, the limiter).
NOT_HANDLED = frozenset({"server_maintenance", "overloaded"})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How a read is retried. All durations are in seconds.

    - `attempts`: tries in all, the first included (1 turns retrying off). Default 4.
    - `initial`: the backoff before the first retry; it doubles with each retry. Default 0.5.
    - `maximum`: the longest single wait. A server that asks (Retry-After) for longer than this
      is not waited for: the error is raised with its `retry_after`. Default 30.
    - `budget`: the most time one call may take, waits and tries together. Default 60.
    - `jitter`: wait a random part of the backoff ("full jitter"), so that clients which failed
      together do not come back together. Default True.
    """

    attempts: int = 4
    initial: float = 0.5
    maximum: float = 30.0
    budget: float = 60.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.initial < 0 or self.maximum < 0 or self.budget < 0:
            raise ValueError("initial, maximum and budget are seconds and cannot be negative")

    def backoff(self, retry: int) -> float:
        """The backoff before retry number `retry` (1 for the first retry), before jitter."""
        return min(self.maximum, self.initial * 2.0 ** (retry - 1))

    def delay(
        self, retry: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """How long to wait before retry number `retry`; None when it is not worth waiting.

        Retry-After is a floor: the wait is at least that, plus the jittered backoff, capped at
        `maximum` (but never below the floor). A floor above `maximum` means: give up now.
        """
        floor = retry_after or 0.0
        if floor > self.maximum:
            return None
        backoff = self.backoff(retry)
        extra = (rng or random).uniform(0, backoff) if self.jitter else backoff
        return max(floor, min(self.maximum, floor + extra))


#: The defaults: 4 tries, waits from 0.5 s doubling up to 30 s, 60 s in all, with jitter.
DEFAULT_RETRY = RetryPolicy()
#: Never retry: one try only.
NO_RETRY = RetryPolicy(attempts=1)

_testing = False
_testing_attempts: int | None = None


def set_testing(testing: bool, *, attempts: int | None = None) -> None:
    """In testing mode retries happen without waiting (and, with `attempts`, at most that many tries).

    For test suites of programs that use the client; the waits still count against the budget.
    """
    global _testing, _testing_attempts
    _testing = testing
    _testing_attempts = attempts if testing else None


def is_testing() -> bool:
    return _testing


@dataclass(frozen=True)
class RetryEvent:
    """One decision to retry: what failed, and how long the client will wait."""

    method: str
    url: str
    attempt: int  # the try that failed, from 1
    wait: float  # seconds until the next try
    reason: str  # e.g. "503 server_maintenance" or "ConnectError"


class RetryHook(Protocol):
    """Told about every retry, before the wait: for logs, metrics or a progress line."""

    def __call__(self, event: RetryEvent) -> None: ...


def log_retry(event: RetryEvent) -> None:
    """The default hook: one log line per retry."""
    log.info(
        "retrying %s %s in %.2f s after try %d failed: %s",
        event.method,
        event.url,
        event.wait,
        event.attempt,
        event.reason,
    )


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _reason(response: httpx.Response) -> str:
    return f"{response.status_code} {_error(response)}".strip()


def not_acted_on(response: httpx.Response | None, failure: Exception | None) -> bool:
    """True when the server certainly did nothing with the request, so resending is safe."""
    if response is None:
        return isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout)
    if response.status_code == 429:
        return True
    return response.status_code == 503 and _error(response) in NOT_HANDLED


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    method: str,
    url: str,
    policy: RetryPolicy,
    retryable: bool,
    expires_in: float | None = None,
    sleep: Sleep | None = None,
    on_retry: RetryHook | None = log_retry,
    rng: random.Random | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> httpx.Response:
    """Call `send` until it gives an answer worth returning, within `policy`.

    `retryable` requests (reads) are retried on any 503, 429 or transport failure. Others
    (commands) are resent only when `expires_in` (seconds from the first try) is given, the
    server did not act on the last try (`not_acted_on`), and the next try would start before
    the expiry.

    Returns the last response (which may still be a 503 or 429 when retries ran out); re-raises
    the last `httpx.TransportError` when the server could not be reached at all.
    """
    attempts = policy.attempts if retryable or expires_in is not None else 1
    if _testing and _testing_attempts is not None:
        attempts = min(attempts, _testing_attempts)
    started = monotonic()
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        response: httpx.Response | None = None
        failure: httpx.TransportError | None = None
        try:
            response = await send()
        except httpx.TransportError as exc:
            failure = exc
        if response is not None and response.status_code not in RETRY_STATUSES:
            return response
        if attempt >= attempts:
            break
        if not retryable and not not_acted_on(response, failure):
            break
        retry_after = retry_after_seconds(response) if response is not None else None
        wait = policy.delay(attempt, retry_after, rng)
        # Waits may be skipped (testing) or faked (a sleep hook): count them as spent anyway.
        elapsed = max(monotonic() - started, waited)
        if wait is None or elapsed + wait > policy.budget:
            break
        if not retryable and expires_in is not None and elapsed + wait >= expires_in:
            break
        if on_retry is not None:
            reason = _reason(response) if response is not None else type(failure).__name__
            on_retry(RetryEvent(method, url, attempt, wait, reason))
        waited += wait
        if not _testing:
            await (sleep or asyncio.sleep)(wait)
    if response is not None:
        return response
    assert failure is not None
    raise failure
