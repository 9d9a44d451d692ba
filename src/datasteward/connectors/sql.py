"""The connector to a company database: SQLite, PostgreSQL or MariaDB/MySQL.

One :class:`SqlConnector` per system holds one SQLAlchemy engine; a
request's part in that system runs on one connection in one transaction
(:meth:`SqlConnector.connect`), so it either happens completely or not at
all, and a worker killed half-way leaves nothing half-erased behind.

Reading (``count_rows``, ``stream_rows``) compiles each dataset's locator
into one indexed statement (:mod:`datasteward.connectors.compile`) and
streams the rows with a server-side cursor, so one person with a million
rows costs flat memory. Erasing (``apply_erasure``) is set-based where the
action writes a constant (``DELETE``, ``UPDATE ... SET col = NULL``) and
row by row, in batches, where the value depends on the old one (keyed hash,
truncated IP, generalised date). Values an operator refuses are counted in
the result, never skipped silently. See docs/connectors.md.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator, Mapping, MutableSequence, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    null,
    select,
    tuple_,
    update,
)
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, ResourceClosedError

from datasteward.connectors.check import SystemCheck, check_reflection
from datasteward.connectors.compile import Identities, SubjectQuery
from datasteward.connectors.reflect import ConnectorError, Reflection, reflect_system
from datasteward.errors import one_line
from datasteward.fulfilment.columns import ColumnInfo, OperatorError
from datasteward.fulfilment.locate import SubjectScope
from datasteward.fulfilment.operators import Operator
from datasteward.policy.model import ConnectorKind, ErasureAction, System

__all__ = ["DEFAULT_BATCH", "ErasureResult", "SqlConnector", "erasure_order"]

DEFAULT_BATCH = 1000
"""Rows fetched, and keys changed, per round trip."""

_SQLITE_BUSY_TIMEOUT_S = 30.0

_CONSTANT = frozenset({ErasureAction.SET_NULL, ErasureAction.SET_VALUE})
"""Actions that write the same value into every non-empty cell."""

_MYSQL = frozenset({"mysql", "mariadb"})


@dataclass(frozen=True)
class ErasureResult:
    """What erasure did to one dataset for one subject.

    ``rows_matched``: the subject's rows found. ``rows_deleted``: rows removed
    (delete_row). ``changed``: for every column an action wrote, how many
    cells now hold a value they did not hold before (an empty cell stays
    empty and is not counted). ``refused``: for every column, how many cells
    the operator refused (e.g. an IP column holding something that is not an
    IP address); those cells are unchanged and the request is not complete
    until someone looks at them. Never holds a value from the database."""

    dataset: str
    rows_matched: int
    rows_deleted: int
    changed: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when no cell was refused."""
        return not any(self.refused.values())


def erasure_order(scope: SubjectScope) -> list[str]:
    """The located datasets in the order erasure must visit them: the reverse
    of the locator order. A dataset's condition reads only datasets listed
    before it, so each one is found while everything it depends on is still
    untouched; and rows that point at a parent (an order's items, a
    subscriber's events) go before the parent row, as foreign keys demand."""
    return [locator.dataset for locator in reversed(scope.locators)]


@dataclass(frozen=True)
class _Action:
    column: Column[Any]
    info: ColumnInfo
    operator: Operator


