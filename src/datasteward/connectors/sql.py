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
from collections.abc import Callable, Iterator, Mapping, MutableSequence, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, ResourceClosedError

from datasteward.connectors.check import SystemCheck, check_reflection
from datasteward.connectors.compile import Identities, SubjectQuery
from datasteward.connectors.engines import describe_error, first_line, make_engine
from datasteward.connectors.reflect import ConnectorError, Reflection, reflect_system
from datasteward.connectors.reflect_cache import ReflectionCache
from datasteward.connectors.writes import (
    CONSTANT_ACTIONS,
    Action,
    FieldsResult,
    constant_values,
    counter,
    delete_keys,
    erase_keys,
    held_rows_query,
    new_key_store,
    split_by_holds,
    update_values,
)
from datasteward.fulfilment.columns import ColumnInfo
from datasteward.fulfilment.holds import RowHold
from datasteward.fulfilment.locate import SubjectScope
from datasteward.fulfilment.operators import Operator
from datasteward.fulfilment.report import HeldRows
from datasteward.policy.model import ConnectorKind, ErasureAction, System

__all__ = [
    "DEFAULT_BATCH",
    "ErasureResult",
    "FieldsResult",
    "SqlConnector",
    "erasure_order",
    "sql_connectors",
]

DEFAULT_BATCH = 1000
"""Rows fetched, and keys changed, per round trip."""

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
    held: tuple[HeldRows, ...] = ()
    """Per legal hold split by rows: rows kept (until when) and released."""

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


