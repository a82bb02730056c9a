"""Reading the times and durations operators type (pure functions: `now` is handed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pitstop.cli.when import WhenError, parse_duration, parse_when

NOW = datetime(2026, 11, 24, 13, 5, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("30", 30), ("2h", 120), ("1h30m", 90), ("1h 30m", 90), ("90s", 1.5),
     ("1d", 1440), ("1.5h", 90), ("2 hours", 120)],
)  # fmt: skip
def test_durations(text: str, minutes: float) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "A duration is needed"), ("-5m", "negative"), ("0", "no time at all"),
     ("5 parsecs", "'parsecs' is not a unit"), ("1h1h", "same unit twice"),
     ("400d", "more than a year"), ("soon", "is not a duration")],
)  # fmt: skip
def test_bad_durations_say_what_was_expected(text: str, says: str) -> None:
    with pytest.raises(WhenError, match=says):
        parse_duration(text)


def test_now_and_in() -> None:
    assert parse_when("now", now=NOW) == NOW
    assert parse_when("in 10m", now=NOW) == NOW + timedelta(minutes=10)
    assert parse_when("In 1h30m", now=NOW) == NOW + timedelta(minutes=90)


def test_iso_with_an_offset_and_a_local_time_in_the_readers_zone() -> None:
    assert parse_when("2026-12-01T02:00:00Z", now=NOW) == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert parse_when("2026-12-01T02:00+01:00", now=NOW) == datetime(2026, 12, 1, 1, tzinfo=UTC)
    # No offset: the reader's zone (Berlin is UTC+1 in winter).
    assert parse_when("2026-12-01 02:00", now=NOW, tz=BERLIN) == datetime(
        2026, 12, 1, 1, tzinfo=UTC
    )


def test_a_named_zone_follows_daylight_saving() -> None:
    assert parse_when("2026-12-01 02:00 Europe/Berlin", now=NOW) == datetime(
        2026, 12, 1, 1, tzinfo=UTC
    )
    assert parse_when("2027-07-01 02:00 Europe/Berlin", now=NOW) == datetime(
        2027, 7, 1, 0, tzinfo=UTC
    )
    assert parse_when("2026-12-01 02:00 UTC", now=NOW, tz=BERLIN) == datetime(
        2026, 12, 1, 2, tzinfo=UTC
    )


def test_today_and_tomorrow_at_a_time() -> None:
    assert parse_when("tomorrow 02:00", now=NOW, tz=BERLIN) == datetime(2026, 11, 25, 1, tzinfo=UTC)
    assert parse_when("today at 23:30 UTC", now=NOW) == datetime(2026, 11, 24, 23, 30, tzinfo=UTC)


def test_times_a_clock_change_skips_or_repeats_are_refused_not_guessed() -> None:
    with pytest.raises(WhenError, match="does not exist in Europe/Berlin"):
        parse_when("2027-03-28 02:30 Europe/Berlin", now=NOW)
    with pytest.raises(WhenError, match="happens twice in Europe/Berlin"):
        parse_when("2026-10-25 02:30 Europe/Berlin", now=NOW)


@pytest.mark.parametrize(
    ("text", "says"),
    [("2026-12-01", "has no time of day"), ("2026-12-01 02:00 Mars/Olympus", "is not a time zone"),
     ("next tuesday", "is not a time like"), ("in forever", "after 'in' comes a duration"),
     ("tomorrow 25:00", "is not a time of day"),
     ("2026-12-01T02:00+01:00 Europe/Berlin", "both an offset and a zone")],
)  # fmt: skip
def test_bad_times_say_what_was_expected(text: str, says: str) -> None:
    with pytest.raises(WhenError, match=says):
        parse_when(text, now=NOW, tz=BERLIN)
