"""Where later features plug into the appointment book.

The routes call these after every change that was committed, so the features below need no
change to booking itself:

- Reminders, the day before and an hour before, are service/reminders.py: a loop on the
  injectable clock; its `ReminderHooks` (this class, with `booked`/`rescheduled` waking that
  loop) is what create_app installs. `booked`/`rescheduled`/`cancelled` are also where a
  confirmation would be sent.
- "Service due" is decided by the vehicle alerts' rules (alerts/rules.py): the alert
  `alert.service_due` links to the app's booking screen, and the app asks `GET /api/1/service/due`
  (service/due.py) to suggest booking on the car's card. `suggest_service(vehicle_id, reason)`
  stays free for anything else that should hear of it.
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
