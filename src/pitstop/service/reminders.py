"""Service appointment reminders: the day before and an hour before, through the notification
center, on the injectable clock (like the maintenance announcer).

Each pass looks for booked appointments starting within the longest lead and enqueues the
reminder whose time has come, under the key `service:<id>:<start>:<lead>`. The start (UTC) in
the key means a rescheduled appointment is reminded again for its new time; the outbox refuses
a key it has, so with several processes, or after a crash, each reminder is sent once. A
cancelled appointment no longer matches. As for maintenance, a reminder whose time had passed
when the appointment got its start (booked or rescheduled) is skipped, and of several due at
once only the nearest to the start is sent (no "tomorrow" half an hour before).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.clock import Clock, sleep_or_wake
from pitstop.db.tables import notifications, service_appointments
from pitstop.fleet.registry import Registry
from pitstop.notify.notifier import Notifier
from pitstop.notify.topics import SERVICE_REMINDER
from pitstop.service.appointments import BOOKED, Appointment, _appointment
from pitstop.service.centers import CenterNotFound, Centers
from pitstop.service.hooks import ServiceHooks

log = logging.getLogger(__name__)

TEMPLATE = "service_reminder"


@dataclass(frozen=True)
class Lead:
    name: str  # in the key
    before: timedelta
    words: str  # "tomorrow", "in an hour"


LEADS = (
    Lead("day-before", timedelta(hours=24), "tomorrow"),
    Lead("hour-before", timedelta(hours=1), "in an hour"),
)


def reminder_key(appointment: Appointment, lead: Lead) -> str:
    return f"service:{appointment.id}:{appointment.starts_at:%Y%m%dT%H%M}:{lead.name}"


def due_lead(now: datetime, appointment: Appointment, leads: Sequence[Lead] = LEADS) -> Lead | None:
    """The reminder due now for `appointment`: the nearest to its start among those whose time
    has come and had not come yet when the appointment got this start."""
    if appointment.status != BOOKED or now >= appointment.starts_at:
        return None
    since = appointment.updated_at  # booked or last rescheduled
    due = [
        lead
        for lead in leads
        if appointment.starts_at - lead.before <= now
        and since < appointment.starts_at - lead.before
    ]
    return min(due, key=lambda lead: lead.before) if due else None


class ServiceReminders:
    def __init__(
        self,
        engine: AsyncEngine,
        notifier: Notifier,
        centers: Centers,
        registry: Registry,
        clock: Clock,
        *,
        base_url: Callable[[], str],
        interval: float = 15.0,
        leads: Sequence[Lead] = LEADS,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.centers = centers
        self.registry = registry
        self.clock = clock
        self.base_url = base_url
        self.interval = interval
        self.leads = tuple(leads)
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """An appointment changed: look now rather than at the next pass."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.remind_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: try again next pass
                log.warning("service reminders postponed: %s", exc)
            await sleep_or_wake(self.clock, self.interval, self._wake)

    async def _upcoming(self, now: datetime) -> list[Appointment]:
        longest = max(lead.before for lead in self.leads)
        t = service_appointments.c
        query = (
            sa.select(service_appointments)
            .where(t.status == BOOKED, t.starts_at > now, t.starts_at <= now + longest)
            .order_by(t.starts_at, t.id)
        )
        async with self.engine.connect() as conn:
            return [_appointment(r) for r in (await conn.execute(query)).all()]

    async def remind_due(self) -> int:
        """Enqueue every reminder due and not yet enqueued; returns how many were new."""
        now = self.clock.now()
        steps = [
            (reminder_key(a, lead), a, lead)
            for a in await self._upcoming(now)
            if (lead := due_lead(now, a, self.leads)) is not None
        ]
        if not steps:
            return 0
        async with self.engine.connect() as conn:
            known = set(
                (
                    await conn.execute(
                        sa.select(notifications.c.key).where(
                            notifications.c.key.in_([key for key, _, _ in steps])
                        )
                    )
                ).scalars()
            )
        sent = 0
        for key, appointment, lead in steps:
            if key in known:
                continue
            data = await self._data(appointment, lead)
            result = await self.notifier.notify(
                key=key,
                topic=SERVICE_REMINDER,
                user_ids=[appointment.owner_id],
                template=TEMPLATE,
                data=data,
            )
            sent += 0 if result.duplicate else 1
        return sent

    async def _data(self, appointment: Appointment, lead: Lead) -> dict[str, Any]:
        vehicle = await self.registry.get(appointment.vehicle_id)
        try:
            center = await self.centers.get(appointment.center_id)
            center_name, address, zone = center.name, center.address, center.timezone
        except CenterNotFound:
            center_name, address, zone = "the service center", "", "UTC"
        base = self.base_url().rstrip("/")
        return {
            "appointment_id": appointment.id,
            "lead": lead.name,
            "lead_words": lead.words,
            "starts_at": appointment.starts_at.isoformat(),
            "ends_at": appointment.ends_at.isoformat(),
            "center_name": center_name,
            "center_address": address,
            "center_timezone": zone,
            "vehicle_name": vehicle.display_name if vehicle else "your car",
            "vin": vehicle.vin if vehicle else "",
            "description": appointment.description,
            "app_url": f"{base}/app",
        }


class ReminderHooks(ServiceHooks):
    """The service desk's hooks, telling the reminder loop at once when the book changes (a
    booking an hour ahead is reminded now, not at the next pass)."""

    def __init__(self, reminders: ServiceReminders) -> None:
        self.reminders = reminders

    async def booked(self, appointment: Appointment) -> None:
        self.reminders.poke()

    async def rescheduled(self, appointment: Appointment, previous_start: datetime) -> None:
        self.reminders.poke()
