"""Connections to the engine store: SQLite by default, PostgreSQL by URL.

SQLite is opened in WAL mode with foreign keys on, and every writing
transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
for the lock up front instead of failing half-way (which would otherwise be
the way two appenders could fork a hash chain). Read-only work asks for a
deferred ``BEGIN`` through the ``steward_readonly`` execution option."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

from datasteward.errors import StoreError

__all__ = ["READONLY", "is_sqlite", "make_engine"]

READONLY = {"steward_readonly": True}
"""Pass to ``connection.execution_options(**READONLY)`` for read-only work."""

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, secure_delete: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the engine's connection rules applied.

    ``secure_delete`` makes SQLite overwrite deleted content with zeros (used
    for the key store, so a destroyed key does not linger in free pages)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {_redact(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _sqlite_rules(engine, secure_delete=secure_delete)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    raise StoreError(
        f"the engine store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()}"
    )


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable>"


def _sqlite_rules(engine: Engine, *, secure_delete: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if secure_delete:
            cursor.execute("PRAGMA secure_delete=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("steward_readonly"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