class SqlConnector:
    """A company database described by one :class:`System` of the policy."""

    def __init__(self, system: System, url: str, *, cache_dir: Path | None = None) -> None:
        if system.connector is ConnectorKind.MANUAL:
            raise ConnectorError(
                f"system '{system.id}' is handled by hand (connector: manual); it has no "
                "database to connect to",
                system=system.id,
            )
        self.system = system
        self.engine = make_engine(url, system.id)
        self._cache = ReflectionCache(self.engine.url, system, cache_dir)
        self._reflection: Reflection | None = None
        self._streams: dict[int, list[CursorResult[Any]]] = {}

    @classmethod
    def from_env(
        cls,
        system: System,
        env: Mapping[str, str] | None = None,
        *,
        cache_dir: Path | None = None,
    ) -> SqlConnector:
        """The connector for ``system``, its URL read from the environment
        variable the policy names (``url_env``); ``env`` defaults to
        ``os.environ``. ``cache_dir`` keeps reflected schemas on disk between
        processes (see :mod:`datasteward.connectors.reflect_cache`)."""
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
        return cls(system, url, cache_dir=cache_dir)

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
                f"{first_line(error)}",
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
        connector (:meth:`refresh` forgets them). A schema reflected before,
        in this process or (with a cache directory) in an earlier one, is
        reused while the database's schema fingerprint is unchanged: one
        cheap catalog query instead of reflecting every table."""
        if self._reflection is None:
            if connection is None:
                with self.connect(readonly=True) as own:
                    return self.reflection(own)
            with self._guard(None):
                self._reflection = self._cache.get(
                    connection, lambda: reflect_system(connection, self.system)
                )
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
                self._cache.put(connection, reflection)
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
        holds: Sequence[RowHold] = (),
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

        ``holds`` are legal holds over other fields of the dataset whose end
        is decided per row (:class:`RowHold`): the rows are then sorted by
        their anchor time first (see :mod:`datasteward.connectors.writes`),
        the actions apply to every row, and a hold's fields are erased, or
        their rows deleted, only where that hold has ended.

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
        if holds:
            return self._erase_held(conn, query, dataset, table, active, holds, batch)
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
                keys = self._keys(conn, query, dataset, batch)
                key_columns = query.key_columns(dataset)
                deleted = delete_keys(conn, self._guard, dataset, table, key_columns, keys, batch)
                return ErasureResult(dataset, len(keys), deleted)
            with self._guard(dataset):
                deleted = conn.execute(delete(table).where(query.condition(dataset))).rowcount
            return ErasureResult(dataset, deleted, deleted)
        if not by_keys and all(a.operator.action in CONSTANT_ACTIONS for a in active):
            return self._update_constants(conn, query, dataset, table, active)
        keys = self._keys(conn, query, dataset, batch)
        changed: dict[str, int] = {}
        refused: dict[str, int] = {}
        key_columns = query.key_columns(dataset)
        erase_keys(
            conn, self._guard, dataset, table, key_columns, keys, active, batch, changed, refused
        )
        return ErasureResult(dataset, len(keys), 0, changed, refused)

    def _erase_held(
        self,
        conn: Connection,
        query: SubjectQuery,
        dataset: str,
        table: Table,
        active: list[Action],
        holds: Sequence[RowHold],
        batch: int,
    ) -> ErasureResult:
        """Erasure with legal holds decided per row (see :meth:`apply_erasure`)."""
        reflection = self.reflection(conn)
        if any(a.operator.row_level for a in active):
            raise ConnectorError(
                f"dataset '{dataset}': rows are to be deleted, but fields of them are under a "
                "legal hold; nothing was changed",
                system=self.system.id,
                dataset=dataset,
            )
        everything = list(active)
        after: list[list[int]] = []
        for hold in holds:
            self._check_anchor(reflection, dataset, hold)
            in_place = self._plan(
                reflection, dataset, [(n, o) for n, o in hold.fields if not o.row_level]
            )
            after.append(list(range(len(everything), len(everything) + len(in_place))))
            everything += in_place
        changed = dict.fromkeys(_written(everything), 0)
        if query.empty(dataset):
            empty = tuple(HeldRows(h.hold, 0, 0) for h in holds)
            return ErasureResult(dataset, 0, 0, changed, {}, empty)
        key_columns = query.key_columns(dataset)
        query.keys(dataset)  # refuses a dataset without a key
        statement = held_rows_query(
            table, reflection.tables, key_columns, query.condition(dataset), holds
        )
        with self._guard(dataset):
            result = conn.execute(statement, execution_options=_streaming(batch))
            split = split_by_holds(
                (row for partition in result.partitions() for row in partition),
                len(key_columns),
                key_columns,
                holds,
                range(len(active)),
                after,
            )
        refused: dict[str, int] = {}
        for chosen, keys in split.updates.items():
            actions = [everything[i] for i in sorted(chosen)]
            erase_keys(
                conn,
                self._guard,
                dataset,
                table,
                key_columns,
                keys,
                actions,
                batch,
                changed,
                refused,
            )
        deleted = delete_keys(conn, self._guard, dataset, table, key_columns, split.deleted, batch)
        return ErasureResult(dataset, split.matched, deleted, changed, refused, tuple(split.held))

    def _check_anchor(self, reflection: Reflection, dataset: str, hold: RowHold) -> None:
        """Every table and column on the way to the hold's anchor exists."""
        current = dataset
        for step in hold.anchor.steps:
            reflection.column(current, step.column)
            reflection.column(step.target, step.target_column)
            current = step.target
        reflection.column(hold.anchor.dataset, hold.anchor.column)

    def _plan(
        self, reflection: Reflection, dataset: str, actions: Sequence[tuple[str, Operator]]
    ) -> list[Action]:
        planned: list[Action] = []
        problems: list[str] = []
        for name, operator in actions:
            column = reflection.column(dataset, name)
            info = reflection.info(dataset, name)
            problems.extend(str(p) for p in operator.validate(info))
            planned.append(Action(column, info, operator))
        if problems:
            raise ConnectorError(
                f"dataset '{dataset}': nothing was changed, because " + "; ".join(problems),
                system=self.system.id,
                dataset=dataset,
            )
        return planned

    def _update_constants(
        self,
        conn: Connection,
        query: SubjectQuery,
        dataset: str,
        table: Table,
        constants: list[Action],
    ) -> ErasureResult:
        condition = query.condition(dataset)
        counting = select(func.count(), *(counter(a) for a in constants)).select_from(table)
        with self._guard(dataset):
            counted = conn.execute(counting.where(condition)).one()
            conn.execute(update(table).where(condition).values(constant_values(constants)))
        changed = {a.column.name: int(n) for a, n in zip(constants, counted[1:], strict=True)}
        return ErasureResult(dataset, int(counted[0]), 0, changed)

    # -- new values (rectification, restriction flags) -------------------------------------

    def update_fields(
        self,
        conn: Connection,
        scope: SubjectScope,
        identities: Identities,
        values: Mapping[str, Sequence[tuple[str, object]]],
        *,
        batch: int = DEFAULT_BATCH,
    ) -> dict[str, FieldsResult]:
        """Write new values into the subject's rows: ``values`` maps a
        dataset to ``(column, value)`` pairs. The keys of every named
        dataset's rows are read before the first write, so correcting a
        column the subject is found by (an email) changes nothing about
        which rows are theirs. A cell already holding the value is left as
        it is and not counted."""
        if batch < 1:
            raise ConnectorError("the batch size must be at least 1", system=self.system.id)
        self._settle(conn)
        query = self._query(conn, scope, identities, list(values))
        reflection = self.reflection(conn)
        found: dict[str, MutableSequence[Any]] = {}
        for dataset, pairs in values.items():
            for name, _value in pairs:
                reflection.column(dataset, name)
            found[dataset] = (
                new_key_store(query.key_columns(dataset))
                if query.empty(dataset)
                else self._keys(conn, query, dataset, batch)
            )
        results: dict[str, FieldsResult] = {}
        for dataset, pairs in values.items():
            table = reflection.table(dataset)
            bound = [(reflection.column(dataset, name), value) for name, value in pairs]
            changed = update_values(
                conn,
                self._guard,
                dataset,
                table,
                query.key_columns(dataset),
                found[dataset],
                bound,
                batch,
            )
            results[dataset] = FieldsResult(dataset, len(found[dataset]), changed)
        return results

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
        keys = new_key_store(key_columns)
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
                f"({describe_error(error)})",
                system=self.system.id,
                dataset=dataset,
            ) from None


def _written(actions: Sequence[Action]) -> list[str]:
    return list(dict.fromkeys(a.column.name for a in actions))


def _streaming(batch: int) -> dict[str, Any]:
    """Execution options for a server-side cursor fetching ``batch`` rows at a
    time: a named cursor on PostgreSQL, an unbuffered SSCursor on PyMySQL;
    SQLite steps through its result lazily anyway."""
    return {"stream_results": True, "yield_per": batch}


def sql_connectors(
    env: Mapping[str, str], *, cache_dir: Path | None = None
) -> Callable[[System], SqlConnector | None]:
    """A connector factory for the fulfilment use case: each system's
    connector from the URL in ``env``, or None when that URL is not set (the
    plan then reports the system as not checked). ``cache_dir`` keeps
    reflected schemas on disk for the next process (the command line)."""

    def build(system: System) -> SqlConnector | None:
        try:
            return SqlConnector.from_env(system, env, cache_dir=cache_dir)
        except ConnectorError:
            return None

    return build
