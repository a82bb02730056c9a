"""Uptime from what really happened: windows as they really ran, incidents as they were."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from pitstop.availability.windows import MaintenanceWindow
from pitstop.status.history import component_history
from pitstop.status.incidents import Incident

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=200)


def window(start: datetime, end: datetime | None, **kw: object) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=1, title="W", reason="other", description="", components=kw.pop("components", ()),  # type: ignore[arg-type]
        mode=kw.pop("mode", "full"), status="completed" if end else "in_progress",  # type: ignore[arg-type]
        starts_at=start, expected_end=start + timedelta(hours=1), started_at=start, ended_at=end,
    )  # fmt: skip


def test_a_full_window_is_downtime_on_the_day_it_really_ran() -> None:
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    h = component_history(
        "vehicle_data",
        [window(start, start + timedelta(hours=1, minutes=12))],
        [],
        now=NOW,
        since=SINCE,
    )
    day = next(d for d in h.days if d.date == date(2026, 11, 20))
    assert day.state == "maintenance" and day.down_minutes == 72
    assert day.uptime == pytest.approx(1 - 72 / 1440)
    assert h.days[-1].date == NOW.date() and h.days[-1].uptime == 1.0
    assert len(h.days) == 90
    assert h.uptime == pytest.approx(1 - 72 * 60 / ((89 * 86400) + 12 * 3600))


def test_a_window_elsewhere_or_read_only_is_not_downtime() -> None:
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    elsewhere = window(start, start + timedelta(hours=1), components=("charging",))
    read_only = window(start, start + timedelta(hours=1), mode="read_only")
    h = component_history("vehicle_data", [elsewhere, read_only], [], now=NOW, since=SINCE)
    day = next(d for d in h.days if d.date == date(2026, 11, 20))
    assert day.state == "degraded" and day.uptime == 1.0


def test_an_outage_counts_once_where_it_overlaps_maintenance_and_wins_the_colour() -> None:
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    incident = Incident(cause="database", title="DB", components=("vehicle_data",), impact="outage",
                        started_at=start + timedelta(minutes=30), resolved_at=start + timedelta(minutes=90))  # fmt: skip
    h = component_history(
        "vehicle_data",
        [window(start, start + timedelta(hours=1))],
        [incident],
        now=NOW,
        since=SINCE,
    )
    day = next(d for d in h.days if d.date == date(2026, 11, 20))
    assert day.state == "outage" and day.down_minutes == 90


def test_something_still_going_on_counts_until_now_and_days_before_records_have_no_figure() -> None:
    start = NOW - timedelta(hours=2)
    h = component_history(
        "vehicle_data", [window(start, None)], [], now=NOW, since=NOW - timedelta(days=3)
    )
    assert h.days[-1].down_minutes == 120 and h.days[-1].state == "maintenance"
    assert [d.state for d in h.days[:-4]] == ["no_data"] * 86 and h.days[0].uptime is None
    assert h.uptime == pytest.approx(1 - 7200 / (3 * 86400))
