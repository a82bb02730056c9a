"""The in-memory copy of maintenance state that the gate reads with no I/O per request.

Each process keeps it fresh by polling the database and, where configured, by a change feed;
the copy is replaced whole, so a reader never sees half an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from pitstop.availability import windows as w
from pitstop.availability.changes import ChangeFeed, NoFeed
from pitstop.availability.store import WindowStore
from pitstop.availability.windows import MaintenanceWindow
from pitstop.clock import Clock

log = logging.getLogger(__name__)

#: How far ahead responses announce a window (`Pitstop-Maintenance-Next`).
NOTICE_HORIZON = timedelta(hours=72)


@dataclass(frozen=True)
class Snapshot:
    windows: tuple[MaintenanceWindow, ...] = ()
    #: component -> the window in progress that covers it (full mode wins over read-only).
    closed: dict[str, MaintenanceWindow] = field(default_factory=dict)
    #: component -> the soonest scheduled window that covers it.
    upcoming: dict[str, MaintenanceWindow] = field(default_factory=dict)

    @classmethod
    def of(cls, windows: list[MaintenanceWindow]) -> Snapshot:
        closed: dict[str, MaintenanceWindow] = {}
        upcoming: dict[str, MaintenanceWindow] = {}
        for window in sorted(windows, key=lambda x: (x.mode != "full", x.starts_at)):
            target = closed if window.status == w.IN_PROGRESS else upcoming
            if window.status not in w.ACTIVE:
                continue
            for component in window.scope:
                target.setdefault(component, window)
        return cls(tuple(windows), closed, upcoming)


class MaintenanceState:
    def __init__(
        self,
        store: WindowStore,
        clock: Clock,
        *,
        feed: ChangeFeed | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.feed = feed or NoFeed()
        self.poll_interval = poll_interval
        self.snapshot = Snapshot()
        self.loaded_at: datetime | None = None
        self._fingerprint: tuple[int, int] | None = None
        self._wake = asyncio.Event()
        #: Set by `poke`: the next refresh re-reads the windows without first asking whether
        #: anything changed (the poke says so).
        self._poked = False
        self._changed = asyncio.Event()
        #: While `run` runs: a connection of its own for the reads, kept open in autocommit,
        #: and the lock that keeps those reads one at a time.
        self._reader: AsyncConnection | None = None
        self._reading = asyncio.Lock()

    # --- what the gate asks --------------------------------------------------------------

    def closing(self, component: str) -> MaintenanceWindow | None:
        return self.snapshot.closed.get(component)

    def notice(self, component: str, now: datetime) -> MaintenanceWindow | None:
        window = self.snapshot.upcoming.get(component)
        if window is not None and window.starts_at - now <= NOTICE_HORIZON:
            return window
        return None

    def window(self, window_id: int) -> MaintenanceWindow | None:
        return next((x for x in self.snapshot.windows if x.id == window_id), None)

    # --- keeping it fresh ----------------------------------------------------------------

    async def refresh(self, *, force: bool = True) -> bool:
        """Re-read the windows; returns True if anything changed (or was forced).

        Unforced (a poll), the fingerprint is read first and the windows only if it moved.
        Forced (this process changed something, or a feed said another did), the windows are
        read at once: the change is known, and a round trip saved is latency saved on its way
        to every process; the fingerprint is left unknown, so the next poll reads the windows
        once more and takes it."""
        async with self._reading:
            conn = self._reader
            try:
                if force:
                    fingerprint = None
                else:
                    fingerprint = await self.store.fingerprint(conn)
                    if fingerprint == self._fingerprint:
                        return False
                windows = await self.store.active(conn)
            except BaseException:
                if conn is not None:  # whatever broke, the next read starts on a fresh one
                    self._reader = None
                    await _discard(conn)
                raise
            self.snapshot = Snapshot.of(windows)
            self._fingerprint = fingerprint
        self.loaded_at = self.clock.now()
        self._changed.set()
        self._changed = asyncio.Event()
        return True

    def poke(self) -> None:
        """Something changed somewhere: refresh now rather than at the next poll."""
        self._poked = True
        self._wake.set()

    async def changed(self) -> None:
        """Wait for the next refresh that changed something (for tests and the scheduler)."""
        await self._changed.wait()

    async def publish(self) -> None:
        """After a local change: refresh here and tell the other processes, both at once (the
        others need not wait for this process's re-read)."""
        await asyncio.gather(self.refresh(), self.feed.publish())

    async def run(self) -> None:
        """Poll and listen until cancelled; a failing database is retried, never fatal.

        Meanwhile every refresh reads on one connection kept open in autocommit: on PostgreSQL
        a connection from the pool costs a ping (three round trips) and a read in a transaction
        a BEGIN and a ROLLBACK, which made re-reading the windows after a feed's message take
        about 13 round trips instead of 2 (bench/propagation.py)."""
        listener = asyncio.create_task(self.feed.listen(self.poke), name="maintenance-feed")
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                self._wake.clear()
                forced, self._poked = self._poked, False
                try:
                    if self._reader is None:
                        self._reader = await self._open_reader()
                    await self.refresh(force=forced)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("maintenance state refresh failed; keeping the last copy: %s", exc)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            reader, self._reader = self._reader, None
            if reader is not None:
                await _discard(reader)

    async def _open_reader(self) -> AsyncConnection:
        conn = await self.store.engine.connect()
        try:
            return await conn.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            await _discard(conn)
            raise


async def _discard(conn: AsyncConnection) -> None:
    """Give a reader back (invalidated: it may be broken), whatever state it is in."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()
