"""Statements that change a subject's rows by key: erasure operators applied
in batches, legal holds split per row, and plain new values (rectification,
restriction flags).

Everything here works on keys read before the first change (see
``SqlConnector._keys``): later statements then find exactly the rows that
were the subject's, even when a change rewrites the columns they were found
by. Values are bound parameters; tables and columns are reflected objects.

Per-row holds. The subject's keys are read together with each row's anchor
time (the hold's anchor column, or its parent's through the declared
relations, as a correlated ``MAX`` so a parent key that is not unique still
gives one value: the latest, which keeps the row longest). Each row is then
sorted in Python with :class:`~datasteward.fulfilment.holds.RowHold` (calendar
arithmetic, the controller's time zone): rows still held keep the held
fields, rows whose hold has ended get the held fields' own erasure or are
deleted, and every row gets the other fields' erasure. Rows with the same
fate are changed together, in batches.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping, MutableSequence, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
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
from sqlalchemy import types as sqltypes

from datasteward.fulfilment.columns import ColumnInfo, OperatorError
from datasteward.fulfilment.holds import AnchorPath, RowHold
from datasteward.fulfilment.operators import Operator
from datasteward.fulfilment.report import HeldRows
from datasteward.policy.model import ErasureAction

__all__ = [
    "CONSTANT_ACTIONS",
    "Action",
    "FieldsResult",
    "Guard",
    "HeldSplit",
    "anchor_expression",
    "chunks",
    "constant_values",
    "counter",
    "delete_keys",
    "erase_keys",
    "held_rows_query",
    "in_keys",
    "new_key_store",
    "split_by_holds",
    "update_values",
]

Guard = Callable[[str | None], AbstractContextManager[None]]
"""Turns a database error into a ConnectorError naming the dataset."""

CONSTANT_ACTIONS = frozenset({ErasureAction.SET_NULL, ErasureAction.SET_VALUE})
"""Actions that write the same value into every non-empty cell."""


@dataclass(frozen=True)
class Action:
    """An operator bound to its reflected column."""

    column: Column[Any]
    info: ColumnInfo
    operator: Operator


@dataclass(frozen=True)
class FieldsResult:
    """What writing new values did to one dataset: the subject's rows found,
    and per column the rows whose value changed. Never holds a value."""

    dataset: str
    rows_matched: int
    changed: dict[str, int] = field(default_factory=dict)


def new_key_store(key_columns: Sequence[Column[Any]]) -> MutableSequence[Any]:
    """A list for keys; a single integer key is kept in an ``array`` (8 bytes a row)."""
    if len(key_columns) == 1 and isinstance(key_columns[0].type, sqltypes.Integer):
        return array("q")
    return []


def chunks(keys: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


def in_keys(columns: Sequence[Column[Any]], keys: list[Any]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0].in_(keys)
    return tuple_(*columns).in_(keys)


# -- erasure operators by key ----------------------------------------------------------------


def erase_keys(
    conn: Connection,
    guard: Guard,
    dataset: str,
    table: Table,
    key_columns: Sequence[Column[Any]],
    keys: Sequence[Any],
    actions: Sequence[Action],
    batch: int,
    changed: dict[str, int],
    refused: dict[str, int],
) -> None:
    """Apply ``actions`` (no delete_row) to the rows with ``keys``, a batch
    at a time: mapped values read, computed and written by key, constants in
    one ``UPDATE`` per batch. Adds to ``changed`` and ``refused``."""
    constants = [a for a in actions if a.operator.action in CONSTANT_ACTIONS]
    mapped = [a for a in actions if a.operator.action not in CONSTANT_ACTIONS]
    for name in dict.fromkeys(a.column.name for a in actions):
        changed.setdefault(name, 0)
    for chunk in chunks(keys, batch):
        where = in_keys(key_columns, chunk)
        if mapped:
            _map_chunk(conn, guard, dataset, table, key_columns, mapped, where, changed, refused)
        if constants:
            counting = select(*(counter(a) for a in constants)).select_from(table)
            with guard(dataset):
                counted = conn.execute(counting.where(where)).one()
                conn.execute(update(table).where(where).values(constant_values(constants)))
            for action, n in zip(constants, counted, strict=True):
                changed[action.column.name] += int(n)


def _map_chunk(
    conn: Connection,
    guard: Guard,
    dataset: str,
    table: Table,
    key_columns: Sequence[Column[Any]],
    mapped: Sequence[Action],
    where: ColumnElement[bool],
    changed: dict[str, int],
    refused: dict[str, int],
) -> None:
    """Read one batch of old values, compute the new ones, write them by
    key: one executemany per set of columns that changed together. A value
    the operator leaves as it is (its own output, on a re-run) is not written."""
    width = len(key_columns)
    reading = select(*key_columns, *(a.column for a in mapped)).where(where)
    with guard(dataset):
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
        with guard(dataset):
            conn.execute(statement, params_list)


def _constant(action: Action) -> object:
    """What a set_null or set_value operator writes into any non-empty cell."""
    return action.operator.operate(_NON_EMPTY, action.info)


_NON_EMPTY = object()
"""Stands for "some value": set_null and set_value write a constant whatever the cell held."""


def counter(action: Action) -> ColumnElement[Any]:
    """Counts the cells the constant changes: non-empty ones that differ from it."""
    value = _constant(action)
    column = action.column
    if value is None:
        return func.count(column)
    return func.count(case((column != bindparam(None, value, type_=column.type), 1)))


def constant_values(actions: Sequence[Action]) -> dict[Column[Any], ColumnElement[Any]]:
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


# -- legal holds split per row ---------------------------------------------------------------


def anchor_expression(
    table: Table, tables: Mapping[str, Table], path: AnchorPath
) -> ColumnElement[Any]:
    """The anchor time of each row of ``table``: its own column, or the latest
    anchor of the parent rows its relations lead to (a correlated sub-select
    over aliases, so a table joined to itself stays apart)."""
    if not path.steps:
        return table.c[path.column]
    aliases = [tables[step.target].alias(f"ds__anchor{i}") for i, step in enumerate(path.steps)]
    joined: Any = aliases[0]
    for i in range(1, len(aliases)):
        step = path.steps[i]
        joined = joined.join(
            aliases[i], aliases[i].c[step.target_column] == aliases[i - 1].c[step.column]
        )
    first = path.steps[0]
    found = (
        select(func.max(aliases[-1].c[path.column]))
        .select_from(joined)
        .where(aliases[0].c[first.target_column] == table.c[first.column])
        .correlate(table)
    )
    return found.scalar_subquery()


@dataclass
class HeldSplit:
    """The subject's rows of one dataset sorted by what happens to them."""

    deleted: MutableSequence[Any]
    """Keys of rows to delete (every hold on them has ended, and some held
    field can only go with its row)."""
    updates: dict[frozenset[int], MutableSequence[Any]]
    """Keys by the set of actions (indexes into the action list) they get."""
    held: list[HeldRows]
    matched: int


