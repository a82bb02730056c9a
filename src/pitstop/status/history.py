"""90 days of history per component, computed from what really happened.

A component was down while a full maintenance window covering it was in progress (from when
it really started to when it really ended) or an outage incident covered it; it was degraded
during a read-only window or a degraded incident. Uptime is the share of the observed time it
was not down; days before Pitstop kept records have no figure rather than a flattering 100%.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import msgspec

from pitstop.availability.windows import MaintenanceWindow
from pitstop.status.board import DEGRADED, MAINTENANCE, NAMES, OPERATIONAL
from pitstop.status.incidents import OUTAGE, Incident

DAYS = 90

Interval = tuple[datetime, datetime]


class Day(msgspec.Struct, frozen=True):
    date: date
    state: str  # the worst it was that day: outage | maintenance | degraded | operational | no_data
    uptime: float | None  # 0..1 of the observed part of the day; None: no records
    down_minutes: float = 0.0


class ComponentHistory(msgspec.Struct, frozen=True):
    id: str
    name: str
    uptime: float | None  # over the whole period
    days: tuple[Day, ...]


def _clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    clipped = [(max(a, start), min(b, end)) for a, b in intervals]
    return [(a, b) for a, b in clipped if b > a]


def _union_seconds(intervals: Iterable[Interval]) -> float:
    total, current_end = 0.0, None
    for a, b in sorted(intervals):
        if current_end is None or a > current_end:
            total += (b - a).total_seconds()
            current_end = b
        elif b > current_end:
            total += (b - current_end).total_seconds()
            current_end = b
    return total


def _spans(
    component: str,
    windows: Iterable[MaintenanceWindow],
    incidents: Iterable[Incident],
    now: datetime,
) -> dict[str, list[Interval]]:
    spans: dict[str, list[Interval]] = {OUTAGE: [], MAINTENANCE: [], DEGRADED: []}
    for window in windows:
        if window.started_at is None or not window.covers(component):
            continue
        kind = MAINTENANCE if window.mode == "full" else DEGRADED
        spans[kind].append((window.started_at, window.ended_at or now))
    for incident in incidents:
        if incident.covers(component):
            spans[incident.impact].append((incident.started_at, incident.resolved_at or now))
    return spans


def component_history(
    component: str,
    windows: Iterable[MaintenanceWindow],
    incidents: Iterable[Incident],
    *,
    now: datetime,
    since: datetime,
    days: int = DAYS,
) -> ComponentHistory:
    """The last `days` days (UTC) of `component`, oldest first; records begin at `since`."""
    spans = _spans(component, list(windows), list(incidents), now)
    today = now.astimezone(UTC).date()
    result: list[Day] = []
    observed_total = down_total = 0.0
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = max(datetime.combine(day, time(), UTC), since)
        end = min(datetime.combine(day + timedelta(days=1), time(), UTC), now)
        if end <= start:
            result.append(Day(day, "no_data", None))
            continue
        observed = (end - start).total_seconds()
        down = _union_seconds(_clip(spans[OUTAGE] + spans[MAINTENANCE], start, end))
        state = next(
            (kind for kind in (OUTAGE, MAINTENANCE, DEGRADED) if _clip(spans[kind], start, end)),
            OPERATIONAL,
        )
        result.append(Day(day, state, 1 - down / observed, round(down / 60, 1)))
        observed_total += observed
        down_total += down
    uptime = 1 - down_total / observed_total if observed_total else None
    return ComponentHistory(component, NAMES[component], uptime, tuple(result))


def history(
    windows: Iterable[MaintenanceWindow],
    incidents: Iterable[Incident],
    *,
    now: datetime,
    since: datetime,
    days: int = DAYS,
) -> list[ComponentHistory]:
    windows, incidents = list(windows), list(incidents)
    return [
        component_history(c, windows, incidents, now=now, since=since, days=days) for c in NAMES
    ]
