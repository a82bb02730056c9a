"""Running the `pitstop` command in tests, against a real server.

The CLI runs `asyncio.run` itself, so each invocation runs in a worker thread while the server
keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pitstop.cli import app
from pitstop.client import set_testing

Invoke = Callable[..., Awaitable[Result]]


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    set_testing(True)  # the client retries reads without sleeping between tries
    yield
    set_testing(False)


@pytest.fixture
def pitstop(tmp_path: Path) -> Invoke:
    """`await pitstop("status", vin, token=..., url=...)`: run the CLI with a clean environment."""
    runner = CliRunner()

    async def invoke(
        *args: str,
        token: str | None = None,
        url: str | None = None,
        input: str | None = None,
        tz: str = "Europe/Berlin",
    ) -> Result:
        env = {
            "PITSTOP_URL": url,
            "PITSTOP_TOKEN": token,
            "PITSTOP_CONFIG_DIR": str(tmp_path / "config"),
            "PITSTOP_TZ": tz,
            "COLUMNS": "200",
        }
        return await asyncio.to_thread(runner.invoke, app, list(args), env=env, input=input)

    return invoke
