"""Batches in the order of the anchor column (adapter), for a unit whose
anchor is a date or time column of its own table with an index on it.

Paging by key reads every due row twice (once to pick the batch, once to
change it) and, once the due rows are done, walks the rest of the table by
key only to find that nothing else is due: on an access log with 30 % of
its rows past retention, several rows are read for each one deleted.
Paging by anchor avoids both. The pick reads only the anchor's index
(``SELECT count(*), min(a), max(a) FROM (SELECT a ... ORDER BY a LIMIT n)``,
an index-only scan everywhere), the write reads each due row once, and
the last batch ends where the due rows end, at the cutoff.

A batch is a half-open range of anchor values ``[lo, hi)``, ``hi`` being
the anchor of the batch's ``n``-th row, so the rows sharing ``hi`` go to
the next batch (on MariaDB, with the batch's key range as well). When the
first ``n`` due rows all share one anchor value (a date column, a bulk
import), that value is worked through by key instead.

A position is kept in the progress store as a JSON list: ``["@from", t]``
(every anchor before ``t`` done), ``["@after", t]`` (every anchor up to
``t`` done) or ``["@tie", t, *key]`` (before ``t`` done, and at ``t`` every
key up to ``key``); ``t`` is ISO 8601, or on SQLite the stored text
itself. A position of another shape (a run left by key paging) starts the
unit again from the beginning, which is safe: every change a sweep makes
can be made twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Executable,
    String,
    and_,
    bindparam,
    func,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy import types as sqltypes

from datasteward.fulfilment.columns import ColumnKind
from datasteward.retention.model import SweepUnit
from datasteward.retention.ports import Key
from datasteward.retention.sql_conditions import Conditions

__all__ = ["AnchorPaging", "Mark", "Position", "anchor_column"]

_TIME_KINDS = frozenset({ColumnKind.DATE, ColumnKind.DATETIME})
_KEY_IN_INDEX = frozenset({"mysql", "mariadb"})


Anchor = date | datetime | str | int | float
"""An anchor value as the pick returns it: a date or time, or on SQLite the
stored value itself (see :attr:`AnchorPaging.raw`)."""


class Mark(StrEnum):
    FROM = "@from"
    AFTER = "@after"
    TIE = "@tie"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a unit stands: see the module's docstring."""

    mark: Mark
    value: Anchor
    key: Key | None = None

    def encode(self) -> Key:
        value = self.value
        stored = value.isoformat() if isinstance(value, date | datetime) else value
        return (str(self.mark), stored, *(self.key or ()))


def anchor_column(conditions: Conditions, unit: SweepUnit) -> Column[Any] | None:
    """The unit's anchor column when batches can follow it: a date or time
    column of the unit's own table, first column of one of its indexes."""
    if unit.anchor.hops:
        return None
    name = unit.anchor.column
    info = conditions.reflection.info(unit.dataset, name)
    if info.kind not in _TIME_KINDS:
        return None
    table = conditions.table
    for index in table.indexes:
        columns = list(index.columns)
        if columns and columns[0].name == name:
            return table.c[name]
    return None


