"""The watcher's memory of what was sent, read back from a real outbox (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pitstop.alerts import watcher as watcher_module
from pitstop.alerts.rules import Alert, Rules
from pitstop.alerts.watcher import AlertWatcher, alert_key
from pitstop.clock import ManualClock
from pitstop.db import create_engine, migrate
from pitstop.db.tables import notifications
from pitstop.settings import async_database_url

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RULES = Rules()


def test_alerts_decided_in_one_interval_share_their_key_and_the_next_interval_does_not() -> None:
    t = NOW.timestamp()
    slot_start = t - t % RULES.min_interval
    one = Alert("left_unlocked", slot_start + 5, {})
    same = Alert("left_unlocked", slot_start + RULES.min_interval - 1, {})
    later = Alert("left_unlocked", slot_start + RULES.min_interval, {})
    assert alert_key(7, one, RULES) == alert_key(7, same, RULES)
    assert alert_key(7, one, RULES) != alert_key(7, later, RULES)
    assert alert_key(7, one, RULES) != alert_key(8, one, RULES)
    assert alert_key(7, one, RULES).startswith("alert:7:left_unlocked:")


@pytest.mark.parametrize("few", [20, 0])  # by key prefix, and everything at once
async def test_what_was_sent_is_read_back_per_car_and_kind(
    database_url: str, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_module, "FEW", few)
    engine = create_engine(async_database_url(database_url))
    try:
        await migrate(engine)
        rows = [
            ("alert:11:battery_low:100", NOW - timedelta(hours=3)),
            ("alert:11:battery_low:101", NOW - timedelta(hours=1)),
            ("alert:11:left_unlocked:101", NOW - timedelta(minutes=5)),
            ("alert:12:service_due:90", NOW - timedelta(days=2)),
            ("alert:12:service_due:1", NOW - timedelta(days=30)),  # too old to matter
            ("alert:111:battery_low:101", NOW - timedelta(minutes=1)),  # another car
            ("maintenance:5:0:scheduled", NOW - timedelta(minutes=1)),
        ]
        async with engine.begin() as conn:
            await conn.execute(
                notifications.insert(),
                [
                    {"key": key, "topic": "alert.battery_low", "data": {}, "created_at": at}
                    for key, at in rows
                ],
            )
        watcher = AlertWatcher(
            states=None,  # type: ignore[arg-type]
            hub=None,  # type: ignore[arg-type]
            notifier=None,  # type: ignore[arg-type]
            engine=engine,
            clock=ManualClock(NOW),
            rules=RULES,
        )
        sent = await watcher._sent_before([11, 12, 13])
        assert sent == {
            11: {
                "battery_low": (NOW - timedelta(hours=1)).timestamp(),
                "left_unlocked": (NOW - timedelta(minutes=5)).timestamp(),
            },
            12: {"service_due": (NOW - timedelta(days=2)).timestamp()},
        }
    finally:
        await engine.dispose()
