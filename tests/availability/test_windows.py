"""The rules of maintenance windows and of Retry-After, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pitstop.availability.answer import RetryPolicy
from pitstop.availability.windows import (
    MaintenanceWindow,
    WindowError,
    WindowRequest,
    check_request,
    next_occurrence,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _request(**changes: object) -> WindowRequest:
    base: dict[str, object] = {
        "title": "Database upgrade",
        "reason": "hardware_upgrade",
        "starts_at": NOW + timedelta(hours=1),
        "duration_minutes": 30,
    }
    return WindowRequest(**(base | changes))  # type: ignore[arg-type]


def _window(**changes: object) -> MaintenanceWindow:
    base: dict[str, object] = {
        "id": 1,
        "title": "t",
        "reason": "other",
        "description": "",
        "components": (),
        "mode": "full",
        "status": "scheduled",
        "starts_at": NOW,
        "expected_end": NOW + timedelta(minutes=30),
    }
    return MaintenanceWindow(**(base | changes))  # type: ignore[arg-type]


def test_a_valid_request_gives_start_and_end() -> None:
    assert check_request(_request(), NOW) == (
        NOW + timedelta(hours=1),
        NOW + timedelta(hours=1, minutes=30),
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"reason": "vibes"}, "reason", "Unknown reason"),
        ({"components": ["vehicle_data", "coffee"]}, "components", "coffee"),
        ({"mode": "half"}, "mode", "Unknown mode"),
        ({"duration_minutes": None, "expected_end": NOW}, "expected_end", "ends before it starts"),
        ({"expected_end": NOW + timedelta(hours=2)}, "expected_end", "either"),
        ({"duration_minutes": -5}, "duration_minutes", "positive"),
        ({"title": "  "}, "title", "title"),
        ({"starts_at": datetime(2026, 12, 1, 11, 0)}, "starts_at", "time zone"),
        ({"starts_at": NOW - timedelta(hours=2)}, "expected_end", "over already"),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule", "recurrence"),
    ],
)
def test_bad_requests_are_refused_with_the_field_at_fault(
    changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(WindowError) as caught:
        check_request(_request(**changes), NOW)
    assert caught.value.field == field and words in str(caught.value)


def test_overlap_needs_shared_scope_and_time() -> None:
    data = _window(components=("vehicle_data",))
    later = _window(starts_at=NOW + timedelta(minutes=30), expected_end=NOW + timedelta(hours=1))
    assert data.overlaps(_window())  # the whole service includes vehicle_data
    assert not data.overlaps(_window(components=("charging",)))
    assert not data.overlaps(later)  # back to back is fine
    assert not _window().overlaps(_window(components=("vehicle_link",)))


def test_every_tuesday_at_two_for_thirty_minutes() -> None:
    tuesday = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    window = _window(
        starts_at=tuesday,
        expected_end=tuesday + timedelta(minutes=30),
        rrule="FREQ=WEEKLY;BYDAY=TU",
    )
    start, end = next_occurrence(window) or (None, None)
    assert start == tuesday + timedelta(days=7) and end == start + timedelta(minutes=30)
    assert next_occurrence(_window()) is None
    once_more = _window(starts_at=tuesday, rrule="FREQ=WEEKLY;COUNT=1")
    assert next_occurrence(once_more) is None


def test_retry_after_has_a_floor_a_cap_and_per_client_jitter() -> None:
    policy = RetryPolicy(floor=5, cap=3600, jitter=60)
    assert policy.seconds(0.4, "a") == 5
    assert policy.seconds(10 * 3600, "a") == 3600
    spread = {policy.seconds(1800, f"client-{i}") for i in range(200)}
    assert min(spread) >= 1800 and max(spread) <= 1860
    assert len(spread) > 30  # clients do not all come back in the same second
    assert policy.seconds(1800, "same") == policy.seconds(1800, "same")  # stable per client
    # A short wait gets a proportionally short spread.
    assert all(20 <= policy.seconds(20, f"c{i}") <= 24 for i in range(50))
