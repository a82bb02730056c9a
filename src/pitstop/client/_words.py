"""Times and waits as a person reads them: `14:30`, `14:30 tomorrow`, `in 12 min`, `3 h old`.

Shared by the client's sentences (a 503 said in words) and the command line's output. Times
are shown in the user's zone: `PITSTOP_TZ`, else `TZ`, else the system's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The environment variables naming the zone times are shown in, first match wins.
TZ_ENV = ("PITSTOP_TZ", "TZ")

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


#: Maintenance reasons (the server's enum) as words in a sentence.
REASONS = {
    "bug_fixes": "bug fixes",
    "performance": "performance improvements",
    "new_features": "new features",
    "security_update": "security update",
    "release_preparation": "release preparation",
    "hardware_upgrade": "hardware upgrade",
    "configuration": "configuration changes",
    "other": "other work",
}


def reason_words(reason: str) -> str:
    """`security_update` as `security update` (an unknown reason as itself, in words)."""
    return REASONS.get(reason, reason.replace("_", " "))


def local_zone(env: Mapping[str, str] | None = None) -> tzinfo:
    """The zone to read and show times in: `PITSTOP_TZ`, else `TZ`, else the system's."""
    env = os.environ if env is None else env
    for key in TZ_ENV:
        name = (env.get(key) or "").strip().lstrip(":")
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue  # e.g. a POSIX TZ string: the system's zone follows it anyway
    system = datetime.now().astimezone().tzinfo
    return system if system is not None else UTC


def as_utc(value: object) -> datetime | None:
    """An ISO 8601 string (or datetime) from JSON as an aware UTC datetime; None if it is not one.

    A time without an offset is taken as UTC, as the server writes them.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_duration(delta: timedelta | float) -> str:
    """`45 s`, `12 min`, `1 h 30 min`, `2 days 3 h`; beyond a minute, rounded up to the minute."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60 - 1e-9)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def format_age(delta: timedelta | float) -> str:
    """How old something is, rounded down: `40 s`, `14 min`, `3 h 5 min`, `2 days 1 h`."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    return format_duration(60 * (seconds // 60))


def relative(when: datetime, *, now: datetime) -> str:
    """`in 12 min`, `12 min ago`, or `now`."""
    seconds = (when - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    if seconds > 0:
        return f"in {format_duration(seconds)}"
    return f"{format_duration(-seconds)} ago"


def day_name(day: date, today: date) -> str:
    """`today`, `tomorrow`, `yesterday`, or `Tue 6 Jan` (with the year if it is not this one)."""
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    if day == today - timedelta(days=1):
        return "yesterday"
    text = f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def clock_at(when: datetime, *, now: datetime, tz: tzinfo) -> str:
    """`14:30` if that is today in `tz`, else `14:30 tomorrow` or `14:30 on Tue 6 Jan`."""
    local = when.astimezone(tz)
    day = day_name(local.date(), now.astimezone(tz).date())
    if day == "today":
        return f"{local:%H:%M}"
    if day in ("tomorrow", "yesterday"):
        return f"{local:%H:%M} {day}"
    return f"{local:%H:%M} on {day}"


def timestamp(when: datetime, *, now: datetime, tz: tzinfo) -> str:
    """A full local time with its zone, for tables: `Mon 5 Jan 10:00 CET`."""
    local = when.astimezone(tz)
    day = f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"
    if local.year != now.astimezone(tz).year:
        day += f" {local.year}"
    return f"{day} {local:%H:%M} {local.tzname() or ''}".rstrip()


def wait_words(seconds: float | None) -> str:
    """`try again in 5 s`, `try again in about 12 min`, or `try again in a little while`."""
    if seconds is None:
        return "try again in a little while"
    if seconds < 90:
        return f"try again in {max(1, round(seconds))} s"
    return f"try again in about {round(seconds / 60)} min"
