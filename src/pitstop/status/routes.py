"""`/status` (the page), `/api/1/status` (JSON), `/status/feed.atom`, `/status/maintenance.ics`.

No sign-in, never gated, and still answering when the database does not: the board comes from
memory, and history and past windows are left out (and the page says so) when they cannot be
read in time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pitstop.availability.store import NotFound
from pitstop.availability.windows import (
    CANCELLED,
    IN_PROGRESS,
    SCHEDULED,
    MaintenanceWindow,
    iso,
)
from pitstop.db.tables import users
from pitstop.responses import json_response
from pitstop.runtime import Runtime, runtime
from pitstop.status.board import Board, board, merge
from pitstop.status.feeds import affected, atom, ics
from pitstop.status.history import DAYS, ComponentHistory, history
from pitstop.status.incidents import Incident
from pitstop.web import templates

log = logging.getLogger(__name__)

#: How long the page waits for the database before it shows what it has in memory.
DATABASE_PATIENCE = 2.0
NO_STORE = {"Cache-Control": "no-cache"}


@dataclass(frozen=True)
class StatusView:
    now: datetime
    board: Board
    current: list[MaintenanceWindow]
    upcoming: list[MaintenanceWindow]
    recent: list[MaintenanceWindow]  # the last 90 days' windows, all states
    incidents: list[Incident]
    history: list[ComponentHistory] | None  # None: the database did not answer


async def gather(rt: Runtime) -> StatusView:
    now = rt.clock.now()
    since = now - timedelta(days=DAYS)
    active = list(rt.maintenance.snapshot.windows)
    try:
        async with asyncio.timeout(DATABASE_PATIENCE):
            recent = await rt.windows.find(ended_after=since)
            written = await rt.incidents.find(since=since)
            records_since = await _records_since(rt) or now
    except (DBAPIError, OSError, TimeoutError) as exc:
        log.info("status page without history: %s", exc)
        recent, written, found_history = active, [], False
    else:
        found_history = True
    recent = [x for x in recent if x.status != CANCELLED or (x.updated_at or now) >= since]
    incidents = merge(rt.monitor.open_incidents(), written)
    return StatusView(
        now=now,
        board=board(active, incidents),
        current=sorted((x for x in active if x.status == IN_PROGRESS), key=lambda x: x.starts_at),
        upcoming=sorted((x for x in active if x.status == SCHEDULED), key=lambda x: x.starts_at),
        recent=recent,
        incidents=incidents,
        history=(
            history(recent, incidents, now=now, since=records_since) if found_history else None
        ),
    )


async def _records_since(rt: Runtime) -> datetime | None:
    """When this Pitstop began keeping records: its first account."""
    async with rt.engine.connect() as conn:
        first: datetime | None = (
            await conn.execute(sa.select(sa.func.min(users.c.created_at)))
        ).scalar()
    return first


def public_window(window: MaintenanceWindow, now: datetime) -> dict[str, Any]:
    """A window as anyone may see it (no operator names)."""
    return {
        "id": window.id,
        "title": window.title,
        "reason": window.reason,
        "reason_text": window.reason_text,
        "description": window.description,
        "components": list(window.components),
        "affected": affected(window),
        "mode": window.mode,
        "status": window.status,
        "starts_at": iso(window.starts_at),
        "expected_end": iso(window.expected_end),
        "started_at": iso(window.started_at) if window.started_at else None,
        "ended_at": iso(window.ended_at) if window.ended_at else None,
        "overrunning": window.overrunning(now),
        "rrule": window.rrule,
        "updates": [
            {"at": iso(u.at), "kind": u.kind, "message": u.message} for u in window.updates
        ],
    }


def public_incident(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "components": list(incident.components),
        "impact": incident.impact,
        "started_at": iso(incident.started_at),
        "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
    }


def status_url(request: Request) -> str:
    base = runtime(request).settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}/status"


async def status_json(request: Request) -> Response:
    view = await gather(runtime(request))
    now = view.now
    body = {
        "response": {
            "state": view.board.state,
            "text": view.board.text,
            "updated_at": iso(now),
            "status_url": status_url(request),
            "components": msgspec.to_builtins(view.board.components),
            "current": [public_window(x, now) for x in view.current],
            "upcoming": [public_window(x, now) for x in view.upcoming],
            "incidents": [public_incident(i) for i in view.incidents],
            "history": msgspec.to_builtins(view.history) if view.history is not None else None,
        },
        "error": None,
    }
    return json_response(body, headers=NO_STORE)


async def status_page(request: Request) -> Response:
    view = await gather(runtime(request))
    past = [x for x in view.recent if x.status not in (SCHEDULED, IN_PROGRESS)]
    past.sort(key=lambda x: x.ended_at or x.starts_at, reverse=True)
    return templates.TemplateResponse(
        request,
        "status.html",
        {
            "view": view,
            "now_iso": iso(view.now),
            "past": past[:20],
            "iso": iso,
            "affected": affected,
            "feed_url": f"{status_url(request)}/feed.atom",
            "ics_url": f"{status_url(request)}/maintenance.ics",
        },
        headers=NO_STORE,
    )


async def atom_feed(request: Request) -> Response:
    view = await gather(runtime(request))
    body = atom(view.recent, view.incidents, status_url=status_url(request), now=view.now)
    return Response(body, media_type="application/atom+xml", headers=NO_STORE)


async def calendar(request: Request) -> Response:
    view = await gather(runtime(request))
    body = ics(view.recent, status_url=status_url(request), now=view.now)
    return Response(body, media_type="text/calendar", headers=NO_STORE)


async def window_calendar(request: Request) -> Response:
    """One window as a calendar entry (the link in announcement mails)."""
    rt = runtime(request)
    raw = request.path_params["window_id"]
    try:
        window = await rt.windows.get(int(raw)) if raw.isdigit() else None
    except NotFound:
        window = None
    if window is None:
        return Response("No such maintenance window.\n", 404, media_type="text/plain")
    body = ics([window], status_url=status_url(request), now=rt.clock.now())
    return Response(body, media_type="text/calendar", headers=NO_STORE)


routes = [
    Route("/status", status_page, methods=["GET"]),
    Route("/status/maintenance/{window_id}.ics", window_calendar, methods=["GET"]),
    Route("/status/feed.atom", atom_feed, methods=["GET"]),
    Route("/status/maintenance.ics", calendar, methods=["GET"]),
    Route("/api/1/status", status_json, methods=["GET"]),
]
