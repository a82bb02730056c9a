"""Service centers: where a car can be serviced, when it is open, and how many bays a slot has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pitstop.clock import Clock
from pitstop.db.tables import service_centers
from pitstop.service.hours import (
    HoursError,
    check_capacity,
    check_slot_minutes,
    normalize,
    zone,
)


class CenterNotFound(LookupError):
    pass


class Center(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    address: str
    timezone: str
    hours: dict[str, list[str]]
    slot_minutes: int
    capacity: int
    active: bool

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class CenterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new center as an operator describes it."""

    name: str
    timezone: str
    hours: dict[str, list[str]]
    slot_minutes: int = 60
    capacity: int = 1
    address: str = ""


class CenterChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; those left out stay. Booked appointments are kept whatever changes."""

    name: str | None = None
    address: str | None = None
    timezone: str | None = None
    hours: dict[str, list[str]] | None = None
    slot_minutes: int | None = None
    capacity: int | None = None
    active: bool | None = None


def _name(value: str) -> str:
    if not value.strip():
        raise HoursError("A center needs a name.", "name")
    return value.strip()


def _zone_name(value: str) -> str:
    return zone(value).key


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "timezone": _zone_name,
    "hours": normalize,
    "slot_minutes": check_slot_minutes,
    "capacity": check_capacity,
}


def _check(values: dict[str, Any]) -> dict[str, Any]:
    """Every field of `values` checked at once: all problems or none, never half applied."""
    problems: dict[str, list[str]] = {}
    out = dict(values)
    for key, check in _CHECKS.items():
        if key in values:
            try:
                out[key] = check(values[key])
            except HoursError as exc:
                problems.setdefault(exc.field, []).append(str(exc))
    if problems:
        raise CenterInvalid(problems)
    return out


class CenterInvalid(ValueError):
    def __init__(self, messages: dict[str, list[str]]) -> None:
        first = next(iter(messages.values()))[0]
        super().__init__(first if len(messages) == 1 else f"{first} (and more)")
        self.messages = messages


class Centers:
    """The service_centers table."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    @staticmethod
    def _from_row(row: sa.Row[Any]) -> Center:
        return Center(
            id=row.id,
            name=row.name,
            address=row.address,
            timezone=row.timezone,
            hours={k: list(v) for k, v in dict(row.hours).items()},
            slot_minutes=row.slot_minutes,
            capacity=row.capacity,
            active=bool(row.active),
        )

    async def list(self, *, include_inactive: bool = False) -> list[Center]:
        query = sa.select(service_centers).order_by(service_centers.c.name, service_centers.c.id)
        if not include_inactive:
            query = query.where(service_centers.c.active.is_(True))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [self._from_row(r) for r in rows]

    async def get(self, center_id: int) -> Center:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(service_centers).where(service_centers.c.id == center_id)
                )
            ).first()
        if row is None:
            raise CenterNotFound(f"There is no service center {center_id}.")
        return self._from_row(row)

    async def create(self, request: CenterRequest) -> Center:
        values = _check(msgspec.to_builtins(request))
        now = self.clock.now()
        async with self.engine.begin() as conn:
            center_id = await conn.scalar(
                service_centers.insert()
                .values(**values, active=True, created_at=now, updated_at=now)
                .returning(service_centers.c.id)
            )
        assert center_id is not None
        return await self.get(int(center_id))

    async def change(self, center_id: int, change: CenterChange) -> Center:
        await self.get(center_id)
        values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not None}
        values = _check(values)
        if values:
            async with self.engine.begin() as conn:
                await conn.execute(
                    service_centers.update()
                    .where(service_centers.c.id == center_id)
                    .values(**values, updated_at=self.clock.now())
                )
        return await self.get(center_id)

    async def ensure(self, request: CenterRequest) -> Center:
        """The center named `request.name`, made if there is none (for the demo)."""
        for center in await self.list(include_inactive=True):
            if center.name == request.name:
                return center
        return await self.create(request)
