"""Engine helpers: one async engine per process, SQLite tuned for concurrent readers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pitstop.settings import async_database_url


def is_postgres(engine: AsyncEngine | AsyncConnection) -> bool:
    return engine.dialect.name == "postgresql"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; SQLite files get WAL, a busy timeout and foreign keys."""
    url = async_database_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    # Fail fast when the database is unreachable or stuck: a request waits seconds, not minutes,
    # before it becomes a 503 the client can retry.
    kwargs.setdefault("pool_timeout", 5)
    kwargs.setdefault("connect_args", {"timeout": 5, "command_timeout": 15})
    return create_async_engine(url, **kwargs)


def upsert(
    conn: AsyncConnection,
    table: sa.Table,
    *,
    index_elements: list[str],
    update: list[str] | None = None,
) -> Any:
    """INSERT ... ON CONFLICT in the dialect of `conn`; `update=None` means DO NOTHING."""
    dialect: Any = postgresql if is_postgres(conn) else sqlite
    stmt = dialect.insert(table)
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=index_elements)
    return stmt.on_conflict_do_update(
        index_elements=index_elements, set_={c: stmt.excluded[c] for c in update}
    )
