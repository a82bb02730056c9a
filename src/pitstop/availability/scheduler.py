"""Starts and finishes windows on time, in every process; the store makes sure only one acts."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from pitstop.availability import windows as w
from pitstop.availability.state import MaintenanceState
from pitstop.availability.store import WindowStore
from pitstop.clock import Clock

log = logging.getLogger(__name__)


class WindowScheduler:
    def __init__(
        self, state: MaintenanceState, store: WindowStore, clock: Clock, *, tick: float = 0.5
    ) -> None:
        """`tick` (clock seconds) bounds how late a transition can be."""
        self.state = state
        self.store = store
        self.clock = clock
        self.tick = tick

    async def run_once(self, now: datetime | None = None) -> int:
        """Make every transition that is due; returns how many this process made."""
        now = now or self.clock.now()
        made = 0
        for window in self.state.snapshot.windows:
            try:
                if window.status == w.SCHEDULED and window.starts_at <= now:
                    done = await self.store.start(window.id, "scheduler", due_by=now)
                elif (
                    window.status == w.IN_PROGRESS
                    and window.auto_finish
                    and window.expected_end <= now
                ):
                    done = await self.store.finish(window.id, "scheduler", due_by=now)
                else:
                    continue
            except w.WindowError:
                continue  # another process moved it on between our snapshot and now
            if done is not None:
                made += 1
                log.info("window %s is now %s", window.id, done.status)
        return made

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.tick)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("maintenance scheduler could not act (will retry): %s", exc)
