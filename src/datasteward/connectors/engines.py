"""SQLAlchemy engines for company databases: one per system, with the
driver chosen from the URL and the connection rules each database needs,
and database errors described without the driver's text (which may quote
the values of a row)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from datasteward.connectors.reflect import ConnectorError
from datasteward.errors import one_line

__all__ = ["describe_error", "first_line", "make_engine"]

_SQLITE_BUSY_TIMEOUT_S = 30.0

_MYSQL = frozenset({"mysql", "mariadb"})


def describe_error(error: DBAPIError) -> str:
    """The error's class and SQLSTATE or server error number."""
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    if state is None and orig is not None and orig.args and isinstance(orig.args[0], int):
        state = orig.args[0]
    kind = type(orig).__name__ if orig is not None else type(error).__name__
    return f"{kind}, code {state}" if state is not None else kind


def first_line(error: DBAPIError) -> str:
    text = str(error.orig) if error.orig is not None else str(error)
    return one_line(text.strip().splitlines()[0] if text.strip() else type(error).__name__)[:300]


def make_engine(url: str, system: str) -> Engine:
    """An engine for ``url`` (never echoed: it may hold a password).
    ``postgresql://`` uses psycopg 3; ``mysql://`` and ``mariadb://`` use
    PyMySQL with utf8mb4."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConnectorError(
            f"the connection URL of system '{system}' is not a database URL "
            "(expected e.g. postgresql://user@host/db, mysql://user@host/db or "
            "sqlite:///path/to/file.db)",
            system=system,
        ) from None
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})
            _sqlite_rules(engine)
            return engine
        if backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            return create_engine(parsed, pool_pre_ping=True)
        if backend in _MYSQL:
            if "+" not in parsed.drivername:
                parsed = parsed.set(drivername=f"{backend}+pymysql")
            if "charset" not in parsed.query:
                parsed = parsed.update_query_dict({"charset": "utf8mb4"})
            return create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError:
        raise ConnectorError(
            f"system '{system}': no database driver for {parsed.drivername}", system=system
        ) from None
    raise ConnectorError(
        f"system '{system}': the connector reaches SQLite, PostgreSQL or MariaDB/MySQL, "
        f"not {backend}",
        system=system,
    )


def _sqlite_rules(engine: Engine) -> None:
    """SQLite: foreign keys enforced on the connector's own connections (so a
    parent row cannot be deleted before its children), and transactions begun
    explicitly so that reads and writes of one request share one snapshot:
    ``BEGIN IMMEDIATE`` takes the write lock up front, a read-only request
    asks for a deferred ``BEGIN``."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("steward_readonly"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