class AnchorPaging:
    """Picks and ranges of one unit in anchor order."""

    def __init__(self, conditions: Conditions, column: Column[Any]) -> None:
        self.c = conditions
        self.column = column
        self._datetime = isinstance(column.type, sqltypes.DateTime)
        self.raw = conditions.dialect == "sqlite"
        """SQLite has no time type: a date-time is whatever text the writing
        application chose ("2025-03-01 09:30:00", with or without
        microseconds, or with a "T"), compared as text. A value read back and
        bound again in SQLAlchemy's own format may then no longer equal the
        stored text, and a batch boundary would skip rows. So on SQLite the
        anchor is picked and compared as the stored value itself, in the
        order of its index."""
        self.anchor: Any = type_coerce(column, String()) if self.raw else column
        self._bound_type: Any = String() if self.raw else column.type
        self.with_keys = conditions.dialect in _KEY_IN_INDEX and len(conditions.key) == 1
        """InnoDB keeps the primary key in every secondary index, so the pick
        can also return its batch's lowest and highest key for free; the
        write then names that key range as well, and MariaDB deletes through
        the primary key in its own order (about 1.4 times faster than
        through the anchor's index) whenever the range is narrow."""

    # -- positions -------------------------------------------------------------------------

    def decode(self, stored: Key | None) -> Position | None:
        """A stored position, or None (start from the beginning) for none or
        one of another shape."""
        if not stored or len(stored) < 2 or stored[0] not in set(Mark):
            return None
        mark = Mark(stored[0])
        value: Anchor
        if self.raw:
            if not isinstance(stored[1], str | int | float):
                return None
            value = stored[1]
        else:
            try:
                value = (
                    datetime.fromisoformat(stored[1])
                    if self._datetime
                    else date.fromisoformat(stored[1])
                )
            except (TypeError, ValueError):
                return None
        rest = tuple(stored[2:])
        if mark is Mark.TIE and rest and len(rest) != len(self.c.key):
            return None
        return Position(mark, value, rest or None)

    def sample(self) -> Anchor:
        """A value of the anchor's type, to render statements with (their
        placeholders show, never the value)."""
        if self.raw:
            return "2000-01-01"
        return datetime(2000, 1, 1) if self._datetime else date(2000, 1, 1)

    # -- statements ------------------------------------------------------------------------

    def pick(self, position: Position | None) -> Executable:
        """How many of the next ``:batch_size`` due rows there are, and their
        lowest and highest anchor: reads the anchor's index only."""
        a = self.anchor
        columns = [a.label("a"), *([self.c.key[0].label("k")] if self.with_keys else [])]
        inner = (
            select(*columns)
            .where(self.lower(position), self.c.due)
            .order_by(a)
            .limit(bindparam("batch_size"))
            .subquery("batch")
        )
        found = [func.count(), func.min(inner.c.a), func.max(inner.c.a)]
        if self.with_keys:
            found += [func.min(inner.c.k), func.max(inner.c.k)]
        return select(*found)

    def keys_between(self, low: Any, high: Any) -> ColumnElement[bool]:
        """The key range of a batch's rows (implied by its anchor range, and
        only there to let the database choose the primary key)."""
        key = self.c.key[0]
        return key.between(
            bindparam("key_low", low, type_=key.type), bindparam("key_high", high, type_=key.type)
        )

    def lower(self, position: Position | None) -> ColumnElement[bool]:
        a = self.anchor
        if position is None:
            is_set: ColumnElement[bool] = a.is_not(None)
            return is_set
        low = bindparam("anchor_lo", position.value, type_=self._bound_type)
        compared: ColumnElement[bool] = a > low if position.mark is Mark.AFTER else a >= low
        return compared

    def below(self, hi: Anchor) -> ColumnElement[bool]:
        below: ColumnElement[bool] = self.anchor < bindparam(
            "anchor_hi", hi, type_=self._bound_type
        )
        return below

    def tie(self, value: Anchor, after: Key | None) -> ColumnElement[bool]:
        """The rows at one anchor value, after ``after`` by key."""
        same: ColumnElement[bool] = self.anchor == bindparam(
            "tie_value", value, type_=self._bound_type
        )
        if after is None:
            return same
        return and_(same, _key_compare(self.c.key, after, "tie_key", above=True))

    def tie_range(self, value: Anchor, after: Key | None, upper: Key) -> ColumnElement[bool]:
        """The rows at one anchor value with keys in ``(after, upper]``."""
        at_most = _key_compare(self.c.key, upper, "tie_upper", above=False)
        return and_(self.tie(value, after), at_most)


def _key_compare(
    key: Sequence[Column[Any]], values: Key, name: str, *, above: bool
) -> ColumnElement[bool]:
    """``key > values`` (``above``) or ``key <= values``, as bound parameters."""
    params = [
        bindparam(f"{name}_{i}", v, type_=k.type)
        for i, (k, v) in enumerate(zip(key, values, strict=True))
    ]
    left: Any = key[0] if len(params) == 1 else tuple_(*key)
    right: Any = params[0] if len(params) == 1 else tuple_(*params)
    compared: ColumnElement[bool] = left > right if above else left <= right
    return compared
