"""Maintenance windows in the database: every change audited, every transition claimed once.

A transition is a conditional UPDATE (`... WHERE status = 'scheduled'`): of several server
processes trying to start the same window, exactly one changes a row, and only that one
records the audit entry and the timeline update.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pitstop.availability import windows as w
from pitstop.availability.windows import MaintenanceWindow, Update, WindowError, WindowRequest
from pitstop.clock import Clock
from pitstop.db.tables import audit_log, maintenance_updates, maintenance_windows

Changed = Callable[[], Awaitable[None]]

_COLUMNS = [c.name for c in maintenance_windows.columns]


def _window(row: Any, updates: Iterable[Update] = ()) -> MaintenanceWindow:
    data = {name: getattr(row, name) for name in _COLUMNS}
    data["components"] = tuple(data["components"] or ())
    return MaintenanceWindow(**data, updates=tuple(updates))


class NotFound(LookupError):
    pass


@dataclass
class _Change:
    """What a transition does to a window, if `where` still holds when it is applied."""

    action: str  # started | finished | cancelled | extended | updated
    message: str
    where: list[sa.ColumnElement[bool]]
    values: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


class WindowStore:
    def __init__(
        self, engine: AsyncEngine, clock: Clock, *, on_change: Changed | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.on_change = on_change

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()

    # --- reading -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def reading(self, conn: AsyncConnection | None = None) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: `conn` if given (a caller's own, kept open), else one from
        the pool, in autocommit. Why autocommit: on PostgreSQL a read in a transaction costs a
        BEGIN and a ROLLBACK, two more round trips that a loaded database makes slow, and these
        reads are on the path of a change to every process (bench/propagation.py)."""
        if conn is not None:
            yield conn
            return
        async with self.engine.connect() as pooled:
            yield await pooled.execution_options(isolation_level="AUTOCOMMIT")

    async def get(self, window_id: int, conn: AsyncConnection | None = None) -> MaintenanceWindow:
        async with self.reading(conn) as reader:
            row = await self._row(reader, window_id)
            updates = await self._updates(reader, [window_id])
        return _window(row, updates.get(window_id, []))

    @staticmethod
    async def _row(conn: AsyncConnection, window_id: int) -> Any:
        row = (
            await conn.execute(
                sa.select(maintenance_windows).where(maintenance_windows.c.id == window_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"There is no maintenance window {window_id}.")
        return row

    async def find(
        self,
        *,
        statuses: Iterable[str] | None = None,
        ended_after: datetime | None = None,
        conn: AsyncConnection | None = None,
    ) -> list[MaintenanceWindow]:
        query = sa.select(maintenance_windows).order_by(maintenance_windows.c.starts_at)
        if statuses is not None:
            query = query.where(maintenance_windows.c.status.in_(list(statuses)))
        if ended_after is not None:
            query = query.where(
                sa.or_(
                    maintenance_windows.c.ended_at.is_(None),
                    maintenance_windows.c.ended_at >= ended_after,
                )
            )
        async with self.reading(conn) as reader:
            rows = (await reader.execute(query)).all()
            updates = await self._updates(reader, [r.id for r in rows])
        return [_window(r, updates.get(r.id, [])) for r in rows]

    async def active(self, conn: AsyncConnection | None = None) -> list[MaintenanceWindow]:
        return await self.find(statuses=w.ACTIVE, conn=conn)

    async def fingerprint(self, conn: AsyncConnection | None = None) -> tuple[int, int]:
        """Changes whenever any window changes: (count, sum of versions). Cheap to poll."""
        async with self.reading(conn) as reader:
            row = (
                await reader.execute(
                    sa.select(
                        sa.func.count(maintenance_windows.c.id),
                        sa.func.coalesce(sa.func.sum(maintenance_windows.c.version), 0),
                    )
                )
            ).one()
        return int(row[0]), int(row[1])

    @staticmethod
    async def _updates(conn: AsyncConnection, ids: list[int]) -> dict[int, list[Update]]:
        if not ids:
            return {}
        rows = (
            await conn.execute(
                sa.select(maintenance_updates)
                .where(maintenance_updates.c.window_id.in_(ids))
                .order_by(maintenance_updates.c.at, maintenance_updates.c.id)
            )
        ).all()
        out: dict[int, list[Update]] = {}
        for r in rows:
            out.setdefault(r.window_id, []).append(
                Update(at=r.at, kind=r.kind, message=r.message, author=r.author)
            )
        return out

    async def audit(self, window_id: int) -> list[dict[str, Any]]:
        async with self.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.subject == f"maintenance:{window_id}")
                    .order_by(audit_log.c.id)
                )
            ).all()
        return [
            {"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail} for r in rows
        ]

    # --- writing -----------------------------------------------------------------------------

    async def _record(
        self,
        conn: AsyncConnection,
        window_id: int,
        actor: str,
        action: str,
        message: str,
        detail: dict[str, Any],
    ) -> None:
        now = self.clock.now()
        await conn.execute(
            audit_log.insert().values(
                at=now,
                actor=actor,
                action=action,
                subject=f"maintenance:{window_id}",
                detail=detail,
            )
        )
        await conn.execute(
            maintenance_updates.insert().values(
                window_id=window_id, at=now, kind=action, message=message, author=actor
            )
        )

    async def schedule(self, req: WindowRequest, actor: str) -> MaintenanceWindow:
        now = self.clock.now()
        starts_at, expected_end = w.check_request(req, now)
        draft = MaintenanceWindow(
            id=0,
            title=req.title.strip(),
            reason=req.reason,
            description=req.description,
            components=tuple(dict.fromkeys(req.components)),
            mode=req.mode,
            status=w.SCHEDULED,
            starts_at=starts_at,
            expected_end=expected_end,
            auto_finish=req.auto_finish,
            rrule=req.rrule or None,
        )
        if not req.force:
            clashes = [other for other in await self.active() if draft.overlaps(other)]
            if clashes:
                names = ", ".join(f"{o.id} ({o.title})" for o in clashes)
                raise WindowError(
                    f"This window overlaps window {names} in the same scope; use force to schedule it anyway.",
                    "starts_at",
                    conflict=True,
                )
        async with self.engine.begin() as conn:
            window_id = await self._insert(conn, draft, actor, now)
            await self._record(
                conn,
                window_id,
                actor,
                "scheduled",
                f"Scheduled: {draft.title}.",
                {"request": _jsonable(req)},
            )
        await self._changed()
        return await self.get(window_id)

    async def _insert(
        self,
        conn: AsyncConnection,
        draft: MaintenanceWindow,
        actor: str,
        now: datetime,
        series_id: int | None = None,
    ) -> int:
        window_id = await conn.scalar(
            maintenance_windows.insert()
            .values(
                title=draft.title,
                reason=draft.reason,
                description=draft.description,
                components=list(draft.components),
                mode=draft.mode,
                status=w.SCHEDULED,
                starts_at=draft.starts_at,
                expected_end=draft.expected_end,
                auto_finish=draft.auto_finish,
                rrule=draft.rrule,
                series_id=series_id,
                created_by=actor,
                created_at=now,
                updated_at=now,
                version=1,
            )
            .returning(maintenance_windows.c.id)
        )
        assert window_id is not None
        if draft.rrule and series_id is None:
            await conn.execute(
                maintenance_windows.update()
                .where(maintenance_windows.c.id == window_id)
                .values(series_id=window_id)
            )
        return int(window_id)

    async def _transition(
        self, window_id: int, actor: str, plan: Callable[[MaintenanceWindow], _Change | None]
    ) -> MaintenanceWindow | None:
        """Apply the change `plan` makes of the window as it is now, if its conditions still
        hold; None if `plan` declines or another process got there first.

        The window is read in the same transaction as it is changed: on PostgreSQL a separate
        read cost a pool checkout (a ping, itself three round trips) and a BEGIN and ROLLBACK,
        all before the change could commit and reach the other processes."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            window = _window(await self._row(conn, window_id))
            change = plan(window)
            if change is None:
                return None
            result = await conn.execute(
                maintenance_windows.update()
                .where(maintenance_windows.c.id == window.id, *change.where)
                .values(**change.values, updated_at=now, version=maintenance_windows.c.version + 1)
            )
            if not result.rowcount:
                return None
            await self._record(conn, window.id, actor, change.action, change.message, change.detail)
            if change.action in ("finished", "cancelled"):
                following = w.next_occurrence(window)
                if following is not None:
                    draft = msgspec.structs.replace(
                        window, starts_at=following[0], expected_end=following[1]
                    )
                    await self._insert(
                        conn, draft, "scheduler", now, series_id=window.series_id or window.id
                    )
        await self._changed()
        return await self.get(window.id)

    async def start(
        self, window_id: int, actor: str, *, due_by: datetime | None = None
    ) -> MaintenanceWindow | None:
        """Start a window: early by an operator, or on time by the scheduler (`due_by`).

        The scheduler gets None, not an error, when another process has started it already."""

        def plan(window: MaintenanceWindow) -> _Change | None:
            if due_by is not None and window.status != w.SCHEDULED:
                return None
            w.can_start(window)
            where = [maintenance_windows.c.status == w.SCHEDULED]
            if due_by is not None:
                where.append(maintenance_windows.c.starts_at <= due_by)
            now = self.clock.now()
            values: dict[str, Any] = {"status": w.IN_PROGRESS, "started_at": now}
            text = "Maintenance has started."
            if due_by is None and now < window.starts_at:
                # Started early: keep the planned length.
                values["expected_end"] = now + (window.expected_end - window.starts_at)
                values["starts_at"] = now
                text = "Maintenance has started early."
            return _Change("started", text, where, values)

        return await self._transition(window_id, actor, plan)

    async def finish(
        self, window_id: int, actor: str, *, message: str = "", due_by: datetime | None = None
    ) -> MaintenanceWindow | None:
        def plan(window: MaintenanceWindow) -> _Change | None:
            if due_by is not None and window.status != w.IN_PROGRESS:
                return None  # another process finished it already
            w.can_finish(window)
            where = [maintenance_windows.c.status == w.IN_PROGRESS]
            if due_by is not None:
                where += [
                    maintenance_windows.c.expected_end <= due_by,
                    maintenance_windows.c.auto_finish.is_(True),
                ]
            return _Change(
                "finished",
                message or "Maintenance is complete: Pitstop is back.",
                where,
                {"status": w.COMPLETED, "ended_at": self.clock.now()},
            )

        return await self._transition(window_id, actor, plan)

    async def cancel(self, window_id: int, actor: str, *, message: str = "") -> MaintenanceWindow:
        def plan(window: MaintenanceWindow) -> _Change:
            w.can_cancel(window)
            return _Change(
                "cancelled",
                message or "This maintenance was cancelled.",
                [maintenance_windows.c.status == w.SCHEDULED],
                {"status": w.CANCELLED, "ended_at": self.clock.now()},
            )

        done = await self._transition(window_id, actor, plan)
        return done or await self._lost_race(window_id)

    async def extend(
        self, window_id: int, minutes: float, actor: str, *, message: str = ""
    ) -> MaintenanceWindow:
        if minutes <= 0:
            raise WindowError("An extension must be a positive duration.", "minutes")

        def plan(window: MaintenanceWindow) -> _Change:
            w.can_change(window, "extended")
            new_end = window.expected_end + timedelta(minutes=minutes)
            return _Change(
                "extended",
                message or f"Extended by {_minutes_text(minutes)}.",
                [
                    maintenance_windows.c.status.in_(w.ACTIVE),
                    maintenance_windows.c.version == window.version,
                ],
                {"expected_end": new_end},
                {"minutes": minutes, "expected_end": new_end.isoformat()},
            )

        done = await self._transition(window_id, actor, plan)
        return done or await self._lost_race(window_id)

    async def post_update(self, window_id: int, message: str, actor: str) -> MaintenanceWindow:
        if not message.strip():
            raise WindowError("An update needs a message.", "message")

        def plan(window: MaintenanceWindow) -> _Change:
            w.can_change(window, "updated")
            return _Change(
                "updated", message.strip(), [maintenance_windows.c.status.in_(w.ACTIVE)], {}
            )

        done = await self._transition(window_id, actor, plan)
        return done or await self._lost_race(window_id)

    async def _lost_race(self, window_id: int) -> MaintenanceWindow:
        window = await self.get(window_id)
        raise WindowError(
            f"Window {window_id} changed meanwhile (now {window.status}); try again.", conflict=True
        )


def _minutes_text(minutes: float) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes:g} minutes"


def _jsonable(req: WindowRequest) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(req)
    return data
