"""Connections to the engine store: SQLite by default, PostgreSQL by URL.

SQLite is opened in WAL mode with foreign keys on, and every writing
transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue
for the lock up front instead of failing half-way (which would otherwise be
the way two appenders could fork a hash chain). Read-only work asks for a
deferred ``BEGIN`` through the ``steward_readonly`` execution option.

PostgreSQL connections are checked before use only when they sat idle in
the pool for a while (:data:`PING_AFTER_IDLE_S`): a connection dropped by a
server restart or an idle timeout is replaced before anything runs on it,
without the round trip that ``pool_pre_ping`` spends on every checkout (as
much as a whole cold decision)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError

from datasteward.errors import StoreError

__all__ = ["PING_AFTER_IDLE_S", "READONLY", "Prepared", "is_sqlite", "make_engine"]

READONLY = {"steward_readonly": True}
"""Pass to ``connection.execution_options(**READONLY)`` for read-only work."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 65_536
"""Page cache per SQLite connection (SQLite's default is 2 MiB): index
lookups and inserts in a store of a million subjects touch pages all over
the file."""
SQLITE_WAL_CHECKPOINT_PAGES = 10_000
"""Pages the write-ahead log may grow to (about 40 MiB) before a commit
copies them back into the database file (SQLite's default is 1,000). Appends
to a large store dirty index pages all over the file; checkpointing less
often writes each such page back once for many commits instead of once for
a few (in a quick test on a store of a million subjects, raw batches of
inserts went from about 4,000 to 5,000-12,000 rows per second)."""
SQLITE_MMAP_BYTES = 2**31 - 65_536
"""Read the database file through a memory map (up to about 2 GiB, SQLite's
usual build limit): a cold decision's index lookups then cost no ``read``
system calls. Mapped pages are the kernel's page cache, shared and
reclaimable, but they do count in a process's resident size."""

PING_AFTER_IDLE_S = 5.0
"""A pooled PostgreSQL connection idle longer than this is pinged on checkout."""

_IDLE_SINCE = "steward_idle_since"


class Prepared:
    """A Core statement compiled once for one dialect, run on the driver's
    own cursor inside a SQLAlchemy connection's transaction.

    For the hottest statements SQLAlchemy's per-execution work (cache-key
    walk, parameter processing, result objects) costs more than the query:
    this keeps the statement written in Core with every value a bound
    parameter, compiles it once, and returns plain tuples. Driver errors are
    raised as SQLAlchemy's own exception classes, as ``Connection.execute``
    would raise them."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)
        self.order = compiled.positiontup
        self.dialect = dialect
        self.error = dialect.loaded_dbapi.Error

    def params(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Run on ``connection``'s driver connection; all rows as tuples."""
        try:
            return self.rows_on(_driver(connection), values)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                connection.invalidate()  # as SQLAlchemy does: never back into the pool
            raise

    def rows_on(self, driver: Any, values: Mapping[str, Any]) -> list[Any]:
        """Run on a driver connection; a lost connection is reported through
        ``DBAPIError.connection_invalidated`` for the caller to discard it."""
        params = self.params(values)
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, params)
            return list(cursor.fetchall()) if cursor.description is not None else []
        except self.error as exc:
            raise self._wrapped(exc, params, driver, cursor) from exc
        finally:
            cursor.close()

    def many(self, connection: Connection, values: Sequence[Mapping[str, Any]]) -> None:
        """``executemany`` of a statement that returns nothing."""
        params = [self.params(v) for v in values]
        driver = _driver(connection)
        cursor = driver.cursor()
        try:
            cursor.executemany(self.sql, params)
        except self.error as exc:
            wrapped = self._wrapped(exc, params, driver, cursor)
            if wrapped.connection_invalidated:
                connection.invalidate()
            raise wrapped from exc
        finally:
            cursor.close()

    def _wrapped(self, exc: Any, params: Any, driver: Any, cursor: Any) -> DBAPIError:
        lost = self.dialect.is_disconnect(exc, driver, cursor)
        wrapped = DBAPIError.instance(
            self.sql, params, exc, self.error, connection_invalidated=lost, dialect=self.dialect
        )
        assert isinstance(wrapped, DBAPIError)  # a driver error always becomes one
        return wrapped


def _driver(connection: Connection) -> Any:
    """The driver connection under ``connection``, inside its transaction:
    begun here if nothing ran on it yet, as SQLAlchemy's own first statement
    would (so SQLite's ``BEGIN IMMEDIATE`` is never skipped)."""
    if not connection.in_transaction():
        connection.begin()
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - only after the connection was closed
        raise StoreError("the engine store connection is closed")
    return driver


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
        engine = create_engine(parsed, **kwargs)
        _ping_when_idle(engine)
        return engine
    raise StoreError(
        f"the engine store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()}"
    )


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable>"


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new, or used a moment ago
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another.
            raise DisconnectionError(str(exc)) from exc


def _sqlite_rules(engine: Engine, *, secure_delete: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        if secure_delete:
            cursor.execute("PRAGMA secure_delete=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Straight to the driver: SQLAlchemy's statement machinery would cost
        # more than the BEGIN itself, on every transaction.
        readonly = connection.get_execution_options().get("steward_readonly")
        statement = "BEGIN" if readonly else "BEGIN IMMEDIATE"
        error = engine.dialect.loaded_dbapi.Error
        try:
            connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        except error as exc:
            raise DBAPIError.instance(statement, (), exc, error) from exc
