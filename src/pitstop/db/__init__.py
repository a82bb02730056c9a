"""Storage: the tables, the engine and the migrations. SQLite by default, PostgreSQL when configured."""

from pitstop.db.engine import create_engine, is_postgres, upsert
from pitstop.db.migrate import migrate
from pitstop.db.tables import metadata

__all__ = ["create_engine", "is_postgres", "metadata", "migrate", "upsert"]
