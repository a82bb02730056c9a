"""Notification tests: a manual clock near real time (webhook signatures carry timestamps),
a real SMTP server, and settings that point the server at it with short retry waits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pitstop.clock import ManualClock
from pitstop.settings import Settings, load_settings
from tests.notify.support import MAX_ATTEMPTS, SmtpSink
from tests.world import Account, World


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpSink) -> Settings:
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        public_url="https://pitstop.test",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="Pitstop <noreply@pitstop.test>",
        smtp_timeout=5.0,
        notify_max_attempts=MAX_ATTEMPTS,
        notify_backoff_base=10.0,
        notify_backoff_cap=600.0,
        notify_lease=60.0,
        webhook_timeout=5.0,
    )


@pytest.fixture
async def ada(world: World) -> Account:
    return await world.account("ada@example.com")


@pytest.fixture
async def ops(world: World) -> AsyncIterator[httpx.AsyncClient]:
    operator = await world.account("ops@example.com", role="operator")
    async with world.client(operator.token) as http:
        yield http
