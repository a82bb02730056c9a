"""Maintenance announcements: owners hear of a window before, during and after it.

When a window is scheduled, subscribers of its components are told (title, the reason in plain
words, what will not work and what keeps working, start and expected end in their own time,
a calendar link); then reminders before it starts (72 h, 24 h and 1 h by default; one whose
time had passed when the window was created is skipped), and a message when it starts, is
extended or updated, is finished ("back online") and is cancelled.

The announcer does not hook into the transitions: it reads each window's timeline (which the
store writes in the same transaction as the change) and enqueues whatever has not been
enqueued yet, under an idempotency key per step. So a crash between a change and its
announcement loses nothing (the next pass catches up), and with several processes each step
is still sent once (the outbox refuses a key it has).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.availability.store import WindowStore
from pitstop.availability.windows import (
    COMPONENTS,
    SCHEDULED,
    WHOLE_SERVICE,
    MaintenanceWindow,
    iso,
)
from pitstop.clock import Clock, sleep_or_wake
from pitstop.db.tables import notifications, users
from pitstop.notify.notifier import Notifier
from pitstop.notify.topics import maintenance_topic
from pitstop.status.incidents import Incident, IncidentStore
from pitstop.status.subscribers import Subscribers

log = logging.getLogger(__name__)

#: Timeline kinds owners are told about, and the event they become.
EVENTS = {
    "scheduled": "scheduled",
    "started": "started",
    "extended": "extended",
    "updated": "updated",
    "finished": "completed",
    "cancelled": "cancelled",
}
TEMPLATE = "maintenance"
#: Steps older than this are not announced any more (e.g. windows from before this feature).
LOOKBACK = timedelta(hours=24)


def _words(components: Sequence[str]) -> list[str]:
    return [COMPONENTS[c] for c in components if c in COMPONENTS]


def window_data(
    window: MaintenanceWindow, *, event: str, status_url: str, message: str = "", lead: str = ""
) -> dict[str, Any]:
    """What the templates say about `window` (times as ISO; each recipient reads them local)."""
    scope = sorted(window.scope)
    if window.mode == "read_only":
        keeps = ["reading your cars' data and their last-known state"]
    else:
        keeps = _words(sorted(WHOLE_SERVICE - window.scope))
    return {
        "event": event,
        "id": window.id,
        "title": window.title,
        "reason": window.reason,
        "reason_text": window.reason_text,
        "description": window.description,
        "whole_service": window.whole_service,
        "affected": _words(scope) if not window.whole_service else ["all of Pitstop"],
        "keeps_working": keeps,
        "mode": window.mode,
        "starts_at": iso(window.starts_at),
        "expected_end": iso(window.expected_end),
        "duration_minutes": round((window.expected_end - window.starts_at).total_seconds() / 60),
        "message": message,
        "lead": lead,
        "status_url": status_url,
        "calendar_url": f"{status_url}/maintenance/{window.id}.ics",
    }


def parse_reminders(text: str) -> tuple[float, ...]:
    """`"72,24,1"` (hours before the start) as numbers; an empty text means no reminders."""
    try:
        hours = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"maintenance_reminders must be hours like 72,24,1; got {text!r}"
        ) from None
    if any(h <= 0 for h in hours):
        raise ValueError(f"maintenance_reminders must be positive hours; got {text!r}")
    return hours


def _lead_words(hours: float) -> str:
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return "tomorrow" if days == 1 else f"in {days} days"
    if hours >= 1:
        return f"in {hours:g} hour{'s' if hours != 1 else ''}"
    return f"in {round(hours * 60)} minutes"


class MaintenanceAnnouncer:
    def __init__(
        self,
        windows: WindowStore,
        notifier: Notifier,
        engine: AsyncEngine,
        clock: Clock,
        *,
        base_url: Callable[[], str],
        reminders: Sequence[float] = (72, 24, 1),
        interval: float = 15.0,
        subscribers: Subscribers | None = None,
        incidents: IncidentStore | None = None,
    ) -> None:
        self.windows = windows
        self.notifier = notifier
        self.engine = engine
        self.clock = clock
        #: Where the server is reachable (its public URL), read when a message is made.
        self.base_url = base_url
        self.reminders = sorted(reminders, reverse=True)  # hours before the start
        self.interval = interval
        #: Status page subscribers (addresses, not users) hear of what touches what they follow.
        self.subscribers = subscribers
        #: Incidents the health monitor wrote down: announced once the database has them.
        self.incidents = incidents
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Maintenance changed: announce now rather than at the next pass."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.announce_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: try again next pass
                log.warning("maintenance announcements postponed: %s", exc)
            await sleep_or_wake(self.clock, self.interval, self._wake)

    def due(
        self, now: datetime, windows: Sequence[MaintenanceWindow]
    ) -> list[tuple[str, MaintenanceWindow, dict[str, Any]]]:
        """(key, window, template data) for every step that should have been announced by `now`."""
        steps: list[tuple[str, MaintenanceWindow, dict[str, Any]]] = []
        status_url = f"{self.base_url().rstrip('/')}/status"
        for window in windows:
            for i, update in enumerate(window.updates):
                event = EVENTS.get(update.kind)
                if event is None or update.at < now - LOOKBACK:
                    continue
                data = window_data(
                    window, event=event, status_url=status_url, message=update.message
                )
                steps.append((f"maintenance:{window.id}:{i}:{update.kind}", window, data))
            reminder = self._reminder(now, window)
            if reminder is not None:
                hours = reminder
                key = f"maintenance:{window.id}:reminder:{hours:g}h:{int(window.starts_at.timestamp())}"
                data = window_data(
                    window, event="reminder", status_url=status_url, lead=_lead_words(hours)
                )
                steps.append((key, window, data))
        return steps

    def _reminder(self, now: datetime, window: MaintenanceWindow) -> float | None:
        """The reminder due now for `window`, if any: the nearest to the start among those whose
        time has come (an older one not sent in time is not worth sending any more)."""
        if window.status != SCHEDULED or now >= window.starts_at:
            return None
        created = window.created_at or now
        due = [
            hours
            for hours in self.reminders
            if window.starts_at - timedelta(hours=hours) <= now
            and created < window.starts_at - timedelta(hours=hours)
        ]
        return min(due) if due else None

    def incident_steps(
        self, now: datetime, found: Sequence[Incident]
    ) -> list[tuple[str, Incident, dict[str, Any]]]:
        """(key, incident, template data) for each incident opened or resolved lately."""
        status_url = f"{self.base_url().rstrip('/')}/status"
        steps: list[tuple[str, Incident, dict[str, Any]]] = []
        for incident in found:
            if incident.id is None:
                continue
            data = {
                "title": incident.title,
                "affected": _words(incident.components),
                "started_at": iso(incident.started_at),
                "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
                "status_url": status_url,
            }
            if incident.started_at >= now - LOOKBACK and incident.resolved_at is None:
                steps.append(
                    (f"incident:{incident.id}:opened", incident, data | {"event": "opened"})
                )
            if incident.resolved_at is not None and incident.resolved_at >= now - LOOKBACK:
                steps.append(
                    (f"incident:{incident.id}:resolved", incident, data | {"event": "resolved"})
                )
        return steps

    async def announce_due(self) -> int:
        """Enqueue every announcement due and not yet enqueued; returns how many were new."""
        now = self.clock.now()
        windows = await self.windows.find(ended_after=now - LOOKBACK)
        steps: list[tuple[str, Sequence[str], str, dict[str, Any]]] = [
            (key, sorted(window.scope), TEMPLATE, data)
            for key, window, data in self.due(now, windows)
        ]
        if self.incidents is not None:
            found = await self.incidents.find(since=now - LOOKBACK)
            steps += [
                (key, sorted(incident.components), "incident", data)
                for key, incident, data in self.incident_steps(now, found)
            ]
        if not steps:
            return 0
        async with self.engine.connect() as conn:
            known = set(
                (
                    await conn.execute(
                        sa.select(notifications.c.key).where(
                            notifications.c.key.in_([step[0] for step in steps])
                        )
                    )
                ).scalars()
            )
            missing = [step for step in steps if step[0] not in known]
            if not missing:
                return 0
            everyone = list((await conn.execute(sa.select(users.c.id))).scalars())
        sent = 0
        for key, components, template, data in missing:
            topics = [maintenance_topic(c) for c in components]
            addresses = (
                await self.subscribers.following(components) if self.subscribers is not None else []
            )
            result = await self.notifier.notify(
                key=key,
                topic=topics[0],
                also_topics=topics[1:],
                user_ids=everyone,
                addresses=addresses,
                template=template,
                data=data,
            )
            sent += 0 if result.duplicate else 1
        return sent
