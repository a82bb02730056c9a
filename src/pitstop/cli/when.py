"""Reading the times and durations operators type.

    parse_when("now", now=...)                             the moment given as `now`
    parse_when("in 10m", now=...)                          now plus a duration
    parse_when("2026-12-01T02:00:00Z", now=...)            ISO 8601 (without an offset: local time)
    parse_when("2026-12-01 02:00 Europe/Berlin", now=...)  a date and time in a named zone
    parse_when("tomorrow 02:00", now=...)                  today or tomorrow at a time of day

    parse_duration("30m") == parse_duration("30") == timedelta(minutes=30)
    parse_duration("1h30m"), parse_duration("2h"), parse_duration("90s"), parse_duration("1d")

`now` always comes from the caller (an injectable clock), never from the system here; so does
the local zone (default: `PITSTOP_TZ`, `TZ`, else the system's). A local time that does not
exist (skipped by a daylight-saving change) or exists twice (repeated by one) is refused
rather than guessed.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateparser

from pitstop.client._words import local_zone

__all__ = ["WhenError", "local_zone", "parse_duration", "parse_when", "zone"]


class WhenError(ValueError):
    """A time or duration that cannot be read; the message says what was expected."""


# --- durations ---------------------------------------------------------------------------------

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_PART = r"(\d+(?:\.\d+)?)\s*([a-z]+)"
_PARTS = re.compile(rf"^(?:{_PART}\s*)+$")
_DURATION_EXAMPLES = "like 30m, 2h, 1h30m, 90s or 45 (minutes)"
_LONGEST = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `1h30m`, `1h 30m`, `90s`, `1d`, `1.5h`, `2 hours`; a bare number is minutes."""
    raw = text.strip().lower()
    if not raw:
        raise WhenError(f"A duration is needed, {_DURATION_EXAMPLES}.")
    if raw.startswith("-"):
        raise WhenError(f"{text!r} is negative: a duration must be positive.")
    try:
        seconds = float(raw) * 60
    except ValueError:
        seconds = _sum_of_parts(text, raw)
    if not math.isfinite(seconds):
        raise WhenError(f"{text!r} is not a duration {_DURATION_EXAMPLES}.")
    if seconds <= 0:
        raise WhenError(f"{text!r} is no time at all: a duration must be positive.")
    if seconds > _LONGEST.total_seconds():
        raise WhenError(f"{text!r} is more than a year.")
    return timedelta(seconds=seconds)


def _sum_of_parts(text: str, raw: str) -> float:
    if not _PARTS.match(raw):
        raise WhenError(f"{text!r} is not a duration {_DURATION_EXAMPLES}.")
    seconds = 0.0
    seen: set[int] = set()
    for number, name in re.findall(_PART, raw):
        unit = _UNITS.get(name)
        if unit is None:
            raise WhenError(f"{text!r}: {name!r} is not a unit; use s, m, h or d.")
        if unit in seen:
            raise WhenError(f"{text!r} gives the same unit twice.")
        seen.add(unit)
        seconds += float(number) * unit
    return seconds


# --- time zones --------------------------------------------------------------------------------


def zone(name: str) -> tzinfo:
    """The IANA zone `name` (e.g. Europe/Berlin, UTC), or a WhenError."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise WhenError(
            f"{name!r} is not a time zone; use a name like Europe/Berlin or UTC."
        ) from exc


def _zone_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz)


def _wall_clock(naive: datetime, tz: tzinfo, text: str) -> datetime:
    """`naive` as a wall-clock time in `tz`, refusing times a DST change skips or repeats."""
    first = naive.replace(tzinfo=tz, fold=0)
    exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive
    if not exists:
        raise WhenError(f"{text!r} does not exist in {_zone_name(tz)}: the clocks skip that hour.")
    if first.utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset():
        raise WhenError(
            f"{text!r} happens twice in {_zone_name(tz)} (the clocks go back that night); "
            "give the offset instead, e.g. 2026-10-25T02:30+02:00."
        )
    return first


# --- points in time ----------------------------------------------------------------------------

_IN = re.compile(r"^in\s+(.+)$")
_DAY_AT = re.compile(r"^(today|tomorrow)\s+(?:at\s+)?(\d{1,2}):(\d{2})(?:\s+(\S+))?$")
_ZONE_SUFFIX = re.compile(r"^(\d{4}-.*\d)\s+([A-Za-z][A-Za-z0-9_+\-/]*)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_WHEN_EXAMPLES = "now, in 10m, 2026-12-01T02:00:00Z or 2026-12-01 02:00 Europe/Berlin"


def parse_when(text: str, *, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The point in time `text` names, timezone-aware, in UTC.

    A time without an offset or a zone name is read in `tz` (default: `local_zone()`).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw = " ".join(text.split())
    lowered = raw.lower()
    if not raw:
        raise WhenError(f"A time is needed, like {_WHEN_EXAMPLES}.")
    if lowered == "now":
        return now.astimezone(UTC)
    if match := _IN.match(lowered):
        try:
            return (now + parse_duration(match[1])).astimezone(UTC)
        except WhenError as exc:
            raise WhenError(f"{text!r}: after 'in' comes a duration {_DURATION_EXAMPLES}.") from exc
    local = tz or local_zone()
    if match := _DAY_AT.match(lowered):
        where = zone(raw.split()[-1]) if match[4] else local
        hour, minute = int(match[2]), int(match[3])
        if hour > 23 or minute > 59:
            raise WhenError(f"{text!r}: {hour}:{minute:02d} is not a time of day.")
        day = now.astimezone(where).date() + timedelta(days=1 if match[1] == "tomorrow" else 0)
        naive = datetime(day.year, day.month, day.day, hour, minute)
        return _wall_clock(naive, where, text).astimezone(UTC)
    return _absolute(raw, text, local)


def _absolute(raw: str, text: str, local: tzinfo) -> datetime:
    where: tzinfo | None = None
    stamp = raw
    if match := _ZONE_SUFFIX.match(raw):
        stamp, where = match[1], zone(match[2])
    if not _DATE.match(stamp):
        raise WhenError(f"{text!r} is not a time like {_WHEN_EXAMPLES}.")
    if len(stamp) <= 10:
        raise WhenError(f"{text!r} has no time of day; add one, e.g. '{stamp} 02:00'.")
    try:
        parsed = dateparser.isoparse(stamp.replace(" ", "T", 1))
    except (ValueError, OverflowError):
        try:
            parsed = dateparser.parse(stamp, yearfirst=True)
        except (ValueError, OverflowError) as exc:
            raise WhenError(f"{text!r} is not a time like {_WHEN_EXAMPLES}.") from exc
    if parsed.tzinfo is not None:
        if where is not None:
            raise WhenError(f"{text!r} gives both an offset and a zone; give one of them.")
        return parsed.astimezone(UTC)
    return _wall_clock(parsed, where or local, text).astimezone(UTC)
