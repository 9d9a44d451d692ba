"""Sweeps in the company's SQL databases (adapter): the statements of one
unit, and the batches that run them.

A batch is two short steps. First the next keys are picked on a read-only
connection: ``key > :last_key AND <due, not kept, not done> ORDER BY key
LIMIT :batch_size``. Then, in one transaction of its own, the rows between
the last key and the batch's highest key are changed with every condition
checked again, so a row restricted, put on hold or anonymised since the
pick is left alone. Paging by key needs no ``OFFSET``; a batch never holds
locks for longer than its own rows take. Where the anchor is a date or
time column of the table with an index on it, batches are ranges of anchor
values instead, picked from that index alone (see :mod:`sql_anchor`): the
due rows are then read once, and the rows not yet due never.

Deletion goes children first: rows of other datasets that point at the
batch's rows are deleted (or unlinked, where the link may be empty) in the
same transaction, unless they are kept themselves; a row is deleted only if
nothing points at it any more. Anonymisation writes in SQL what SQL can
compute exactly like the operator (NULL, a fixed value, an IPv4 address cut
to its /24), and reads, transforms and writes back by key the rest (keyed
hashes, generalised dates, IPv6 addresses). Errors name the dataset and the
SQLSTATE, never the driver's message, which may quote values.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    and_,
    bindparam,
    case,
    delete,
    func,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from datasteward.connectors.reflect import ConnectorError
from datasteward.connectors.sql import SqlConnector
from datasteward.fulfilment.columns import OperatorError
from datasteward.policy.model import ConnectorKind, Policy, System
from datasteward.retention.compile import Schema
from datasteward.retention.model import ChildStep, SweepUnit, UnitAction
from datasteward.retention.ports import (
    BatchOutcome,
    HeldSubjects,
    Key,
    Statement,
    UnitCounts,
)
from datasteward.retention.sql_anchor import AnchorPaging, Mark, Position, anchor_column
from datasteward.retention.sql_conditions import Conditions

__all__ = ["SqlRetentionBackend", "SqlUnitRunner", "render"]

_POSTCOMPILE = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


def render(statement: Executable, dialect: Dialect) -> str:
    """The SQL of ``statement`` for ``dialect`` with ``:name`` placeholders;
    values never appear (lists of identities show as one placeholder)."""
    factory: Any = type(dialect)
    compiled: Any = statement
    text = str(compiled.compile(dialect=factory(paramstyle="named")))
    return " ".join(_POSTCOMPILE.sub(r":\1", text).split())


class SqlRetentionBackend:
    """Runners for the units of one policy, one connector per system."""

    def __init__(self, policy: Policy, connectors: Callable[[System], SqlConnector | None]) -> None:
        self.policy = policy
        self._factory = connectors
        self._connectors: dict[str, SqlConnector | None] = {}

    def connector(self, system_id: str) -> SqlConnector | None:
        if system_id not in self._connectors:
            system = self.policy.system(system_id)
            usable = system is not None and system.connector is not ConnectorKind.MANUAL
            self._connectors[system_id] = self._factory(system) if usable and system else None
        return self._connectors[system_id]

    def schema(self) -> Schema:
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for system in self.policy.systems:
            connector = self.connector(system.id)
            if connector is not None:
                columns = connector.reflection().columns
                found[system.id] = {name: dict(cols) for name, cols in columns.items()}
        return found

    def runner(
        self, unit: SweepUnit, *, cutoff: datetime, at: datetime, held: HeldSubjects
    ) -> SqlUnitRunner:
        connector = self.connector(unit.system)
        if connector is None:
            raise ConnectorError(f"system '{unit.system}' has no connection", system=unit.system)
        return SqlUnitRunner(connector, unit, cutoff=cutoff, at=at, held=held)

    def close(self) -> None:
        for connector in self._connectors.values():
            if connector is not None:
                connector.close()
        self._connectors.clear()


class SqlUnitRunner:
    """The statements of one unit, built once and run batch after batch."""

    def __init__(
        self,
        connector: SqlConnector,
        unit: SweepUnit,
        *,
        cutoff: datetime,
        at: datetime,
        held: HeldSubjects,
    ) -> None:
        self.connector = connector
        self.unit = unit
        self.dialect = connector.engine.dialect
        reflection = connector.reflection()
        self.c = Conditions(
            unit,
            reflection,
            connector.system,
            connector.dialect,
            cutoff=cutoff,
            at=at,
            held=held,
        )
        self._sql_fields = [f for f in self.c.fields if f.in_sql is not None]
        self._py_fields = [f for f in self.c.fields if f.python]
        self._mixed = bool(self._py_fields and self._sql_fields) and len(self.c.fields) > 1
        """Several columns, some rewritten in SQL, some in Python: one row may
        be touched by both, so the UPDATE names the rows it changed."""
        self._built: dict[bool, dict[str, Executable]] = {}
        column = anchor_column(self.c, unit)
        self._paging = AnchorPaging(self.c, column) if column is not None else None
        """Batches follow the anchor's index when there is one (see sql_anchor)."""

    # -- statements ------------------------------------------------------------------------

    def _lower(self, first: bool) -> ColumnElement[bool] | None:
        if first:
            return None
        params = [bindparam(f"last_key_{i}", type_=k.type) for i, k in enumerate(self.c.key)]
        if len(params) == 1:
            return self.c.key[0] > params[0]
        return tuple_(*self.c.key) > tuple_(*params)

    def _range(self, first: bool) -> ColumnElement[bool]:
        params = [bindparam(f"upper_key_{i}", type_=k.type) for i, k in enumerate(self.c.key)]
        upper = (
            self.c.key[0] <= params[0]
            if len(params) == 1
            else tuple_(*self.c.key) <= tuple_(*params)
        )
        lower = self._lower(first)
        return upper if lower is None else and_(lower, upper)

    def _statements(self, first: bool) -> dict[str, Executable]:
        """Key paging's statements, built once for the first batch and once
        for the others."""
        built = self._built.get(first)
        if built is not None:
            return built
        c = self.c
        wanted = and_(c.due, c.free, c.pending)
        lower = self._lower(first)
        if lower is not None:
            wanted = and_(lower, wanted)
        statements: dict[str, Executable] = {"pick": self._pick(wanted)}
        statements |= self._writes(and_(self._range(first), c.due, c.free))
        self._built[first] = statements
        return statements

    def _writes(self, in_batch: ColumnElement[bool]) -> dict[str, Executable]:
        """The statements that change the rows ``in_batch`` selects."""
        c, t = self.c, self.c.table
        statements: dict[str, Executable] = {}
        if self.unit.action is UnitAction.DELETE:
            for child in self.unit.children:
                statements[f"child:{child.dataset}"] = self._child_statement(child, in_batch)
            statements["delete"] = delete(t).where(in_batch, c.unreferenced(self.unit.guards, t))
            return statements
        if self._sql_fields:
            any_sql = _any(f.in_sql for f in self._sql_fields)
            alone = len(self._sql_fields) == 1
            values = {f.column: f.value if alone else f.guarded for f in self._sql_fields}
            changing = update(t).where(in_batch, any_sql).values(values)
            if self._mixed and self.dialect.update_returning:
                changing = changing.returning(*c.key)
            elif self._mixed:
                statements["sql_keys"] = select(*c.key).where(in_batch, any_sql).with_for_update()
            statements["update"] = changing
        if self._py_fields:
            reading = [f.column for f in self._py_fields]
            still = _any(f.pending for f in self._py_fields)
            statements["read"] = select(*c.key, *reading).where(in_batch, still).with_for_update()
        return statements

    def _pick(self, wanted: ColumnElement[bool]) -> Executable:
        """The next keys; for a one-column key only the batch's size and its
        highest key leave the database."""
        c = self.c
        limit: Any = bindparam("batch_size")
        inner = select(*c.key).where(wanted).order_by(*c.key).limit(limit)
        if len(c.key) == 1:
            keys = inner.subquery("batch")
            return select(func.count(), func.max(keys.c[c.key[0].name]))
        return inner

    def _child_statement(self, child: ChildStep, in_batch: ColumnElement[bool]) -> Executable:
        """Delete (or unlink) the rows of ``child`` pointing, through its hops,
        at the batch's rows, except the ones kept."""
        c = self.c
        reflection = c.reflection
        names = [child.dataset, *(hop.parent for hop in child.hops)]
        # the batch's rows, then each dataset between them and the child
        top = child.hops[-1]
        chosen = select(c.table.c[top.parent_column]).where(in_batch)
        for depth in range(len(child.hops) - 1, 0, -1):
            hop_up, hop_in = child.hops[depth], child.hops[depth - 1]
            middle = next(
                s
                for s in self.unit.children
                if s.dataset == names[depth] and s.hops == child.hops[depth:]
            )
            alias = reflection.table(names[depth]).alias(f"m{depth}")
            chosen = select(alias.c[hop_in.parent_column]).where(
                alias.c[hop_up.column].in_(chosen), ~c.child_kept(middle, alias)
            )
        table = reflection.table(child.dataset)
        link = reflection.column(child.dataset, child.hops[0].column)
        where = and_(link.in_(chosen), ~c.child_kept(child, table))
        if child.unlink:
            return update(table).where(where).values({link: null()})
        return delete(table).where(where, c.unreferenced(child.guards, table))

    def _count_statement(self) -> Executable:
        c = self.c
        counters = [
            func.count(case((c.free, 1))),
            func.count(case((c.held, 1))),
            *(func.count(case((check, 1))) for check in c.checks),
        ]
        return select(*counters).select_from(c.table).where(c.due, c.pending)

    def statements(self) -> list[Statement]:
        """Every statement, in the order a batch runs them, then the counts."""
        labels = {
            "pick": "pick the next batch of due keys",
            "pick_anchor": "pick the next batch by the anchor's index (count, lowest, highest)",
            "sql_keys": "lock the rows the UPDATE rewrites (to count them once)",
            "update": "anonymise in SQL",
            "read": "read the cells still pending, for the operators in Python",
            "delete": "delete the batch's rows nothing points at any more",
        }
        shown = [
            Statement(
                labels.get(name, f"first delete or unlink the rows of {name[6:]}"),
                render(statement, self.dialect),
            )
            for name, statement in self._shown().items()
        ]
        if self._py_fields:
            shown.append(
                Statement(
                    "write the transformed cells back, by key",
                    render(self._write_back([f.column for f in self._py_fields]), self.dialect),
                )
            )
        shown.append(
            Statement("count due and kept rows", render(self._count_statement(), self.dialect))
        )
        return shown

    def _shown(self) -> dict[str, Executable]:
        """The statements of a batch in the middle of a unit, for the plan."""
        paging = self._paging
        if paging is None:
            return self._statements(first=False)
        c = self.c
        sample = Position(Mark.FROM, paging.sample())
        bounds = and_(paging.lower(sample), paging.below(sample.value))
        return {"pick_anchor": paging.pick(sample)} | self._writes(and_(bounds, c.due, c.free))

    # -- running ---------------------------------------------------------------------------

    def count(self) -> UnitCounts:
        with self.connector.connect(readonly=True) as conn, self._guard():
            row = conn.execute(self._count_statement()).one()
        return UnitCounts(int(row[0]), int(row[1]), tuple(int(n) for n in row[2:]))

    def count_held(self) -> int:
        if not self.c.checks:
            return 0
        c = self.c
        statement = select(func.count()).select_from(c.table).where(c.due, c.pending, c.held)
        with self.connector.connect(readonly=True) as conn, self._guard():
            return int(conn.execute(statement).scalar_one())

    def batch(self, after: Key | None, size: int) -> BatchOutcome:
        if self._paging is not None:
            return self._anchor_batch(self._paging, after, size)
        if after is not None and not self._is_key(after):
            after = None  # left by anchor paging: start again (every change can be made twice)
        first = after is None
        statements = self._statements(first)
        params: dict[str, Any] = {"batch_size": size}
        if after is not None:
            params |= {f"last_key_{i}": value for i, value in enumerate(after)}
        with self._connection() as conn, self._guard():
            picked = self._read(conn, statements["pick"], params)
            upper = self._upper(picked)
            if upper is None:
                return BatchOutcome(None)
            del params["batch_size"]
            params |= {f"upper_key_{i}": value for i, value in enumerate(upper)}
            last = self._count(picked) < size
            return self._write(conn, statements, params, upper, last)

    def _anchor_batch(self, paging: AnchorPaging, after: Key | None, size: int) -> BatchOutcome:
        """The next batch in anchor order: a range ``[lo, hi)`` of anchor
        values, the rest of the due rows when fewer than ``size`` are left,
        or the rows of one anchor value by key when ``size`` rows share it."""
        c = self.c
        position = paging.decode(after)
        with self._connection() as conn, self._guard():
            while True:
                if position is not None and position.mark is Mark.TIE:
                    tied = and_(paging.tie(position.value, position.key), c.due, c.free, c.pending)
                    picked = self._read(conn, self._pick(tied), {"batch_size": size})
                    upper = self._upper(picked)
                    if upper is None:
                        position = Position(Mark.AFTER, position.value)
                        continue
                    bounds = paging.tie_range(position.value, position.key, upper)
                    following = (
                        Position(Mark.TIE, position.value, upper)
                        if self._count(picked) >= size
                        else Position(Mark.AFTER, position.value)
                    )
                    return self._write_range(conn, bounds, following, last=False)
                count, low, high, *keys = self._read(
                    conn, paging.pick(position), {"batch_size": size}
                )[0]
                if not count:
                    return BatchOutcome(None)
                if count < size:
                    rest = paging.lower(position)
                    return self._write_range(conn, rest, Position(Mark.AFTER, high), last=True)
                if high != low:
                    bounds = and_(paging.lower(position), paging.below(high))
                    if keys:
                        bounds = and_(bounds, paging.keys_between(*keys))
                    return self._write_range(conn, bounds, Position(Mark.FROM, high), last=False)
                position = Position(Mark.TIE, low)

    def _write_range(
        self, conn: Connection, bounds: ColumnElement[bool], following: Position, *, last: bool
    ) -> BatchOutcome:
        statements = self._writes(and_(bounds, self.c.due, self.c.free))
        return self._write(conn, statements, {}, following.encode(), last)

    def _read(self, conn: Connection, statement: Executable, params: dict[str, Any]) -> list[Any]:
        """A pick, in a read-only transaction of its own (SQLite: a deferred
        BEGIN, no write lock)."""
        conn.execution_options(steward_readonly=True)
        with conn.begin():
            return list(conn.execute(statement, params).all())

    def _write(
        self,
        conn: Connection,
        statements: Mapping[str, Executable],
        params: dict[str, Any],
        upper: Key,
        last: bool,
    ) -> BatchOutcome:
        """The batch's changes, in one transaction of their own."""
        started = time.perf_counter()
        conn.execution_options(steward_readonly=False)
        with conn.begin():
            if self.unit.action is UnitAction.DELETE:
                outcome = self._delete(conn, statements, params, upper)
            else:
                outcome = self._anonymise(conn, statements, params, upper)
        seconds = time.perf_counter() - started
        return replace(outcome, seconds=seconds, last=last)

    def _is_key(self, stored: Key) -> bool:
        """Whether a stored position is a key (and not an anchor position)."""
        marks = {str(m) for m in Mark}
        return len(stored) == len(self.c.key) and not (
            isinstance(stored[0], str) and stored[0] in marks
        )

    def _count(self, picked: Sequence[Any]) -> int:
        """How many keys a pick found."""
        return int(picked[0][0]) if len(self.c.key) == 1 else len(picked)

    def _upper(self, rows: Sequence[Any]) -> Key | None:
        """The highest key of a pick; None when nothing is left."""
        if len(self.c.key) == 1:
            count, highest = rows[0]
            return (highest,) if count else None
        return tuple(rows[-1]) if rows else None

    def _delete(
        self,
        conn: Connection,
        statements: Mapping[str, Executable],
        params: dict[str, Any],
        upper: Key,
    ) -> BatchOutcome:
        children = {
            child.dataset: int(conn.execute(statements[f"child:{child.dataset}"], params).rowcount)
            for child in self.unit.children
        }
        rows = int(conn.execute(statements["delete"], params).rowcount)
        return BatchOutcome(upper, rows, children)

    def _anonymise(
        self,
        conn: Connection,
        statements: Mapping[str, Executable],
        params: dict[str, Any],
        upper: Key,
    ) -> BatchOutcome:
        """SQL's part first, then the cells still pending, read (locked),
        transformed by the operators and written back by key. For one column
        the two parts never touch the same row (what the UPDATE wrote is no
        longer pending), so their counts add up; for several, the rows are
        counted by key."""
        changed: set[Key] = set()
        rows = 0
        if "update" in statements:
            if "sql_keys" in statements:
                changed |= {tuple(r) for r in conn.execute(statements["sql_keys"], params)}
            result = conn.execute(statements["update"], params)
            if self._mixed and "sql_keys" not in statements:
                changed |= {tuple(r) for r in result}
            elif not self._mixed:
                rows = int(result.rowcount)
        refused: dict[str, int] = {}
        if "read" in statements:
            changed |= self._transform(conn, statements["read"], params, refused)
        return BatchOutcome(upper, rows + len(changed), {}, refused)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """One connection for a batch's pick and its write, each in a
        transaction of its own."""
        try:
            connection = self.connector.engine.connect()
        except DBAPIError as error:
            raise ConnectorError(
                f"cannot connect to system '{self.unit.system}' ({_describe(error)})",
                system=self.unit.system,
            ) from None
        with connection:
            yield connection

    def _transform(
        self, conn: Connection, reading: Executable, params: dict[str, Any], refused: dict[str, int]
    ) -> set[Key]:
        """Read the batch's cells the SQL cannot rewrite, apply the operators,
        write back what changed (one executemany per set of columns)."""
        width = len(self.c.key)
        fields = self._py_fields
        changed: set[Key] = set()
        groups: dict[tuple[int, ...], list[dict[str, Any]]] = {}
        for row in conn.execute(reading, params):
            key = tuple(row[:width])
            values: dict[str, Any] = {f"k_{j}": key[j] for j in range(width)}
            written: list[int] = []
            for i, field in enumerate(fields):
                old = row[width + i]
                if old is None:
                    continue
                try:
                    new = field.step.operator.operate(old, field.info)
                except OperatorError:
                    refused[field.step.name] = refused.get(field.step.name, 0) + 1
                    continue
                if new != old:
                    values[f"v_{i}"] = new
                    written.append(i)
            if written:
                changed.add(key)
                groups.setdefault(tuple(written), []).append(values)
        for columns, rows in groups.items():
            chosen = [fields[i] for i in columns]
            statement = self._write_back([f.column for f in chosen], list(columns))
            conn.execute(statement, rows)
        return changed

    def _write_back(self, columns: list[Any], positions: list[int] | None = None) -> Executable:
        at = positions if positions is not None else list(range(len(columns)))
        match = and_(*(k == bindparam(f"k_{j}", type_=k.type) for j, k in enumerate(self.c.key)))
        return (
            update(self.c.table)
            .where(match)
            .values(
                {
                    col: bindparam(f"v_{i}", type_=col.type)
                    for col, i in zip(columns, at, strict=True)
                }
            )
        )

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A refused statement becomes a :class:`ConnectorError` naming the
        dataset and SQLSTATE, not the driver's text (which may quote values)."""
        try:
            yield
        except DBAPIError as error:
            raise ConnectorError(
                f"system '{self.unit.system}', dataset '{self.unit.dataset}': the database "
                f"refused a retention statement ({_describe(error)})",
                system=self.unit.system,
                dataset=self.unit.dataset,
            ) from None


def _any(parts: Any) -> ColumnElement[bool]:
    return or_(*parts)


def _describe(error: DBAPIError) -> str:
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    if state is None and orig is not None and orig.args and isinstance(orig.args[0], int):
        state = orig.args[0]
    kind = type(orig).__name__ if orig is not None else type(error).__name__
    return f"{kind}, code {state}" if state is not None else kind
