"""Maintenance windows: what they are, and the transitions they may go through.

Pure data and rules, no I/O: the store persists windows, the scheduler moves them on time,
the gate reads them.

    scheduled ──start──▶ in_progress ──finish──▶ completed
        │                    │
        └──cancel──▶ cancelled ◀─(never: a started window is finished, not cancelled)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from dateutil.rrule import rrulestr

REASONS = {
    "bug_fixes": "bug fixes",
    "performance": "performance improvements",
    "new_features": "new features",
    "security_update": "a security update",
    "release_preparation": "release preparation",
    "hardware_upgrade": "a hardware upgrade",
    "configuration": "configuration changes",
    "other": "other work",
}

#: What a window can take down. An empty scope means the whole service; the car link
#: (`vehicle_link`) is only closed by a window that names it.
COMPONENTS = {
    "vehicle_data": "reading your cars' data",
    "vehicle_commands": "sending commands to your cars",
    "charging": "charging commands and schedules",
    "service": "service appointments",
    "accounts": "signing in and account changes",
    "notifications": "notifications",
    "web": "the web app",
    "vehicle_link": "cars' connection to Pitstop",
}
WHOLE_SERVICE = frozenset(COMPONENTS) - {"vehicle_link"}

MODES = ("full", "read_only")
SCHEDULED, IN_PROGRESS, COMPLETED, CANCELLED = "scheduled", "in_progress", "completed", "cancelled"
ACTIVE = (SCHEDULED, IN_PROGRESS)


def iso(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, as msgspec writes datetimes in JSON bodies."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class WindowError(ValueError):
    """A request about a window that cannot be honoured; `field` names what is wrong."""

    def __init__(self, message: str, field: str = "body", *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


class Update(msgspec.Struct, frozen=True):
    """One entry of a window's timeline."""

    at: datetime
    kind: str  # scheduled | started | extended | updated | finished | cancelled | note
    message: str
    author: str


class MaintenanceWindow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    title: str
    reason: str
    description: str
    components: tuple[str, ...]  # empty: the whole service
    mode: str
    status: str
    starts_at: datetime
    expected_end: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    auto_finish: bool = True
    rrule: str | None = None
    series_id: int | None = None
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    updates: tuple[Update, ...] = ()

    @property
    def scope(self) -> frozenset[str]:
        return frozenset(self.components) if self.components else WHOLE_SERVICE

    @property
    def whole_service(self) -> bool:
        return not self.components

    @property
    def reason_text(self) -> str:
        return REASONS.get(self.reason, self.reason)

    def covers(self, component: str) -> bool:
        return component in self.scope

    def overrunning(self, now: datetime) -> bool:
        return self.status == IN_PROGRESS and now >= self.expected_end

    def overlaps(self, other: MaintenanceWindow) -> bool:
        return (
            bool(self.scope & other.scope)
            and self.starts_at < other.expected_end
            and other.starts_at < self.expected_end
        )


class WindowRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What an operator asks for when scheduling (the REST body)."""

    title: str
    reason: str
    starts_at: datetime
    expected_end: datetime | None = None
    duration_minutes: float | None = None
    description: str = ""
    components: list[str] = msgspec.field(default_factory=list)
    mode: str = "full"
    rrule: str | None = None
    auto_finish: bool = True
    force: bool = False


def check_request(req: WindowRequest, now: datetime) -> tuple[datetime, datetime]:
    """Validate a scheduling request; returns (starts_at, expected_end)."""
    if not req.title.strip():
        raise WindowError("A window needs a title.", "title")
    if len(req.title) > 200:
        raise WindowError("A title has at most 200 characters.", "title")
    if req.reason not in REASONS:
        raise WindowError(f"Unknown reason {req.reason!r}; one of: {', '.join(REASONS)}.", "reason")
    unknown = [c for c in req.components if c not in COMPONENTS]
    if unknown:
        raise WindowError(
            f"Unknown component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}.",
            "components",
        )
    if req.mode not in MODES:
        raise WindowError(f"Unknown mode {req.mode!r}; one of: full, read_only.", "mode")
    if req.starts_at.tzinfo is None:
        raise WindowError("starts_at needs a time zone (e.g. 2026-12-01T02:00:00Z).", "starts_at")
    if (req.expected_end is None) == (req.duration_minutes is None):
        raise WindowError("Give either an expected end or a duration, not both.", "expected_end")
    if req.duration_minutes is not None:
        if req.duration_minutes <= 0:
            raise WindowError("The duration must be positive.", "duration_minutes")
        end = req.starts_at + timedelta(minutes=req.duration_minutes)
    else:
        assert req.expected_end is not None
        end = req.expected_end
        if end.tzinfo is None:
            raise WindowError("expected_end needs a time zone.", "expected_end")
    if end <= req.starts_at:
        raise WindowError("The window ends before it starts.", "expected_end")
    if end <= now:
        raise WindowError("The window would be over already.", "expected_end")
    if req.rrule:
        check_rrule(req.rrule, req.starts_at)
    return req.starts_at, end


def check_rrule(rule: str, start: datetime) -> None:
    try:
        rrulestr(rule, dtstart=start)
    except (ValueError, TypeError) as exc:
        raise WindowError(f"The recurrence rule cannot be read: {exc}.", "rrule") from exc


def next_occurrence(window: MaintenanceWindow) -> tuple[datetime, datetime] | None:
    """Start and end of the occurrence after `window`, for a recurring one."""
    if not window.rrule:
        return None
    rule = rrulestr(window.rrule, dtstart=window.starts_at)
    start = rule.after(window.starts_at)
    if start is None:
        return None
    return start, start + (window.expected_end - window.starts_at)


def can_start(window: MaintenanceWindow) -> None:
    if window.status != SCHEDULED:
        raise WindowError(
            f"Window {window.id} is {window.status}; only a scheduled one can start.", conflict=True
        )


def can_finish(window: MaintenanceWindow) -> None:
    if window.status != IN_PROGRESS:
        raise WindowError(
            f"Window {window.id} is {window.status}; only one in progress can finish.",
            conflict=True,
        )


def can_cancel(window: MaintenanceWindow) -> None:
    if window.status == IN_PROGRESS:
        raise WindowError(
            f"Window {window.id} has started: finish it instead of cancelling.", conflict=True
        )
    if window.status != SCHEDULED:
        raise WindowError(f"Window {window.id} is {window.status} already.", conflict=True)


def can_change(window: MaintenanceWindow, what: str) -> None:
    if window.status not in ACTIVE:
        raise WindowError(
            f"Window {window.id} is {window.status}: it cannot be {what}.", conflict=True
        )
