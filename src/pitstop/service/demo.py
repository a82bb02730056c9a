"""The demo's service centers, made by `pitstop demo` when they are not there yet."""

from __future__ import annotations

from pitstop.service.centers import Center, CenterRequest, Centers

_WEEKDAYS = {d: ["08:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}

DEMO_CENTERS = (
    CenterRequest(
        name="Pitstop Berlin Mitte",
        address="Invalidenstraße 1, 10115 Berlin",
        timezone="Europe/Berlin",
        hours={**_WEEKDAYS, "sat": ["09:00-13:00"]},
        slot_minutes=60,
        capacity=2,
    ),
    CenterRequest(
        name="Pitstop Fremont",
        address="45500 Fremont Blvd, Fremont, CA 94538",
        timezone="America/Los_Angeles",
        hours={**_WEEKDAYS},
        slot_minutes=30,
        capacity=3,
    ),
)


async def seed(centers: Centers) -> list[Center]:
    return [await centers.ensure(request) for request in DEMO_CENTERS]
