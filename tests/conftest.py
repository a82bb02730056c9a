"""Shared fixtures: a fresh real database per test (SQLite file and PostgreSQL), a real server.

Every test that takes `database_url` runs twice: on a SQLite file and on PostgreSQL (from
`PITSTOP_TEST_DATABASE_URL`). Under CI a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from pitstop.app import create_app
from pitstop.clock import Clock, SystemClock
from pitstop.settings import Settings, load_settings
from tests.world import World

PG_ENV = "PITSTOP_TEST_DATABASE_URL"


def _postgres_base() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: CI needs PostgreSQL")
        pytest.skip(f"{PG_ENV} is not set")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pitstop.db'}"
        return
    base = make_url(_postgres_base())
    name = f"pitstop_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=base.host,
        port=base.port or 5432,
        user=base.username or "postgres",
        database=base.database,
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield base.set(database=name, drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(
        host=base.host,
        port=base.port or 5432,
        user=base.username or "postgres",
        database=base.database,
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def clock() -> Clock:
    return SystemClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        telemetry_flush_interval=0.02,
        command_timeout=5.0,
    )


@pytest.fixture
async def world(settings: Settings, clock: Clock) -> AsyncIterator[World]:
    """A real server on a real port, with helpers to add owners, operators and cars."""
    app = create_app(settings, clock=clock)
    async with World.running(app, clock) as w:
        yield w
