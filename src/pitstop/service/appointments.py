"""Appointments: booking, rescheduling and cancelling a slot, with the slot's capacity kept by
the database itself.

Capacity: a booked appointment holds one row of `service_bays`, keyed by (center, slot start,
bay number), bay numbers running from 0 to the center's capacity - 1. Booking inserts that row
with `INSERT ... ON CONFLICT DO NOTHING`, trying bay 0, 1, ... in turn; a slot whose bays are
all taken inserts nothing and the booking is rolled back. The primary key decides, not a count
read in Python, so two requests on two server processes can never take the same bay: on
PostgreSQL the second insert waits for the first transaction and then finds the key taken; on
SQLite writers queue on the database lock. The same table's unique (vehicle, slot start) keeps
a car from holding two bays at once.

Each write transaction begins with a write (so SQLite takes its lock first and never has to
upgrade a read snapshot), and checks the appointment's state in the same UPDATE that changes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.clock import Clock
from pitstop.db.engine import is_postgres
from pitstop.db.tables import service_appointments, service_bays
from pitstop.service.centers import Center
from pitstop.service.errors import ServiceError, conflict, not_found
from pitstop.service.hours import is_slot, local_day_bounds, slots_between

BOOKED, CANCELLED = "booked", "cancelled"

#: How far ahead a slot can be booked.
HORIZON = timedelta(days=180)
DESCRIPTION_MAX = 2000


class Appointment(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    center_id: int
    vehicle_id: int
    owner_id: int
    starts_at: datetime
    ends_at: datetime
    description: str
    status: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    starts_at: datetime
    ends_at: datetime
    capacity: int
    free: int


class Full(ServiceError):
    """Every bay of the slot is taken."""


def _appointment(row: sa.Row[Any]) -> Appointment:
    return Appointment(
        id=row.id,
        center_id=row.center_id,
        vehicle_id=row.vehicle_id,
        owner_id=row.owner_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        description=row.description,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
    )


def check_description(text: str) -> str:
    text = text.strip()
    if not text:
        raise ServiceError("Describe the problem, so the center can prepare.", "description")
    if len(text) > DESCRIPTION_MAX:
        raise ServiceError(
            f"The description is longer than {DESCRIPTION_MAX} characters.", "description"
        )
    return text


class Appointments:
    """The appointment book of every center."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    # --- reading ------------------------------------------------------------------------------

    async def get(self, appointment_id: int) -> Appointment:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(service_appointments).where(
                        service_appointments.c.id == appointment_id
                    )
                )
            ).first()
        if row is None:
            raise not_found(f"There is no appointment {appointment_id}.")
        return _appointment(row)

    async def of_owner(self, owner_id: int, *, everything: bool = False) -> list[Appointment]:
        """An owner's appointments, soonest first: those still ahead, or `everything`."""
        t = service_appointments.c
        query = sa.select(service_appointments).where(t.owner_id == owner_id)
        if not everything:
            query = query.where(t.status == BOOKED, t.ends_at > self.clock.now())
        return await self._select(query.order_by(t.starts_at, t.id))

    async def of_day(
        self, centers: Sequence[Center], day: date | None, *, everything: bool = False
    ) -> list[Appointment]:
        """The appointments of local `day` (default: today there) at each of `centers`."""
        t = service_appointments.c
        found: list[Appointment] = []
        for center in centers:
            local_day = day or self.clock.now().astimezone(center.tz).date()
            start, end = local_day_bounds(local_day, center.tz)
            query = sa.select(service_appointments).where(
                t.center_id == center.id, t.starts_at >= start, t.starts_at < end
            )
            if not everything:
                query = query.where(t.status == BOOKED)
            found += await self._select(query.order_by(t.starts_at, t.id))
        return sorted(found, key=lambda a: (a.starts_at, a.center_id, a.id))

    async def _select(self, query: sa.Select[Any]) -> list[Appointment]:
        async with self.engine.connect() as conn:
            return [_appointment(r) for r in (await conn.execute(query)).all()]

    async def free_slots(
        self, center: Center, first: date, days: int, *, vehicle_id: int | None = None
    ) -> list[Slot]:
        """Slots of `days` local days from `first` that can still be booked: ahead (within the
        horizon), with a free bay, and (given `vehicle_id`) not already holding that car."""
        now = self.clock.now()
        starts = [
            s
            for s in slots_between(first, days, center.hours, center.slot_minutes, center.tz)
            if now < s <= now + HORIZON
        ]
        if not starts:
            return []
        b = service_bays.c
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        b.starts_at,
                        sa.func.count(),
                        sa.func.max(sa.case((b.vehicle_id == (vehicle_id or -1), 1), else_=0)),
                    )
                    .where(
                        b.center_id == center.id,
                        b.starts_at >= starts[0],
                        b.starts_at <= starts[-1],
                    )
                    .group_by(b.starts_at)
                )
            ).all()
        taken = {r[0]: (int(r[1]), bool(r[2])) for r in rows}
        length = timedelta(minutes=center.slot_minutes)
        slots = []
        for start in starts:
            used, mine = taken.get(start, (0, False))
            free = center.capacity - used
            if free > 0 and not mine:
                slots.append(
                    Slot(
                        starts_at=start, ends_at=start + length, capacity=center.capacity, free=free
                    )
                )
        return slots

    # --- checks -------------------------------------------------------------------------------

    def check_slot(self, center: Center, starts_at: datetime) -> datetime:
        """`starts_at` as a bookable slot start of `center`, or a ServiceError saying why not."""
        if starts_at.tzinfo is None:
            raise ServiceError(
                "Give the time with its offset, e.g. 2026-12-01T09:00:00+01:00.", "starts_at"
            )
        starts_at = starts_at.astimezone(UTC)
        now = self.clock.now()
        if not center.active:
            raise conflict(f"{center.name} takes no bookings at the moment.", "center_id")
        if starts_at <= now:
            raise ServiceError(
                "That slot is in the past: pick one that is still ahead.", "starts_at"
            )
        if starts_at > now + HORIZON:
            raise ServiceError(f"Slots can be booked up to {HORIZON.days} days ahead.", "starts_at")
        if not is_slot(starts_at, center.hours, center.slot_minutes, center.tz):
            local = starts_at.astimezone(center.tz)
            raise ServiceError(
                f"{center.name} has no slot starting at {local:%a %d %b %Y %H:%M} {local.tzname()} "
                "(outside its opening hours or not on its slot grid); list the free slots first.",
                "starts_at",
            )
        return starts_at

    # --- writing ------------------------------------------------------------------------------

    async def _take_bay(
        self,
        conn: AsyncConnection,
        center: Center,
        starts_at: datetime,
        appointment_id: int,
        vehicle_id: int,
    ) -> None:
        """Take the first free bay of the slot inside `conn`'s transaction, or raise Full."""
        dialect: Any = postgresql if is_postgres(conn) else sqlite
        for bay in range(center.capacity):
            stmt = (
                dialect.insert(service_bays)
                .values(
                    center_id=center.id,
                    starts_at=starts_at,
                    bay=bay,
                    appointment_id=appointment_id,
                    vehicle_id=vehicle_id,
                )
                .on_conflict_do_nothing()
            )
            if (await conn.execute(stmt)).rowcount == 1:
                return
        b = service_bays.c
        same_car = await conn.scalar(
            sa.select(b.appointment_id).where(b.vehicle_id == vehicle_id, b.starts_at == starts_at)
        )
        if same_car is not None and same_car != appointment_id:
            raise conflict(
                f"This car already has an appointment at that time (appointment {same_car}).",
                error="already_booked",
            )
        local = starts_at.astimezone(center.tz)
        raise Full(
            f"The {local:%H:%M} slot on {local:%a %d %b} at {center.name} is fully booked: "
            "pick another one.",
            "starts_at",
            status=409,
            error="slot_full",
        )

    async def book(
        self,
        center: Center,
        *,
        vehicle_id: int,
        owner_id: int,
        starts_at: datetime,
        description: str,
    ) -> Appointment:
        starts_at = self.check_slot(center, starts_at)
        description = check_description(description)
        now = self.clock.now()
        async with self.engine.begin() as conn:
            appointment_id = await conn.scalar(
                service_appointments.insert()
                .values(
                    center_id=center.id,
                    vehicle_id=vehicle_id,
                    owner_id=owner_id,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=center.slot_minutes),
                    description=description,
                    status=BOOKED,
                    created_at=now,
                    updated_at=now,
                )
                .returning(service_appointments.c.id)
            )
            assert appointment_id is not None
            await self._take_bay(conn, center, starts_at, int(appointment_id), vehicle_id)
        return await self.get(int(appointment_id))

    def _check_changeable(self, appointment: Appointment, verb: str) -> None:
        if appointment.status != BOOKED:
            raise conflict(
                f"Appointment {appointment.id} is {appointment.status}: it cannot be {verb}.", "id"
            )
        if appointment.starts_at <= self.clock.now():
            raise conflict(
                f"Appointment {appointment.id} has already begun: it cannot be {verb}.", "id"
            )

    async def reschedule(
        self, appointment: Appointment, center: Center, starts_at: datetime
    ) -> Appointment:
        """Move to another slot of the same center: the old bay is freed only if a new one was taken."""
        self._check_changeable(appointment, "rescheduled")
        starts_at = self.check_slot(center, starts_at)
        if starts_at == appointment.starts_at:
            raise ServiceError("The appointment is already at that time.", "starts_at")
        t = service_appointments.c
        async with self.engine.begin() as conn:
            moved = await conn.execute(
                service_appointments.update()
                .where(
                    t.id == appointment.id, t.status == BOOKED, t.starts_at == appointment.starts_at
                )
                .values(
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=center.slot_minutes),
                    updated_at=self.clock.now(),
                )
            )
            if moved.rowcount != 1:
                raise conflict(
                    f"Appointment {appointment.id} changed meanwhile: look again and retry.", "id"
                )
            await self._take_bay(conn, center, starts_at, appointment.id, appointment.vehicle_id)
            await conn.execute(
                service_bays.delete().where(
                    service_bays.c.appointment_id == appointment.id,
                    service_bays.c.starts_at == appointment.starts_at,
                )
            )
        return await self.get(appointment.id)

    async def cancel(
        self, appointment: Appointment, actor: str, *, operator: bool = False
    ) -> Appointment:
        """Cancel and free the bay. Cancelling a cancelled appointment changes nothing."""
        if appointment.status == CANCELLED:
            return appointment
        if not operator:
            self._check_changeable(appointment, "cancelled")
        t = service_appointments.c
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(
                service_appointments.update()
                .where(t.id == appointment.id, t.status == BOOKED)
                .values(status=CANCELLED, cancelled_at=now, cancelled_by=actor, updated_at=now)
            )
            await conn.execute(
                service_bays.delete().where(service_bays.c.appointment_id == appointment.id)
            )
        return await self.get(appointment.id)
