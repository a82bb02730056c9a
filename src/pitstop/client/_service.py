"""Service centers and appointments: `client.service.centers()`, `.slots(...)`, `.book(...)`, ...

Talks to `/api/1/service` (owners: vehicle_device_data; operators: operator). A slot that filled
up meanwhile comes back as `Conflict` (error `slot_full`), a time outside the center's hours or
in the past as `InvalidInput` with the server's `messages`, someone else's car as `NotFoundError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pitstop.client._words import as_utc

if TYPE_CHECKING:
    from pitstop.client._client import PitstopClient


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _when(value: object) -> datetime:
    return as_utc(value) or datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ServiceCenter:
    id: int
    name: str
    address: str
    timezone: str
    hours: dict[str, list[str]]
    slot_minutes: int
    capacity: int
    active: bool = True
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tz(self) -> ZoneInfo | None:
        return _zone(self.timezone)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceCenter:
        return cls(
            id=int(data.get("id") or 0),
            name=str(data.get("name") or ""),
            address=str(data.get("address") or ""),
            timezone=str(data.get("timezone") or "UTC"),
            hours={str(k): [str(s) for s in v] for k, v in (data.get("hours") or {}).items()},
            slot_minutes=int(data.get("slot_minutes") or 0),
            capacity=int(data.get("capacity") or 0),
            active=bool(data.get("active", True)),
            raw=data,
        )


@dataclass(frozen=True)
class ServiceSlot:
    starts_at: datetime
    ends_at: datetime
    free: int
    capacity: int
    local_start: str = ""


@dataclass(frozen=True)
class SlotList:
    """Free slots of a center for some days, with the center's zone to read them in."""

    center_id: int
    center_name: str
    timezone: str
    slots: tuple[ServiceSlot, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tz(self) -> ZoneInfo | None:
        return _zone(self.timezone)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlotList:
        return cls(
            center_id=int(data.get("center_id") or 0),
            center_name=str(data.get("center_name") or ""),
            timezone=str(data.get("timezone") or "UTC"),
            slots=tuple(
                ServiceSlot(
                    starts_at=_when(s.get("starts_at")),
                    ends_at=_when(s.get("ends_at")),
                    free=int(s.get("free") or 0),
                    capacity=int(s.get("capacity") or 0),
                    local_start=str(s.get("local_start") or ""),
                )
                for s in data.get("slots") or ()
                if isinstance(s, dict)
            ),
            raw=data,
        )


@dataclass(frozen=True)
class Appointment:
    id: int
    center_id: int
    center_name: str
    timezone: str
    vin: str
    vehicle_name: str
    starts_at: datetime
    ends_at: datetime
    description: str
    status: str  # booked | cancelled
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tz(self) -> ZoneInfo | None:
        return _zone(self.timezone)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Appointment:
        return cls(
            id=int(data.get("id") or 0),
            center_id=int(data.get("center_id") or 0),
            center_name=str(data.get("center_name") or ""),
            timezone=str(data.get("timezone") or "UTC"),
            vin=str(data.get("vin") or ""),
            vehicle_name=str(data.get("vehicle_name") or ""),
            starts_at=_when(data.get("starts_at")),
            ends_at=_when(data.get("ends_at")),
            description=str(data.get("description") or ""),
            status=str(data.get("status") or ""),
            cancelled_at=as_utc(data.get("cancelled_at")),
            cancelled_by=str(data["cancelled_by"]) if data.get("cancelled_by") else None,
            raw=data,
        )


class Service:
    """The service API of one client (`client.service`)."""

    def __init__(self, client: PitstopClient) -> None:
        self._client = client

    async def centers(self, *, include_inactive: bool = False) -> list[ServiceCenter]:
        params = {"all": "1"} if include_inactive else None
        found = await self._client._response("GET", "/api/1/service/centers", params=params)
        return [ServiceCenter.from_json(c) for c in found or ()]

    async def center(self, center_id: int) -> ServiceCenter:
        data = await self._client._response("GET", f"/api/1/service/centers/{center_id}")
        return ServiceCenter.from_json(data)

    async def slots(
        self, center_id: int, *, vin: str | None = None, start: date | None = None, days: int = 7
    ) -> SlotList:
        """Free slots from local day `start` (default: today at the center) for `days` days."""
        params = {"days": str(days)}
        if vin:
            params["vin"] = vin
        if start is not None:
            params["from"] = start.isoformat()
        data = await self._client._response(
            "GET", f"/api/1/service/centers/{center_id}/slots", params=params, vehicle=vin or ""
        )
        return SlotList.from_json(data)

    async def book(
        self, vin: str, center_id: int, starts_at: datetime, description: str
    ) -> Appointment:
        body = {
            "vin": vin,
            "center_id": center_id,
            "starts_at": starts_at.isoformat(),
            "description": description,
        }
        data = await self._client._response(
            "POST", "/api/1/service/appointments", json=body, vehicle=vin
        )
        return Appointment.from_json(data)

    async def appointments(
        self,
        *,
        center_id: int | None = None,
        day: date | None = None,
        include_cancelled: bool = False,
    ) -> list[Appointment]:
        """Owners: their appointments ahead. Operators: a day's at a center (or at every one)."""
        params: dict[str, str] = {}
        if center_id is not None:
            params["center_id"] = str(center_id)
        if day is not None:
            params["date"] = day.isoformat()
        if include_cancelled:
            params["all"] = "1"
        found = await self._client._response(
            "GET", "/api/1/service/appointments", params=params or None
        )
        return [Appointment.from_json(a) for a in found or ()]

    async def appointment(self, appointment_id: int) -> Appointment:
        data = await self._client._response("GET", f"/api/1/service/appointments/{appointment_id}")
        return Appointment.from_json(data)

    async def reschedule(self, appointment_id: int, starts_at: datetime) -> Appointment:
        data = await self._client._response(
            "POST",
            f"/api/1/service/appointments/{appointment_id}/reschedule",
            json={"starts_at": starts_at.isoformat()},
        )
        return Appointment.from_json(data)

    async def cancel(self, appointment_id: int) -> Appointment:
        data = await self._client._response(
            "POST", f"/api/1/service/appointments/{appointment_id}/cancel"
        )
        return Appointment.from_json(data)
