"""Where later features plug into the appointment book. Nothing here acts yet.

The routes call these after every change that was committed, so the features below need no
change to booking itself:

- Reminders, the day before and an hour before, through the notification center:
  `rt.notify.notifier.notify(key=f"service:{a.id}:{a.starts_at:%Y%m%dT%H%M}:day-before",
  topic="service", user_ids=[a.owner_id], subject=..., text=...)`, sent by a loop that wakes on
  the injectable clock and looks for booked appointments whose reminder time has come. The key
  carries the start time, so a rescheduled appointment is reminded again for its new time and a
  key seen twice (two server processes) is one message; a cancelled one simply no longer matches.
  `booked`/`rescheduled`/`cancelled` are where a confirmation would be sent.
- "Service due": when a car reports a fault or its service interval (fleet telemetry), the app
  and a notification suggest booking; `suggest_service(vehicle_id, reason)` is that entry point.
"""

from __future__ import annotations

from datetime import datetime

from pitstop.service.appointments import Appointment


class ServiceHooks:
    """Called after committed changes; every method is a no-op until reminders are built."""

    async def booked(self, appointment: Appointment) -> None:
        return None

    async def rescheduled(self, appointment: Appointment, previous_start: datetime) -> None:
        return None

    async def cancelled(self, appointment: Appointment) -> None:
        return None

    async def suggest_service(self, vehicle_id: int, reason: str) -> None:
        return None
