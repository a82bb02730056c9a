"""Windows in the database: transitions, audit, overlaps, recurrence, and exactly-once claims."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from pitstop.app import build_runtime
from pitstop.availability.store import NotFound
from pitstop.availability.windows import WindowError, WindowRequest
from pitstop.clock import ManualClock
from pitstop.db import migrate
from pitstop.runtime import Runtime
from pitstop.settings import Settings


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings, ManualClock())
    await migrate(runtime.engine)
    yield runtime
    await runtime.engine.dispose()


def _req(
    rt: Runtime, *, in_minutes: float = 60, minutes: float = 30, **extra: object
) -> WindowRequest:
    return WindowRequest(
        title="Database upgrade",
        reason="hardware_upgrade",
        starts_at=rt.clock.now() + timedelta(minutes=in_minutes),
        duration_minutes=minutes,
        **extra,  # type: ignore[arg-type]
    )


async def test_a_window_lives_its_life_and_every_step_is_audited(rt: Runtime) -> None:
    store = rt.windows
    window = await store.schedule(_req(rt, components=["vehicle_data"]), "ops@example.com")
    assert window.status == "scheduled" and window.components == ("vehicle_data",)
    started = await store.start(window.id, "ops@example.com")
    assert started is not None and started.status == "in_progress"
    # Started 60 min early: the planned 30 minutes still apply.
    assert started.expected_end - started.starts_at == timedelta(minutes=30)
    extended = await store.extend(
        window.id, 15, "ops@example.com", message="Index rebuild is slow."
    )
    assert extended.expected_end == started.expected_end + timedelta(minutes=15)
    await store.post_update(window.id, "Halfway there.", "ops@example.com")
    done = await store.finish(window.id, "ops@example.com")
    assert done is not None and done.status == "completed" and done.ended_at is not None
    assert [u.kind for u in done.updates] == [
        "scheduled",
        "started",
        "extended",
        "updated",
        "finished",
    ]
    assert done.updates[2].message == "Index rebuild is slow."
    assert done.version == 5
    audit = await store.audit(window.id)
    assert [a["action"] for a in audit] == [
        "scheduled",
        "started",
        "extended",
        "updated",
        "finished",
    ]
    assert all(a["actor"] == "ops@example.com" for a in audit)
    assert audit[2]["detail"]["minutes"] == 15


async def test_forbidden_transitions_change_nothing(rt: Runtime) -> None:
    store = rt.windows
    window = await store.schedule(_req(rt), "ops")
    with pytest.raises(WindowError, match="only one in progress"):
        await store.finish(window.id, "ops")
    await store.start(window.id, "ops")
    with pytest.raises(WindowError, match="finish it instead"):
        await store.cancel(window.id, "ops")
    await store.finish(window.id, "ops")
    with pytest.raises(WindowError, match="cannot be extended") as caught:
        await store.extend(window.id, 10, "ops")
    assert caught.value.conflict
    with pytest.raises(WindowError, match="positive"):
        await store.extend(window.id, 0, "ops")
    with pytest.raises(NotFound):
        await store.get(999)
    assert (await store.get(window.id)).version == 3


async def test_overlapping_windows_in_the_same_scope_need_force(rt: Runtime) -> None:
    store = rt.windows
    await store.schedule(_req(rt, components=["vehicle_data"]), "ops")
    with pytest.raises(WindowError, match="overlaps") as caught:
        await store.schedule(_req(rt, in_minutes=70), "ops")
    assert caught.value.conflict
    await store.schedule(_req(rt, in_minutes=70, components=["charging"]), "ops")  # other scope
    forced = await store.schedule(_req(rt, in_minutes=70, force=True), "ops")
    assert forced.status == "scheduled"
    assert len(await store.active()) == 3


async def test_a_cancelled_window_stays_on_record(rt: Runtime) -> None:
    window = await rt.windows.schedule(_req(rt), "ops")
    cancelled = await rt.windows.cancel(window.id, "ops", message="Not needed after all.")
    assert (
        cancelled.status == "cancelled" and cancelled.updates[-1].message == "Not needed after all."
    )
    assert await rt.windows.active() == []


async def test_a_recurring_window_schedules_its_next_occurrence(rt: Runtime) -> None:
    store = rt.windows
    window = await store.schedule(_req(rt, rrule="FREQ=WEEKLY;BYDAY=MO,TH"), "ops")
    await store.start(window.id, "ops", due_by=window.starts_at)
    await store.finish(window.id, "ops")
    (following,) = await store.active()
    assert following.series_id == window.id and following.rrule == window.rrule
    assert following.starts_at > window.starts_at
    assert following.starts_at.strftime("%a") in {"Mon", "Thu"}
    assert following.expected_end - following.starts_at == timedelta(minutes=30)


async def test_exactly_one_process_makes_a_due_transition(rt: Runtime, settings: Settings) -> None:
    window = await rt.windows.schedule(_req(rt, in_minutes=1), "ops")
    # Five "processes": separate engines on the same database, racing for the same start.
    others = [build_runtime(settings, rt.clock) for _ in range(5)]
    try:
        due = rt.clock.now() + timedelta(minutes=2)
        results = await asyncio.gather(
            *(o.windows.start(window.id, "scheduler", due_by=due) for o in others)
        )
        assert sum(r is not None for r in results) == 1
        audit = await rt.windows.audit(window.id)
        assert [a["action"] for a in audit] == ["scheduled", "started"]
    finally:
        for o in others:
            await o.engine.dispose()


async def test_a_transition_that_is_not_due_is_not_made(rt: Runtime) -> None:
    window = await rt.windows.schedule(_req(rt, in_minutes=10), "ops")
    assert await rt.windows.start(window.id, "scheduler", due_by=rt.clock.now()) is None
    assert (await rt.windows.get(window.id)).status == "scheduled"


async def test_windows_survive_a_restart(rt: Runtime, settings: Settings) -> None:
    window = await rt.windows.schedule(_req(rt), "ops")
    await rt.windows.start(window.id, "ops")
    again = build_runtime(settings, rt.clock)
    try:
        await again.maintenance.refresh()
        closing = again.maintenance.closing("vehicle_data")
        assert closing is not None and closing.id == window.id
    finally:
        await again.engine.dispose()
