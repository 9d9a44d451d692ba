"""From a :class:`Locator` to the SQL that selects one person's rows.

A dataset's rows belong to the subject when any of its *alternatives*
holds: an identity column equals one of the subject's identities
(``email IN (:values)``), or a relation column points at the subject's rows
of another dataset (``customer_id IN (SELECT id FROM customers WHERE ...)``),
recursively. Links only point at datasets listed earlier in the scope, so
the nesting always ends.

Alternatives are combined with ``UNION``, not ``OR``. Measured on a shop of
a million rows, ``billing_email IN (...) OR customer_id IN (SELECT ...)``
makes PostgreSQL and MariaDB scan the whole orders table (an ``OR`` across
two columns, one of them a sub-select, cannot use an index): about 50 ms,
and 180 ms for the order items below it. As a union of one indexed select
per alternative the same rows take 0.2 ms. The union is wrapped in a derived
table (``IN (SELECT k.id FROM (... UNION ...) AS k)``) because MariaDB runs a
bare ``IN (... UNION ...)`` once per outer row.

Every value is a bound parameter and every identifier comes from a
reflected :class:`~sqlalchemy.Table`, so SQLAlchemy quotes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    Table,
    false,
    func,
    or_,
    select,
    tuple_,
    union,
)
from sqlalchemy import types as sqltypes

from datasteward.connectors.reflect import ConnectorError
from datasteward.errors import one_line
from datasteward.fulfilment.locate import Locator, SubjectScope

__all__ = [
    "Identities",
    "SubjectQuery",
    "identity_values",
    "subject_keys_select",
    "subject_select",
]

Identities = Mapping[str, Sequence[str]]
"""Identity kind (``email``, ``phone``, ``national_id.lv``, ...) to the
subject's normalised values of that kind."""

_NATIONAL = "national_id"
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
"""No integer column holds more; a longer number can equal no row."""


def identity_values(kind: str, identities: Identities) -> list[str]:
    """The values a match of ``kind`` compares with, without repeats. A policy's
    ``national_id`` field holds the numbers of every country, so it takes the
    values of every ``national_id.<country>`` kind."""
    found: list[str] = _listed(identities.get(kind, ()))
    if kind == _NATIONAL:
        for other, values in identities.items():
            if other.startswith(_NATIONAL + "."):
                found.extend(_listed(values))
    return list(dict.fromkeys(found))


def _listed(values: Sequence[str] | str) -> list[str]:
    """A lone string is one value, not a sequence of one-letter values."""
    return [values] if isinstance(values, str) else list(values)


def _typed(values: Sequence[str], column: Column[object]) -> list[object]:
    """The identity values as the column's type holds them. A ``customer_id``
    identity is text; compared with an integer column it is read as a whole
    number, and text that is no number is left out (it can equal no row, and
    PostgreSQL would refuse the comparison outright)."""
    if isinstance(column.type, sqltypes.Integer):
        numbers = (int(v) for v in values if _INTEGER_TEXT.fullmatch(v.strip()))
        return [n for n in numbers if _INT64_MIN <= n <= _INT64_MAX]
    return list(values)


