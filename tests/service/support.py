"""Helpers for service tests: a center, a booking, and what the database holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from pitstop.db.tables import service_appointments, service_bays
from tests.world import Account, World

#: A Wednesday, four days before Europe's clocks go forward (Sunday 29 March 2026).
START = datetime(2026, 3, 25, 9, 0, tzinfo=UTC)

WEEKDAYS = {d: ["08:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def berlin_center(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Berlin Mitte",
        "address": "Invalidenstraße 1",
        "timezone": "Europe/Berlin",
        "hours": {**WEEKDAYS, "sat": ["09:00-13:00"]},
        "slot_minutes": 60,
        "capacity": 2,
        **overrides,
    }


async def make_center(world: World, ops: Account, **overrides: Any) -> dict[str, Any]:
    async with world.client(ops.token) as http:
        r = await http.post("/api/1/service/centers", json=berlin_center(**overrides))
    assert r.status_code == 200, r.text
    center: dict[str, Any] = r.json()["response"]
    return center


async def book(
    http: httpx.AsyncClient, vin: str, center_id: int, starts_at: str, description: str = "Squeak"
) -> httpx.Response:
    return await http.post(
        "/api/1/service/appointments",
        json={
            "vin": vin,
            "center_id": center_id,
            "starts_at": starts_at,
            "description": description,
        },
    )


async def stored(world: World) -> tuple[int, int]:
    """How many appointments (booked or not) and taken bays the database holds."""
    async with world.rt.engine.connect() as conn:
        appointments = await conn.scalar(
            sa.select(sa.func.count()).select_from(service_appointments)
        )
        bays = await conn.scalar(sa.select(sa.func.count()).select_from(service_bays))
    return int(appointments or 0), int(bays or 0)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
