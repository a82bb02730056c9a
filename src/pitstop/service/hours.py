"""Opening hours and the slots they make: pure rules, no I/O.

A center's hours are given per weekday in its own time zone, e.g.
`{"mon": ["08:00-12:00", "13:00-17:00"], "sat": ["09:00-13:00"]}` (a day not named is closed).
Slots are cut from each opening span, `slot_minutes` long, in local time; each becomes an instant
through the center's zone, so a slot at 08:00 stays at 08:00 local across a daylight-saving
change. A local time that does not exist (skipped by the change) is no slot; one that exists
twice (repeated by it) is a slot once, at its first occurrence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

#: What one weekday's hours look like in a request: `["08:00-12:00", "13:00-17:00"]`.
Hours = Mapping[str, Sequence[str]]


class HoursError(ValueError):
    """Opening hours, a zone or a slot length that cannot be used; `field` names which."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a HoursError on the `timezone` field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(
            f"{name!r} is not a time zone; use an IANA name like Europe/Berlin.", "timezone"
        ) from exc


def _minutes(hh: str, mm: str) -> int:
    return int(hh) * 60 + int(mm)


def parse_spans(day: str, spans: Sequence[str]) -> list[tuple[int, int]]:
    """`["08:00-12:00"]` as `[(480, 720)]` (minutes after local midnight), checked and sorted."""
    out: list[tuple[int, int]] = []
    for text in spans:
        match = _SPAN.match(text.strip())
        if match is None:
            raise HoursError(f"{text!r} is not a span of time like 08:00-17:00.", f"hours.{day}")
        start, end = _minutes(match[1], match[2]), _minutes(match[3], match[4])
        if end > 24 * 60 or end <= start:
            raise HoursError(f"{text!r} ends before it starts.", f"hours.{day}")
        out.append((start, end))
    out.sort()
    for (_, end), (start, _) in itertools.pairwise(out):
        if start < end:
            raise HoursError(f"The opening spans on {day} overlap.", f"hours.{day}")
    return out


def normalize(hours: Hours) -> dict[str, list[str]]:
    """Opening hours checked and in their stored form: every weekday, sorted spans."""
    unknown = [d for d in hours if d not in WEEKDAYS]
    if unknown:
        raise HoursError(
            f"Unknown weekday {unknown[0]!r}: use {', '.join(WEEKDAYS)}.", f"hours.{unknown[0]}"
        )
    out: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        spans = parse_spans(day, hours.get(day, ()))
        out[day] = [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans]
    if not any(out.values()):
        raise HoursError("A service center needs to be open on at least one day.", "hours")
    return out


def check_slot_minutes(minutes: int) -> int:
    if not 5 <= minutes <= 8 * 60:
        raise HoursError("A slot lasts between 5 minutes and 8 hours.", "slot_minutes")
    return minutes


def check_capacity(capacity: int) -> int:
    if not 1 <= capacity <= 100:
        raise HoursError("The capacity (bays per slot) is between 1 and 100.", "capacity")
    return capacity


def local_instant(day: date, minute: int, tz: ZoneInfo) -> datetime | None:
    """`day` at `minute` after midnight in `tz`, as UTC; None if that local time does not exist."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    local = naive.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != naive:
        return None  # skipped by a daylight-saving change
    return instant


def day_slots(
    day: date, hours: Mapping[str, Sequence[str]], slot_minutes: int, tz: ZoneInfo
) -> Iterator[datetime]:
    """The slot starts of local `day`, in order, as UTC instants."""
    spans = parse_spans(WEEKDAYS[day.weekday()], hours.get(WEEKDAYS[day.weekday()], ()))
    for start, end in spans:
        minute = start
        while minute + slot_minutes <= end:
            instant = local_instant(day, minute, tz)
            if instant is not None:
                yield instant
            minute += slot_minutes


def slots_between(
    first: date, days: int, hours: Mapping[str, Sequence[str]], slot_minutes: int, tz: ZoneInfo
) -> list[datetime]:
    """Every slot start of `days` local days from `first`."""
    return [
        s for n in range(days) for s in day_slots(first + timedelta(n), hours, slot_minutes, tz)
    ]


def is_slot(
    when: datetime, hours: Mapping[str, Sequence[str]], slot_minutes: int, tz: ZoneInfo
) -> bool:
    """Whether `when` is exactly the start of one of the center's slots."""
    return when.astimezone(UTC) in day_slots(when.astimezone(tz).date(), hours, slot_minutes, tz)


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where local `day` begins and the next one begins (23 or 25 h apart on DST days)."""
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end