@dataclass
class _HoldTally:
    kept: int = 0
    released: int = 0
    undated: int = 0
    first: date | None = None
    last: date | None = None

    def keep(self, last_day: date | None) -> None:
        self.kept += 1
        if last_day is None:
            self.undated += 1
            return
        self.first = last_day if self.first is None else min(self.first, last_day)
        self.last = last_day if self.last is None else max(self.last, last_day)


def split_by_holds(
    rows: Iterator[Sequence[Any]],
    key_width: int,
    key_columns: Sequence[Column[Any]],
    holds: Sequence[RowHold],
    free: Sequence[int],
    after: Sequence[Sequence[int]],
) -> HeldSplit:
    """Sort rows of ``(key..., anchor per hold...)`` by their fate.

    ``free`` are the indexes of the actions every row gets; ``after[h]`` the
    in-place actions of hold ``h``'s fields once it has ended. A row is
    deleted when every hold on it has ended and one of them deletes rows;
    a hold that would delete the row while another still holds it keeps its
    fields too, until the row can go."""
    tallies = [_HoldTally() for _ in holds]
    deleted = new_key_store(key_columns)
    updates: dict[frozenset[int], MutableSequence[Any]] = {}
    matched = 0
    for row in rows:
        matched += 1
        key = row[0] if key_width == 1 else tuple(row[:key_width])
        days = [hold.last_day(row[key_width + i]) for i, hold in enumerate(holds)]
        ended = [hold.ended(day) for hold, day in zip(holds, days, strict=True)]
        if all(ended) and any(h.deletes_rows for h in holds):
            deleted.append(key)
            for tally in tallies:
                tally.released += 1
            continue
        chosen = set(free)
        for i, hold in enumerate(holds):
            if ended[i] and not hold.deletes_rows:
                chosen.update(after[i])
                tallies[i].released += 1
            else:
                tallies[i].keep(days[i] if not ended[i] else _latest(holds, days, ended))
        if chosen:
            updates.setdefault(frozenset(chosen), new_key_store(key_columns)).append(key)
    held = [
        HeldRows(hold.hold, t.kept, t.released, t.first, t.last, t.undated)
        for hold, t in zip(holds, tallies, strict=True)
    ]
    return HeldSplit(deleted, updates, held, matched)


def _latest(
    holds: Sequence[RowHold], days: Sequence[date | None], ended: Sequence[bool]
) -> date | None:
    """When a row kept by other holds can go: the last of their last days
    (None when one of them has no end yet)."""
    running = [days[i] for i in range(len(holds)) if not ended[i]]
    if any(day is None for day in running):
        return None
    return max((day for day in running if day is not None), default=None)


def held_rows_query(
    table: Table,
    tables: Mapping[str, Table],
    key_columns: Sequence[Column[Any]],
    condition: ColumnElement[bool],
    holds: Sequence[RowHold],
) -> Any:
    """``SELECT key..., anchor per hold FROM table WHERE <subject's rows>``."""
    anchors = [
        anchor_expression(table, tables, hold.anchor).label(f"ds__anchor_{i}")
        for i, hold in enumerate(holds)
    ]
    return select(*key_columns, *anchors).where(condition)


# -- plain new values ------------------------------------------------------------------------


def update_values(
    conn: Connection,
    guard: Guard,
    dataset: str,
    table: Table,
    key_columns: Sequence[Column[Any]],
    keys: Sequence[Any],
    values: Sequence[tuple[Column[Any], object]],
    batch: int,
) -> dict[str, int]:
    """Write each ``(column, value)`` into the rows with ``keys``, only where
    the cell differs from it; returns the rows changed per column."""
    changed = {column.name: 0 for column, _ in values}
    for chunk in chunks(keys, batch):
        where = in_keys(key_columns, chunk)
        for column, value in values:
            bound = bindparam(None, value, type_=column.type)
            differs = or_(column.is_(None), column != bound)
            statement = update(table).where(where, differs).values({column: bound})
            with guard(dataset):
                changed[column.name] += int(conn.execute(statement).rowcount)
    return changed


def delete_keys(
    conn: Connection,
    guard: Guard,
    dataset: str,
    table: Table,
    key_columns: Sequence[Column[Any]],
    keys: Sequence[Any],
    batch: int,
) -> int:
    """Delete the rows with ``keys``; the number deleted."""
    deleted = 0
    for chunk in chunks(keys, batch):
        with guard(dataset):
            deleted += int(conn.execute(delete(table).where(in_keys(key_columns, chunk))).rowcount)
    return deleted
