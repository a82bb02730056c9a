"""The status page's feeds: Atom (`/status/feed.atom`) and iCalendar (`/status/maintenance.ics`).

Atom has an entry per step of each window's timeline and per incident opened or resolved, with
ids that never change. iCalendar has an event per window with a stable UID, SEQUENCE raised on
every change (the window's version), STATUS:CANCELLED for cancelled ones, the RRULE of a
recurring window and an alarm an hour before, so calendar apps follow changes by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from icalendar import Alarm, Calendar, Event, vRecur

from pitstop.availability.windows import CANCELLED, COMPLETED, MaintenanceWindow
from pitstop.status.board import NAMES
from pitstop.status.incidents import Incident

KIND_WORDS = {
    "scheduled": "Scheduled",
    "started": "Started",
    "extended": "Extended",
    "updated": "Update",
    "note": "Update",
    "finished": "Completed",
    "cancelled": "Cancelled",
}
#: How many entries the Atom feed keeps, newest first.
ATOM_ENTRIES = 100


def affected(window: MaintenanceWindow) -> str:
    if window.whole_service:
        return "the whole service"
    return ", ".join(NAMES[c] for c in window.components if c in NAMES)


def _describe(window: MaintenanceWindow) -> str:
    lines = [
        f"Reason: {window.reason_text}.",
        f"Affected: {affected(window)}"
        + (" (read-only: reading works, changes wait)." if window.mode == "read_only" else "."),
    ]
    if window.description:
        lines.append(window.description)
    return "\n".join(lines)


def atom(
    windows: Iterable[MaintenanceWindow],
    incidents: Iterable[Incident],
    *,
    status_url: str,
    now: datetime,
) -> bytes:
    entries: list[tuple[datetime, str, str, str]] = []  # (at, id, title, text)
    for window in windows:
        for i, update in enumerate(window.updates):
            title = f"{KIND_WORDS.get(update.kind, update.kind.title())}: {window.title}"
            text = f"{update.message}\n\n{_describe(window)}".strip()
            entries.append((update.at, f"urn:pitstop:window:{window.id}:{i}", title, text))
    for incident in incidents:
        if incident.id is None:
            continue
        where = ", ".join(NAMES.get(c, c) for c in incident.components)
        entries.append(
            (
                incident.started_at,
                f"urn:pitstop:incident:{incident.id}:opened",
                f"Outage: {incident.title}",
                f"Affected: {where}.",
            )
        )
        if incident.resolved_at is not None:
            entries.append(
                (
                    incident.resolved_at,
                    f"urn:pitstop:incident:{incident.id}:resolved",
                    f"Resolved: {incident.title}",
                    "Everything is working again.",
                )
            )
    entries.sort(key=lambda e: e[0], reverse=True)
    entries = entries[:ATOM_ENTRIES]

    feed = FeedGenerator()
    feed.id(f"{status_url}#feed")
    feed.title("Pitstop status")
    feed.subtitle("Maintenance windows and incidents")
    feed.link(href=status_url, rel="alternate")
    feed.link(href=f"{status_url}/feed.atom", rel="self")
    feed.updated(entries[0][0] if entries else now)
    for at, entry_id, title, text in reversed(entries):  # feedgen prepends each new entry
        entry = feed.add_entry()
        entry.id(entry_id)
        entry.title(title)
        entry.updated(at)
        entry.published(at)
        entry.link(href=status_url)
        entry.content(text, type="text")
    data: bytes = feed.atom_str(pretty=True)
    return data


def ics(windows: Iterable[MaintenanceWindow], *, status_url: str, now: datetime) -> bytes:
    host = urlsplit(status_url).hostname or "pitstop"
    calendar = Calendar()
    calendar.add("prodid", "-//Pitstop//Maintenance//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Pitstop maintenance")
    calendar.add("x-published-ttl", "PT15M")
    for window in _one_per_series(windows):
        event = Event()
        event.add("uid", f"window-{window.series_id or window.id}@{host}")
        event.add("dtstamp", (window.updated_at or now).astimezone(UTC))
        event.add("last-modified", (window.updated_at or now).astimezone(UTC))
        event.add("sequence", window.version)
        start = window.started_at if window.started_at and not window.rrule else window.starts_at
        end = (
            window.ended_at
            if window.status == COMPLETED and window.ended_at
            else window.expected_end
        )
        event.add("dtstart", start.astimezone(UTC))
        event.add("dtend", max(end, start + timedelta(minutes=1)).astimezone(UTC))
        event.add("summary", f"Pitstop maintenance: {window.title}")
        event.add("description", f"{_describe(window)}\n\nStatus: {status_url}")
        event.add("url", status_url)
        event.add("status", "CANCELLED" if window.status == CANCELLED else "CONFIRMED")
        event.add("transp", "TRANSPARENT")  # it does not make anyone busy
        if window.rrule:
            event.add("rrule", vRecur.from_ical(window.rrule.removeprefix("RRULE:")))
        if window.status not in (CANCELLED, COMPLETED):
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"Pitstop maintenance in 1 hour: {window.title}")
            alarm.add("trigger", timedelta(hours=-1))
            event.add_component(alarm)
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _one_per_series(windows: Iterable[MaintenanceWindow]) -> list[MaintenanceWindow]:
    """A recurring series is one event (its newest occurrence, with the RRULE)."""
    newest: dict[int, MaintenanceWindow] = {}
    for window in windows:
        key = window.series_id or window.id
        if key not in newest or window.starts_at > newest[key].starts_at:
            newest[key] = window
    return sorted(newest.values(), key=lambda x: x.starts_at)
