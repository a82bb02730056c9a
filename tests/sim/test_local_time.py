"""The car's local time: days_of_week in Tesla's words and bitmask, weekdays, times of day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pitstop.sim.local_time import next_at, on_days, parse_days_of_week, weekday

SUNDAY, MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY = (1 << bit for bit in range(7))


@pytest.mark.parametrize(
    ("days", "mask"),
    [
        ("All", 127),
        ("Weekdays", MONDAY | TUESDAY | WEDNESDAY | THURSDAY | FRIDAY),
        ("Weekends", SATURDAY | SUNDAY),
        ("WEEKENDS", SATURDAY | SUNDAY),
        ("Saturday,Sunday", SATURDAY | SUNDAY),
        (" Monday , friday ", MONDAY | FRIDAY),
        ("Monday,", MONDAY),
        ("mon,tue,tues,wed,thu,thurs,fri", MONDAY | TUESDAY | WEDNESDAY | THURSDAY | FRIDAY),
        ("Weekdays,Saturday", 127 & ~SUNDAY),
        (65, SATURDAY | SUNDAY),
        ("65", SATURDAY | SUNDAY),
        (1, SUNDAY),
        (127, 127),
    ],
)
def test_days_of_week_in_words_or_as_a_bitmask(days: object, mask: int) -> None:
    assert parse_days_of_week(days) == mask


@pytest.mark.parametrize(
    ("days", "complaint"),
    [
        ("Weekend", "'Weekend', which is not a day"),
        ("Monday,Funday,Someday", "'Funday', 'Someday', which are not days"),
        ("", "is empty"),
        (" , ", "is empty"),
        (0, "from 1 to 127"),
        (128, "from 1 to 127"),
        ("300", "from 1 to 127"),
        (True, "bitmask or day names"),
        (None, "bitmask or day names"),
    ],
)
def test_days_of_week_the_car_cannot_read_are_an_error_that_says_why(
    days: object, complaint: str
) -> None:
    with pytest.raises(ValueError, match="days_of_week") as caught:
        parse_days_of_week(days)
    assert complaint in str(caught.value)


def test_weekdays_and_the_days_they_fall_on() -> None:
    saturday_night = datetime(2026, 1, 10, 23, 30, tzinfo=UTC).timestamp()
    assert weekday(saturday_night) == 5  # Monday is 0
    assert on_days(SATURDAY | SUNDAY, saturday_night)
    assert not on_days(MONDAY | TUESDAY | WEDNESDAY | THURSDAY | FRIDAY, saturday_night)
    sunday_10 = datetime(2026, 1, 11, 10, 0, tzinfo=UTC)
    assert next_at(saturday_night, 10 * 60) == int(sunday_10.timestamp())
