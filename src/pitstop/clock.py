"""The injectable clock.

All domain time (token expiry, sleep timers, command expiry, window ends) goes through a
`Clock`, so tests move time forward instead of sleeping, and the simulator can run hours
of driving in minutes through a `ScaledClock`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where time comes from."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def timestamp(self) -> float:
        """The current time in seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait for `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when a test says so.

    `advance()` wakes every `sleep()` whose deadline has been reached, in deadline order, and
    lets the woken tasks run before it returns.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def timestamp(self) -> float:
        return self._now.timestamp()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self._now + timedelta(seconds=seconds)
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking sleepers along the way."""
        target = self._now + timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            # Let the woken task run (and perhaps sleep again) before moving on.
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(5):
            await asyncio.sleep(0)

    def set(self, when: datetime) -> None:
        """Jump to `when` without waking anyone (for setting up a scene)."""
        self._now = when


class ScaledClock:
    """Time that runs `factor` times faster than `base`, from the moment it was made.

    The simulator uses it so that an hour of charging takes a minute of wall time.
    """

    def __init__(self, base: Clock, factor: float, *, origin: datetime | None = None) -> None:
        if factor <= 0:
            raise ValueError("time-scale factor must be positive")
        self.base = base
        self.factor = factor
        self._base_origin = base.timestamp()
        self._origin = (origin or base.now()).timestamp()

    def timestamp(self) -> float:
        return self._origin + (self.base.timestamp() - self._base_origin) * self.factor

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds / self.factor)


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Wait `seconds` of `clock` time, or less if `wake` is set (at once if it is already);
    then clear `wake`. For loops that poll on the clock and can be poked."""
    if not wake.is_set():
        sleeper = asyncio.ensure_future(clock.sleep(seconds))
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Not awaited: awaiting them here could swallow the caller's own cancellation,
            # and a loop that cannot be stopped hangs the server's shutdown.
            sleeper.cancel()
            waker.cancel()
    wake.clear()


def to_millis(when: datetime) -> int:
    """Tesla's timestamps: milliseconds since the epoch."""
    return int(when.timestamp() * 1000)
