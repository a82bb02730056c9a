"""The health monitor: checks the service's dependencies, and opens and resolves incidents.

A check that keeps failing for `open_after` seconds opens an incident (the status page shows
an outage by itself); the first passing check resolves it. Each process monitors on its own
and shows what it saw at once; the incident store merges what several processes saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.availability.windows import WHOLE_SERVICE
from pitstop.clock import Clock
from pitstop.status.incidents import OUTAGE, Incident, IncidentStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probe:
    """One dependency to check: `check` raises (or times out) when it is unhealthy."""

    cause: str
    title: str  # what the status page says while it fails
    components: tuple[str, ...]
    check: Callable[[], Awaitable[None]]
    timeout: float = 3.0


class IncidentHook(Protocol):
    """Told when this process opens or resolves an incident (e.g. to tell subscribers)."""

    async def __call__(self, incident: Incident) -> None: ...


def database_probe(engine: AsyncEngine) -> Probe:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    return Probe(
        cause="database",
        title="Pitstop's database is not answering",
        components=tuple(sorted(WHOLE_SERVICE)),
        check=check,
    )


class HealthMonitor:
    def __init__(
        self,
        probes: Sequence[Probe],
        store: IncidentStore,
        clock: Clock,
        *,
        interval: float = 5.0,
        open_after: float = 60.0,
        on_change: IncidentHook | None = None,
    ) -> None:
        self.probes = list(probes)
        self.store = store
        self.clock = clock
        self.interval = interval
        self.open_after = open_after
        self.on_change = on_change
        self._failing_since: dict[str, datetime] = {}
        self._open: dict[str, Incident] = {}
        self._unwritten: list[Incident] = []

    def open_incidents(self) -> list[Incident]:
        """What this process sees failing now (written to the database or not yet)."""
        return list(self._open.values())

    async def check_once(self) -> None:
        for probe in self.probes:
            healthy = await self._healthy(probe)
            now = self.clock.now()
            if healthy:
                self._failing_since.pop(probe.cause, None)
                opened = self._open.pop(probe.cause, None)
                if opened is not None:
                    await self._changed(msgspec.structs.replace(opened, resolved_at=now))
                continue
            since = self._failing_since.setdefault(probe.cause, now)
            if probe.cause not in self._open and (now - since).total_seconds() >= self.open_after:
                incident = Incident(
                    cause=probe.cause,
                    title=probe.title,
                    components=probe.components,
                    impact=OUTAGE,
                    started_at=since,
                )
                self._open[probe.cause] = incident
                await self._changed(incident)
        await self._write()

    async def run(self) -> None:
        while True:
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("health check failed unexpectedly")
            await self.clock.sleep(self.interval)

    async def _healthy(self, probe: Probe) -> bool:
        try:
            async with asyncio.timeout(probe.timeout):
                await probe.check()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("health check %s failing: %s", probe.cause, exc)
            return False
        return True

    async def _changed(self, incident: Incident) -> None:
        log.warning(
            "incident %s: %s", "resolved" if incident.resolved_at else "opened", incident.title
        )
        self._unwritten.append(incident)
        if self.on_change is not None:
            try:
                await self.on_change(incident)
            except Exception:
                log.exception("the incident hook failed for %s", incident.cause)

    async def _write(self) -> None:
        """Write what happened, in order, as soon as the database takes it."""
        while self._unwritten:
            try:
                written = await self.store.record(self._unwritten[0])
            except Exception as exc:
                log.info("incident not written yet (%s); will retry", exc)
                return
            self._unwritten.pop(0)
            if written.cause in self._open and written.resolved_at is None:
                self._open[written.cause] = written
