"""Service tests run on a manual clock set to a known week (around a daylight-saving change)."""

from __future__ import annotations

import pytest

from pitstop.clock import ManualClock
from tests.service.support import START
from tests.world import Account, World


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def ops(world: World) -> Account:
    return await world.account("ops@example.com", role="operator")


@pytest.fixture
async def owner(world: World) -> Account:
    return await world.account("ada@example.com")
