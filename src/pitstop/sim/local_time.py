"""The car's local time, which its schedules follow: minutes of the day and days of the week.

The car's local time is UTC. Times are epoch seconds (floats), times of day are minutes after
midnight. Tesla's days_of_week bitmask has Sunday as bit 0 (1) up to Saturday as bit 6 (64).
"""

from __future__ import annotations

import math

DAY_S = 86_400
MINUTES_PER_DAY = 1440
ALL_DAYS, WEEKDAYS, WEEKENDS = 0b1111111, 0b0111110, 0b1000001

_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

#: The words days_of_week may hold, lower case, and their bits: the day names in full and
#: shortened as Tesla's vehicle-command proxy reads them (sun, mon, tue/tues, wed, thu/thurs,
#: fri, sat), "all", "weekdays", and "weekends", which Pitstop's API and CLI offer as well.
DAY_WORDS: dict[str, int] = {
    **{name: 1 << bit for bit, name in enumerate(_DAY_NAMES)},
    **{name[:3]: 1 << bit for bit, name in enumerate(_DAY_NAMES)},
    "tues": 1 << 2,
    "thurs": 1 << 4,
    "all": ALL_DAYS,
    "weekdays": WEEKDAYS,
    "weekends": WEEKENDS,
}

_SAY_DAYS = "use All, Weekdays, Weekends or day names like Monday,Friday"


def parse_days_of_week(value: object) -> int:
    """Tesla's days_of_week as a bitmask.

    `value` is a bitmask from 1 to 127 (a number or its digits), or words separated by commas:
    "All", "Weekdays", "Weekends", day names ("Monday,Friday"). Raises ValueError, naming what
    it could not read, for anything else: a schedule must never quietly run on the wrong days.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        mask = value
    elif isinstance(value, str) and value.strip().isdigit():
        mask = int(value)
    elif isinstance(value, str):
        words = [word.strip() for word in value.split(",") if word.strip()]
        unknown = [word for word in words if word.lower() not in DAY_WORDS]
        if not words:
            raise ValueError(f"days_of_week is empty: {_SAY_DAYS}")
        if unknown:
            named = ", ".join(map(repr, unknown))
            which = "is not a day" if len(unknown) == 1 else "are not days"
            raise ValueError(f"days_of_week has {named}, which {which}: {_SAY_DAYS}")
        mask = 0
        for word in words:
            mask |= DAY_WORDS[word.lower()]
    else:
        raise ValueError(f"days_of_week must be a bitmask or day names, not {value!r}")
    if not 1 <= mask <= ALL_DAYS:
        raise ValueError(f"days_of_week as a bitmask must be from 1 to {ALL_DAYS}, not {mask}")
    return mask


def weekday(t: float) -> int:
    """Monday = 0 ... Sunday = 6 (the epoch began on a Thursday)."""
    return (math.floor(t / DAY_S) + 3) % 7


def on_days(mask: int, t: float) -> bool:
    """Whether the day of `t` is one of the days_of_week in `mask`."""
    return bool(mask & (1 << ((weekday(t) + 1) % 7)))  # Sunday is bit 0


def minute_of_day(t: float) -> float:
    return (t % DAY_S) / 60


def crossed(t0: float, t1: float, minute: int) -> bool:
    """Whether minute-of-day `minute` falls in (t0, t1]; steps are ≤ 1 s."""
    instant = math.floor(t1 / DAY_S) * DAY_S + (minute % MINUTES_PER_DAY) * 60
    return t0 < instant <= t1 or t0 < instant - DAY_S <= t1


def next_at(t: float, minute: int) -> int:
    """Epoch seconds of the next occurrence of minute-of-day `minute` after `t`."""
    instant = math.floor(t / DAY_S) * DAY_S + minute * 60
    return int(instant if instant > t else instant + DAY_S)
