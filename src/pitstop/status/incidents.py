"""Incidents: unplanned trouble the status page shows, opened and resolved by the health monitor.

An incident is usually about the database, which is also where incidents are kept; so an
incident is first known in memory (the process that saw the failure shows it at once) and
written down as soon as the database answers again. Several processes seeing the same failure
write one incident: a new one is only inserted when no incident of the same cause overlaps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.db.tables import incidents

OUTAGE, DEGRADED = "outage", "degraded"


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    cause: str
    title: str
    components: tuple[str, ...]
    impact: str  # outage | degraded
    started_at: datetime
    resolved_at: datetime | None = None
    detail: str = ""
    id: int | None = None  # None until written to the database

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def covers(self, component: str) -> bool:
        return component in self.components


def _incident(row: sa.Row[tuple[object, ...]]) -> Incident:
    m = row._mapping
    return Incident(
        id=m["id"],
        cause=m["cause"],
        title=m["title"],
        components=tuple(m["components"]),
        impact=m["impact"],
        started_at=m["started_at"],
        resolved_at=m["resolved_at"],
        detail=m["detail"],
    )


class IncidentStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def find(self, *, since: datetime | None = None) -> list[Incident]:
        """Incidents open now or resolved after `since`, oldest first."""
        query = sa.select(incidents).order_by(incidents.c.started_at)
        if since is not None:
            query = query.where(
                sa.or_(incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= since)
            )
        async with self.engine.connect() as conn:
            return [_incident(r) for r in (await conn.execute(query)).all()]

    async def record(self, incident: Incident) -> Incident:
        """Write `incident` (open or resolved) and return it with its id.

        If an incident of the same cause overlaps it (another process saw the same failure),
        that one is kept, widened to cover this one, and returned instead.
        """
        async with self.engine.begin() as conn:
            await _serialize(conn, incident.cause)
            same = await self._overlapping(conn, incident)
            if same is None:
                new_id = (
                    await conn.execute(
                        incidents.insert()
                        .values(
                            cause=incident.cause,
                            title=incident.title,
                            components=list(incident.components),
                            impact=incident.impact,
                            started_at=incident.started_at,
                            resolved_at=incident.resolved_at,
                            detail=incident.detail,
                        )
                        .returning(incidents.c.id)
                    )
                ).scalar_one()
                return msgspec.structs.replace(incident, id=new_id)
            started = min(same.started_at, incident.started_at)
            resolved = _later(same.resolved_at, incident.resolved_at)
            await conn.execute(
                incidents.update()
                .where(incidents.c.id == same.id)
                .values(started_at=started, resolved_at=resolved)
            )
            return msgspec.structs.replace(same, started_at=started, resolved_at=resolved)

    async def _overlapping(self, conn: AsyncConnection, incident: Incident) -> Incident | None:
        end = incident.resolved_at
        query = sa.select(incidents).where(
            incidents.c.cause == incident.cause,
            sa.or_(
                incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= incident.started_at
            ),
        )
        if end is not None:
            query = query.where(incidents.c.started_at <= end)
        row = (await conn.execute(query.order_by(incidents.c.started_at).limit(1))).first()
        return _incident(row) if row is not None else None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later end of two sightings; None (still open) only if neither saw it end."""
    ends = [x for x in (a, b) if x is not None]
    return max(ends) if ends else None


async def _serialize(conn: AsyncConnection, cause: str) -> None:
    """One writer per cause at a time on PostgreSQL (SQLite has one writer anyway)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": cause})


def affecting(found: Iterable[Incident], component: str) -> list[Incident]:
    return [i for i in found if i.covers(component)]