class SubjectQuery:
    """The compiled conditions of one subject in one system.

    ``tables`` maps dataset names to reflected tables; ``keys`` gives the key
    columns of a dataset when the table's own primary key should not be used
    (a view, or a table without one). Each dataset's alternatives are built
    once and reused by every statement that needs them.

    Raises :class:`ConnectorError` as soon as a locator names a dataset or
    column that is not in ``tables``: nothing is compiled around a name that
    has not been found in the database."""

    def __init__(
        self,
        tables: Mapping[str, Table],
        scope: SubjectScope,
        identities: Identities,
        *,
        keys: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.tables = tables
        self.scope = scope
        self.identities = identities
        self._keys = keys or {}
        self._alternatives: dict[str, list[ColumnElement[bool]]] = {}

    # -- names -----------------------------------------------------------------------------

    def table(self, dataset: str) -> Table:
        table = self.tables.get(dataset)
        if table is None:
            raise ConnectorError(
                f"dataset '{one_line(dataset)}' has no table in the database",
                system=self.scope.system,
                dataset=dataset,
            )
        return table

    def column(self, dataset: str, name: str) -> Column[object]:
        table = self.table(dataset)
        column = table.columns.get(name)
        if column is None or column.name != name:
            raise ConnectorError(
                f"dataset '{one_line(dataset)}': column '{one_line(name)}' does not exist "
                f"in table '{one_line(table.name)}'",
                system=self.scope.system,
                dataset=dataset,
            )
        return column

    def key_columns(self, dataset: str) -> list[Column[object]]:
        """The columns that tell the dataset's rows apart: the given keys, else
        the table's primary key."""
        names = self._keys.get(dataset)
        if names:
            return [self.column(dataset, name) for name in names]
        table = self.table(dataset)
        return list(table.primary_key.columns)

    def locator(self, dataset: str) -> Locator:
        locator = self.scope.locator(dataset)
        if locator is None:
            raise ConnectorError(
                f"dataset '{one_line(dataset)}' cannot be reached from the subject's identities",
                system=self.scope.system,
                dataset=dataset,
            )
        return locator

    # -- conditions ------------------------------------------------------------------------

    def alternatives(self, dataset: str) -> list[ColumnElement[bool]]:
        """One condition per way the dataset's rows can be the subject's; empty
        when the subject has no value for any match and no linked dataset has
        rows of theirs."""
        cached = self._alternatives.get(dataset)
        if cached is not None:
            return cached
        locator = self.locator(dataset)
        found: list[ColumnElement[bool]] = []
        for match in locator.matches:
            column = self.column(dataset, match.column)
            values = _typed(identity_values(match.kind, self.identities), column)
            if values:
                found.append(column.in_(values))
        for link in locator.links:
            column = self.column(dataset, link.column)
            target = self.values(link.target, [link.target_column])
            if target is not None:
                found.append(column.in_(target))
        self._alternatives[dataset] = found
        return found

    def values(self, dataset: str, columns: Sequence[str]) -> Select[*tuple[Any, ...]] | None:
        """``SELECT columns`` of the subject's rows in ``dataset``, or ``None``
        when there are none to find."""
        alternatives = self.alternatives(dataset)
        selected = [self.column(dataset, name) for name in columns]
        if not alternatives:
            return None
        # Never correlated: when two datasets live in one table, a sub-select
        # of that table inside a statement on it must read the table itself,
        # never the outer row (SQLAlchemy correlates a repeated table whenever
        # the sub-select keeps some other FROM).
        if len(alternatives) == 1:
            return select(*selected).where(alternatives[0]).correlate(None)
        branches = union(
            *(select(*selected).where(alt).correlate(None) for alt in alternatives)
        ).subquery("k")
        return select(*branches.columns).correlate(None)

    def condition(self, dataset: str) -> ColumnElement[bool]:
        """The WHERE clause of the subject's rows in ``dataset``."""
        alternatives = self.alternatives(dataset)
        if not alternatives:
            return false()
        if len(alternatives) == 1:
            return alternatives[0]
        keys = self.key_columns(dataset)
        if not keys:
            return or_(*alternatives)  # no key to union on: correct, if slower
        found = self.values(dataset, [c.name for c in keys])
        assert found is not None
        if len(keys) == 1:
            return keys[0].in_(found)
        return tuple_(*keys).in_(found)

    def empty(self, dataset: str) -> bool:
        """Whether nothing could match (the condition is ``false``)."""
        return not self.alternatives(dataset)

    # -- statements ------------------------------------------------------------------------

    def rows(self, dataset: str, columns: Sequence[str] | None = None) -> Select[*tuple[Any, ...]]:
        """The subject's rows of ``dataset`` (every column, or ``columns``),
        ordered by key so that two exports of the same data are equal."""
        table = self.table(dataset)
        chosen = (
            [self.column(dataset, name) for name in columns]
            if columns is not None
            else list(table.columns)
        )
        statement = select(*chosen).where(self.condition(dataset))
        return statement.order_by(*self.key_columns(dataset))

    def keys(self, dataset: str) -> Select[*tuple[Any, ...]]:
        """The key columns of the subject's rows of ``dataset``."""
        keys = self.key_columns(dataset)
        if not keys:
            raise ConnectorError(
                f"dataset '{one_line(dataset)}': table '{one_line(self.table(dataset).name)}' "
                "has no primary key and the policy declares none that exists",
                system=self.scope.system,
                dataset=dataset,
            )
        return select(*keys).where(self.condition(dataset))

    def count(self, dataset: str) -> Select[*tuple[Any, ...]]:
        """``SELECT COUNT(*)`` of the subject's rows of ``dataset``."""
        table = self.table(dataset)
        return select(func.count()).select_from(table).where(self.condition(dataset))

    def reads(self, dataset: str) -> frozenset[str]:
        """Columns of ``dataset`` its own condition reads (identity and link
        columns): changing one of them changes which rows the condition finds."""
        locator = self.locator(dataset)
        return frozenset(
            [m.column for m in locator.matches] + [link.column for link in locator.links]
        )

    def depends_on(self, dataset: str) -> frozenset[str]:
        """Every dataset whose table the condition of ``dataset`` reads, itself
        included."""
        seen: set[str] = set()
        pending = [dataset]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            pending.extend(link.target for link in self.locator(name).links)
        return frozenset(seen)


def subject_select(
    tables: Mapping[str, Table], scope: SubjectScope, dataset: str, identities: Identities
) -> Select[*tuple[Any, ...]]:
    """Every column of the subject's rows of ``dataset``."""
    return SubjectQuery(tables, scope, identities).rows(dataset)


def subject_keys_select(
    tables: Mapping[str, Table], scope: SubjectScope, dataset: str, identities: Identities
) -> Select[*tuple[Any, ...]]:
    """The primary key columns of the subject's rows of ``dataset``, for
    statements that change rows by key."""
    return SubjectQuery(tables, scope, identities).keys(dataset)