class SqlConnector:
    """A company database described by one :class:`System` of the policy."""

    def __init__(self, system: System, url: str) -> None:
        if system.connector is ConnectorKind.MANUAL:
            raise ConnectorError(
                f"system '{system.id}' is handled by hand (connector: manual); it has no "
                "database to connect to",
                system=system.id,
            )
        self.system = system
        self.engine = _make_engine(url, system.id)
        self._reflection: Reflection | None = None
        self._streams: dict[int, list[CursorResult[Any]]] = {}

    @classmethod
    def from_env(cls, system: System, env: Mapping[str, str] | None = None) -> SqlConnector:
        """The connector for ``system``, its URL read from the environment
        variable the policy names (``url_env``); ``env`` defaults to
        ``os.environ``."""
        environment = os.environ if env is None else env
        if system.connector is ConnectorKind.MANUAL:
            return cls(system, "")  # raises the manual-system error
        if not system.url_env:
            raise ConnectorError(
                f"system '{system.id}' names no url_env: set url_env to the name of the "
                "environment variable holding its connection URL",
                system=system.id,
            )
        url = environment.get(system.url_env, "").strip()
        if not url:
            raise ConnectorError(
                f"environment variable {system.url_env} is not set; it must hold the "
                f"connection URL of system '{system.id}' (e.g. postgresql://user@host/db)",
                system=system.id,
            )
        return cls(system, url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> SqlConnector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- connections and schema ------------------------------------------------------------

    @contextmanager
    def connect(self, *, readonly: bool = False) -> Iterator[Connection]:
        """One connection in one transaction, committed when the block ends
        and rolled back if it raises. ``readonly`` asks for a consistent
        snapshot without write locks (an access request): a read-only
        REPEATABLE READ transaction on PostgreSQL, a deferred transaction on
        SQLite; MariaDB's default REPEATABLE READ already gives one."""
        try:
            connection = self.engine.connect()
        except DBAPIError as error:
            raise ConnectorError(
                f"cannot connect to system '{self.system.id}' ({self.dialect}): "
                f"{_first_line(error)}",
                system=self.system.id,
            ) from None
        with connection:
            if readonly:
                options: dict[str, Any] = {"steward_readonly": True}
                if self.dialect == "postgresql":
                    options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                connection.execution_options(**options)
            with self._guard(None):
                transaction = connection.begin()
                with transaction:
                    try:
                        yield connection
                    finally:
                        self._settle(connection, always=True)

    def reflection(self, connection: Connection | None = None) -> Reflection:
        """The reflected tables of the policy's datasets, read once per
        connector (:meth:`refresh` forgets them)."""
        if self._reflection is None:
            if connection is None:
                with self.connect(readonly=True) as own:
                    return self.reflection(own)
            with self._guard(None):
                self._reflection = reflect_system(connection, self.system)
        return self._reflection

    def refresh(self) -> None:
        """Reflect again at next use (after the database's schema changed)."""
        self._reflection = None

    def columns(self, dataset: str) -> dict[str, ColumnInfo]:
        """Every column of the dataset's table, as the erasure operators see it."""
        reflection = self.reflection()
        reflection.table(dataset)
        return dict(reflection.columns[dataset])

    def check(self, system: System | None = None) -> SystemCheck:
        """Compare the policy's ``system`` (this connector's by default) with
        the database; see :mod:`datasteward.connectors.check`. Always reflects
        afresh: the schema may have changed since the connector last looked."""
        target = system or self.system
        with self.connect(readonly=True) as connection, self._guard(None):
            reflection = reflect_system(connection, target)
            if target is self.system:
                self._reflection = reflection
            return check_reflection(connection, target, reflection)

    # -- reading ---------------------------------------------------------------------------

    def count_rows(
        self, conn: Connection, scope: SubjectScope, identities: Identities
    ) -> dict[str, int]:
        """How many rows of the subject each located dataset holds.

        Every statement is compiled (and every name checked) before the first
        one runs; then one ``COUNT`` per dataset, each planned on its own
        indexes, on the one connection."""
        self._settle(conn)
        query = self._query(conn, scope, identities, [loc.dataset for loc in scope.locators])
        statements = {
            loc.dataset: None if query.empty(loc.dataset) else query.count(loc.dataset)
            for loc in scope.locators
        }
        counts: dict[str, int] = {}
        for dataset, statement in statements.items():
            if statement is None:
                counts[dataset] = 0
                continue
            with self._guard(dataset):
                counts[dataset] = int(conn.execute(statement).scalar_one())
        return counts

    def stream_rows(
        self,
        conn: Connection,
        scope: SubjectScope,
        dataset: str,
        identities: Identities,
        columns: Sequence[str],
        batch: int = DEFAULT_BATCH,
    ) -> Iterator[dict[str, object]]:
        """The subject's rows of ``dataset`` as ``{column: value}``, ordered by
        key, fetched ``batch`` rows at a time through a server-side cursor.

        Names are checked now, before the first row is asked for. On MariaDB
        the cursor holds the connection until its rows are read: another
        connector call on ``conn`` closes a stream left half-read first, so
        read a stream to the end before anything else."""
        names = list(dict.fromkeys(columns))
        if not names:
            raise ConnectorError(
                f"dataset '{dataset}': no columns to read", system=self.system.id, dataset=dataset
            )
        if batch < 1:
            raise ConnectorError("the batch size must be at least 1", system=self.system.id)
        query = self._query(conn, scope, identities, [dataset])
        statement = query.rows(dataset, names)
        if query.empty(dataset):
            return iter(())
        return self._stream(conn, statement, names, batch, dataset)

    def _stream(
        self,
        conn: Connection,
        statement: Any,
        names: list[str],
        batch: int,
        dataset: str,
    ) -> Iterator[dict[str, object]]:
        self._settle(conn)
        with self._guard(dataset):
            result = conn.execute(statement, execution_options=_streaming(batch))
        open_here = self._streams.setdefault(id(conn), [])
        open_here.append(result)
        try:
            while True:
                with self._guard(dataset):
                    try:
                        rows = result.fetchmany(batch)
                    except ResourceClosedError:
                        raise ConnectorError(
                            f"dataset '{dataset}': the stream was closed before it was read to "
                            "the end (another statement ran on its connection, or the "
                            "transaction ended)",
                            system=self.system.id,
                            dataset=dataset,
                        ) from None
                if not rows:
                    return
                for row in rows:
                    yield dict(zip(names, row, strict=True))
        finally:
            result.close()
            if result in open_here:
                open_here.remove(result)

    def _settle(self, conn: Connection, *, always: bool = False) -> None:
        """Close the streams still open on ``conn``. MariaDB's unbuffered
        cursor blocks the connection until its result is read, so before
        anything else runs there, an abandoned stream is closed (which reads
        and drops the rest of it); elsewhere only when the transaction ends."""
        if always or self.dialect in _MYSQL:
            for result in self._streams.pop(id(conn), []):
                result.close()

    # -- erasure ---------------------------------------------------------------------------

    def apply_erasure(
        self,
        conn: Connection,
        scope: SubjectScope,
        dataset: str,
        identities: Identities,
        actions: Sequence[tuple[str, Operator]],
        *,
        batch: int = DEFAULT_BATCH,
    ) -> ErasureResult:
        """Carry out ``actions`` (column, operator) on the subject's rows of
        ``dataset``. Call it for the datasets in :func:`erasure_order`, all on
        one connection.

        Every column is checked to exist and every operator validated against
        its column before anything runs; a problem raises
        :class:`ConnectorError` listing all of them. Then:

        * any ``delete_row``: the rows go (other actions are moot);
        * only set_null / set_value: one ``UPDATE`` over the subject's rows;
        * any keyed_hash / truncate_ip / generalise_date: the subject's keys
          are read first, then in batches the old values are read, the new
          ones computed with ``operator.operate`` and written by key
          (executemany), constants riding along in one ``UPDATE`` per batch.

        On MariaDB and MySQL every write goes by keys read first, because
        their ``DELETE``/``UPDATE`` cannot use an index through a sub-select
        (they scan the whole table), and MySQL cannot select from the table
        it changes (two datasets in one table)."""
        if batch < 1:
            raise ConnectorError("the batch size must be at least 1", system=self.system.id)
        self._settle(conn)
        query = self._query(conn, scope, identities, [dataset])
        reflection = self.reflection(conn)
        table = reflection.table(dataset)
        planned = self._plan(reflection, dataset, actions)
        active = [a for a in planned if a.operator.action is not ErasureAction.KEEP]
        deleting = any(a.operator.row_level for a in active)
        if query.empty(dataset):
            return ErasureResult(
                dataset, 0, 0, {} if deleting else dict.fromkeys(_written(active), 0)
            )
        by_keys = self.dialect in _MYSQL
        if not active:
            with self._guard(dataset):
                matched = int(conn.execute(query.count(dataset)).scalar_one())
            return ErasureResult(dataset, matched, 0)
        if deleting:
            if by_keys:
                return self._delete_by_keys(conn, query, dataset, table, batch)
            with self._guard(dataset):
                deleted = conn.execute(delete(table).where(query.condition(dataset))).rowcount
            return ErasureResult(dataset, deleted, deleted)
        if not by_keys and all(a.operator.action in _CONSTANT for a in active):
            return self._update_constants(conn, query, dataset, table, active)
        return self._erase_by_keys(conn, query, dataset, table, active, batch)

    def _plan(
        self, reflection: Reflection, dataset: str, actions: Sequence[tuple[str, Operator]]
    ) -> list[_Action]:
        planned: list[_Action] = []
        problems: list[str] = []
        for name, operator in actions:
            column = reflection.column(dataset, name)
            info = reflection.info(dataset, name)
            problems.extend(str(p) for p in operator.validate(info))
            planned.append(_Action(column, info, operator))
        if problems:
            raise ConnectorError(
                f"dataset '{dataset}': nothing was changed, because " + "; ".join(problems),
                system=self.system.id,
                dataset=dataset,
            )
        return planned

    def _delete_by_keys(
        self, conn: Connection, query: SubjectQuery, dataset: str, table: Table, batch: int
    ) -> ErasureResult:
        keys = self._keys(conn, query, dataset, batch)
        key_columns = query.key_columns(dataset)
        deleted = 0
        for chunk in _chunks(keys, batch):
            with self._guard(dataset):
                deleted += conn.execute(delete(table).where(_in(key_columns, chunk))).rowcount
        return ErasureResult(dataset, len(keys), deleted)

    def _update_constants(
        self,
        conn: Connection,
        query: SubjectQuery,
        dataset: str,
        table: Table,
        constants: list[_Action],
    ) -> ErasureResult:
        condition = query.condition(dataset)
        counting = select(func.count(), *(_counter(a) for a in constants)).select_from(table)
        with self._guard(dataset):
            counted = conn.execute(counting.where(condition)).one()
            conn.execute(update(table).where(condition).values(_constant_values(constants)))
        changed = {a.column.name: int(n) for a, n in zip(constants, counted[1:], strict=True)}
        return ErasureResult(dataset, int(counted[0]), 0, changed)

    def _erase_by_keys(
        self,
        conn: Connection,
        query: SubjectQuery,
        dataset: str,
        table: Table,
        active: list[_Action],
        batch: int,
    ) -> ErasureResult:
        constants = [a for a in active if a.operator.action in _CONSTANT]
        mapped = [a for a in active if a.operator.action not in _CONSTANT]
        keys = self._keys(conn, query, dataset, batch)
        key_columns = query.key_columns(dataset)
        changed = dict.fromkeys(_written(active), 0)
        refused: dict[str, int] = {}
        for chunk in _chunks(keys, batch):
            where = _in(key_columns, chunk)
            if mapped:
                self._map_chunk(conn, dataset, table, key_columns, mapped, where, changed, refused)
            if constants:
                counting = select(*(_counter(a) for a in constants)).select_from(table)
                with self._guard(dataset):
                    counted = conn.execute(counting.where(where)).one()
                    conn.execute(update(table).where(where).values(_constant_values(constants)))
                for action, n in zip(constants, counted, strict=True):
                    changed[action.column.name] += int(n)
        return ErasureResult(dataset, len(keys), 0, changed, refused)

    def _map_chunk(
        self,
        conn: Connection,
        dataset: str,
        table: Table,
        key_columns: list[Column[Any]],
        mapped: list[_Action],
        where: ColumnElement[bool],
        changed: dict[str, int],
        refused: dict[str, int],
    ) -> None:
        """Read one batch of old values, compute the new ones, write them by
        key: one executemany per set of columns that changed together."""
        width = len(key_columns)
        reading = select(*key_columns, *(a.column for a in mapped)).where(where)
        with self._guard(dataset):
            rows = conn.execute(reading).all()
        groups: dict[tuple[int, ...], list[dict[str, object]]] = {}
        for row in rows:
            params: dict[str, object] = {f"ds__k{j}": row[j] for j in range(width)}
            written: list[int] = []
            for i, action in enumerate(mapped):
                old = row[width + i]
                try:
                    new = action.operator.operate(old, action.info)
                except OperatorError:
                    refused[action.column.name] = refused.get(action.column.name, 0) + 1
                    continue
                if new != old:
                    params[f"ds__v{i}"] = new
                    written.append(i)
                    changed[action.column.name] += 1
            if written:
                groups.setdefault(tuple(written), []).append(params)
        for written_columns, params_list in groups.items():
            statement = (
                update(table)
                .where(
                    and_(
                        *(
                            column == bindparam(f"ds__k{j}", type_=column.type)
                            for j, column in enumerate(key_columns)
                        )
                    )
                )
                .values(
                    {
                        mapped[i].column: bindparam(f"ds__v{i}", type_=mapped[i].column.type)
                        for i in written_columns
                    }
                )
            )
            with self._guard(dataset):
                conn.execute(statement, params_list)

    def _keys(
        self, conn: Connection, query: SubjectQuery, dataset: str, batch: int
    ) -> MutableSequence[Any]:
        """The keys of the subject's rows, read completely before anything
        changes: later statements then find exactly these rows, even when an
        action rewrites the very columns the subject was found by. A single
        integer key is kept in an ``array`` (8 bytes a row)."""
        statement = query.keys(dataset)
        key_columns = query.key_columns(dataset)
        single = len(key_columns) == 1
        keys: MutableSequence[Any] = (
            array("q") if single and isinstance(key_columns[0].type, sqltypes.Integer) else []
        )
        with self._guard(dataset):
            result = conn.execute(statement, execution_options=_streaming(batch))
            for partition in result.partitions():
                if single:
                    keys.extend(row[0] for row in partition)
                else:
                    keys.extend(tuple(row) for row in partition)
        return keys

    # -- helpers ---------------------------------------------------------------------------

    def _query(
        self,
        conn: Connection,
        scope: SubjectScope,
        identities: Identities,
        datasets: Sequence[str],
    ) -> SubjectQuery:
        """A compiler for ``scope`` after checking, against the reflected
        schema, every table and column the given datasets' conditions use."""
        if scope.system != self.system.id:
            raise ConnectorError(
                f"the scope is for system '{scope.system}', but this connector reaches "
                f"system '{self.system.id}'",
                system=self.system.id,
            )
        reflection = self.reflection(conn)
        needed: set[str] = set()
        pending = list(datasets)
        while pending:
            name = pending.pop()
            if name in needed:
                continue
            needed.add(name)
            locator = scope.locator(name)
            reflection.table(name)
            if locator is None:
                continue
            for match in locator.matches:
                reflection.column(name, match.column)
            for link in locator.links:
                reflection.column(name, link.column)
                reflection.table(link.target)
                reflection.column(link.target, link.target_column)
                pending.append(link.target)
        keys = {
            d.name: list(d.primary_key)
            for d in self.system.datasets
            if d.name in reflection.tables and not reflection.tables[d.name].primary_key.columns
        }
        for name, columns in keys.items():
            if name in needed:
                for column in columns:
                    reflection.column(name, column)
        return SubjectQuery(reflection.tables, scope, identities, keys=keys)

    @contextmanager
    def _guard(self, dataset: str | None) -> Iterator[None]:
        """Turn a database error into a :class:`ConnectorError` that names the
        system, the dataset and the SQLSTATE, but not the driver's message,
        which may quote the values of a row."""
        try:
            yield
        except DBAPIError as error:
            where = f", dataset '{dataset}'" if dataset else ""
            raise ConnectorError(
                f"system '{self.system.id}'{where}: the database refused the statement "
                f"({_describe(error)})",
                system=self.system.id,
                dataset=dataset,
            ) from None


def _written(actions: Sequence[_Action]) -> list[str]:
    return list(dict.fromkeys(a.column.name for a in actions))


def _streaming(batch: int) -> dict[str, Any]:
    """Execution options for a server-side cursor fetching ``batch`` rows at a
    time: a named cursor on PostgreSQL, an unbuffered SSCursor on PyMySQL;
    SQLite steps through its result lazily anyway."""
    return {"stream_results": True, "yield_per": batch}


def _chunks(keys: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


def _in(columns: list[Column[Any]], keys: list[Any]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0].in_(keys)
    return tuple_(*columns).in_(keys)


def _constant(action: _Action) -> object:
    """What a set_null or set_value operator writes into any non-empty cell."""
    return action.operator.operate(_NON_EMPTY, action.info)


_NON_EMPTY = object()
"""Stands for "some value": set_null and set_value write a constant whatever the cell held."""


def _counter(action: _Action) -> ColumnElement[Any]:
    """Counts the cells the constant changes: non-empty ones that differ from it."""
    value = _constant(action)
    column = action.column
    if value is None:
        return func.count(column)
    return func.count(case((column != bindparam(None, value, type_=column.type), 1)))


def _constant_values(actions: Sequence[_Action]) -> dict[Column[Any], ColumnElement[Any]]:
    """SET clauses: NULL for set_null; for set_value the value, but only where
    the cell held something (an empty cell stays empty)."""
    values: dict[Column[Any], ColumnElement[Any]] = {}
    for action in actions:
        value = _constant(action)
        column = action.column
        if value is None:
            values[column] = null()
        else:
            values[column] = case(
                (column.is_not(None), bindparam(None, value, type_=column.type)), else_=null()
            )
    return values


def _describe(error: DBAPIError) -> str:
    """The error's class and SQLSTATE or server error number."""
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    if state is None and orig is not None and orig.args and isinstance(orig.args[0], int):
        state = orig.args[0]
    kind = type(orig).__name__ if orig is not None else type(error).__name__
    return f"{kind}, code {state}" if state is not None else kind


def _first_line(error: DBAPIError) -> str:
    text = str(error.orig) if error.orig is not None else str(error)
    return one_line(text.strip().splitlines()[0] if text.strip() else type(error).__name__)[:300]


def _make_engine(url: str, system: str) -> Engine:
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


def sql_connectors(env: Mapping[str, str]) -> Callable[[System], SqlConnector | None]:
    """A connector factory for the fulfilment use case: each system's
    connector from the URL in ``env``, or None when that URL is not set (the
    plan then reports the system as not checked)."""

    def build(system: System) -> SqlConnector | None:
        try:
            return SqlConnector.from_env(system, env)
        except ConnectorError:
            return None

    return build
