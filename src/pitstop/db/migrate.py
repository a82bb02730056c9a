"""Run Alembic migrations from code: the server migrates on start, tests migrate fresh databases."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind `engine` up to `revision`."""
    async with engine.begin() as conn:

        def upgrade(sync_conn: object) -> None:
            config = alembic_config(str(engine.url))
            config.attributes["connection"] = sync_conn
            command.upgrade(config, revision)

        await conn.run_sync(upgrade)
