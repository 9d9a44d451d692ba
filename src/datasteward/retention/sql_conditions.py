"""A compiled sweep unit as SQLAlchemy conditions (adapter).

Every condition is built from reflected tables, so every identifier is
quoted by SQLAlchemy and every value (the cutoff, a hold's cutoff, the
identities of held subjects, a fixed replacement) is a bound parameter.

Conditions are NULL-safe: each one is true or false for every row, never
unknown, so ``NOT`` of a hold keeps exactly the rows it does not hold. A
column reached through relations becomes nested ``IN (SELECT ...)`` over
aliases, one per hop, which the database answers from the indexes on the
link columns (``order_items.order_id IN (SELECT o.id FROM orders AS o WHERE
o.created_at <= :cutoff)``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    and_,
    bindparam,
    case,
    extract,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy import types as sqltypes

from datasteward.connectors.compile import SubjectQuery
from datasteward.connectors.reflect import Reflection
from datasteward.fulfilment.columns import ColumnInfo, ColumnKind
from datasteward.fulfilment.locate import locate
from datasteward.fulfilment.operators import (
    GeneraliseDate,
    KeyedHash,
    SetNull,
    SetValue,
    TruncateIp,
)
from datasteward.policy.model import System
from datasteward.retention.expiry import cutoff as cutoff_of
from datasteward.retention.model import (
    CheckKind,
    ChildStep,
    ColumnPath,
    FieldStep,
    Guard,
    HoldCheck,
    SweepUnit,
)
from datasteward.retention.ports import HeldSubjects

__all__ = ["IPV4_PATTERN", "Conditions", "FieldSql"]

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_PATTERN = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
"""A dotted-quad IPv4 address exactly as Python's ``ipaddress`` accepts it
(no leading zeros, octets up to 255): only such values are shortened in SQL."""

_HASH_FULL_HEX = 64
_MYSQL = frozenset({"mysql", "mariadb"})


@dataclass(frozen=True)
class FieldSql:
    """How one anonymised column is handled.

    ``pending``: the cell may still change (cheap, never misses one: it
    picks batches and decides what Python reads). ``in_sql``: the cells the
    UPDATE rewrites, exactly those SQL computes like the operator, with
    ``value`` (alone) or ``guarded`` (when other columns share the UPDATE)
    as the new value. ``python``: cells still pending after the UPDATE are
    read, transformed by the operator and written back by key."""

    step: FieldStep
    column: Column[Any]
    info: ColumnInfo
    pending: ColumnElement[bool]
    in_sql: ColumnElement[bool] | None = None
    value: ColumnElement[Any] | None = None
    guarded: ColumnElement[Any] | None = None
    python: bool = False


class Conditions:
    """The conditions of one unit at one sweep moment."""

    def __init__(
        self,
        unit: SweepUnit,
        reflection: Reflection,
        system: System,
        dialect: str,
        *,
        cutoff: datetime,
        at: datetime,
        held: HeldSubjects,
    ) -> None:
        self.unit = unit
        self.reflection = reflection
        self.system = system
        self.dialect = dialect
        self.at = at
        self.held_subjects = held
        self._names = itertools.count(1)
        self.table = reflection.table(unit.dataset)
        self.key = [reflection.column(unit.dataset, name) for name in unit.key]
        self.due = self.along(
            unit.dataset, self.table, unit.anchor, self._until(unit.anchor, cutoff, "cutoff")
        )
        self.checks = [self.check(h, unit.dataset, self.table) for h in unit.holds]
        self.fields = [self._field(step) for step in unit.fields]

    # -- the unit's own rows ---------------------------------------------------------------

    @property
    def held(self) -> ColumnElement[bool]:
        return or_(*self.checks) if self.checks else false()

    @property
    def free(self) -> ColumnElement[bool]:
        """Due rows no check keeps."""
        return and_(*(not_(c) for c in self.checks)) if self.checks else true()

    @property
    def pending(self) -> ColumnElement[bool]:
        """Rows with a cell left to anonymise (every row, for a deletion)."""
        parts = [f.pending for f in self.fields]
        return or_(*parts) if parts else true()

    def key_in(self, values: Any) -> ColumnElement[bool]:
        if len(self.key) == 1:
            return self.key[0].in_(values)
        return tuple_(*self.key).in_(values)

    # -- paths and checks ------------------------------------------------------------------

    def along(
        self,
        dataset: str,
        source: FromClause,
        path: ColumnPath,
        terminal: Callable[[FromClause, str], ColumnElement[bool]],
    ) -> ColumnElement[bool]:
        """``terminal`` on the row the path leads to, as nested ``IN`` over
        aliases; a row whose link is empty has no such row (false)."""
        names = [dataset, *(hop.parent for hop in path.hops)]
        sources: list[FromClause] = [source]
        for name in names[1:]:
            sources.append(self.reflection.table(name).alias(f"r{next(self._names)}"))
        condition = terminal(sources[-1], names[-1])
        for i in range(len(path.hops) - 1, -1, -1):
            hop = path.hops[i]
            self.reflection.column(names[i], hop.column)
            self.reflection.column(names[i + 1], hop.parent_column)
            target = sources[i + 1].c[hop.parent_column]
            link = sources[i].c[hop.column]
            condition = and_(link.is_not(None), link.in_(select(target).where(condition)))
        return condition

    def _until(
        self, path: ColumnPath, moment: datetime, name: str
    ) -> Callable[[FromClause, str], ColumnElement[bool]]:
        """Terminal: the column holds a time at or before ``moment``."""

        def terminal(source: FromClause, dataset: str) -> ColumnElement[bool]:
            self.reflection.column(dataset, path.column)
            column = source.c[path.column]
            param = bindparam(name, _bound_time(moment, column.type), type_=column.type)
            return and_(column.is_not(None), column <= param)

        return terminal

    def _flag(self, path: ColumnPath) -> Callable[[FromClause, str], ColumnElement[bool]]:
        def terminal(source: FromClause, dataset: str) -> ColumnElement[bool]:
            kind = self.reflection.info(dataset, path.column).kind
            column = source.c[path.column]
            if kind is ColumnKind.BOOLEAN:
                return column.is_(true())
            return func.coalesce(column, 0) != 0

        return terminal

    def check(self, hold: HoldCheck, dataset: str, source: FromClause) -> ColumnElement[bool]:
        """True for the rows of ``dataset`` (read through ``source``) that
        ``hold`` keeps."""
        match hold.kind:
            case CheckKind.ALL:
                return true()
            case CheckKind.LEGAL_HOLD:
                assert hold.path is not None and hold.period is not None
                name = f"hold_cutoff_{next(self._names)}"
                moment = cutoff_of(self.at, hold.period)
                until = self._until(hold.path, moment, name)
                return not_(self.along(dataset, source, hold.path, until))
            case CheckKind.FLAG:
                assert hold.path is not None
                return self.along(dataset, source, hold.path, self._flag(hold.path))
            case CheckKind.SUBJECTS:
                return self._subjects(hold, dataset)
            case CheckKind.CHILDREN:
                return self._kept_children(hold, source)

    def _subjects(self, hold: HoldCheck, dataset: str) -> ColumnElement[bool]:
        identities = self.held_subjects.of(hold.suspension)
        if not any(identities.values()):
            return false()
        scope = locate(self.system, identities.keys())
        if scope.locator(dataset) is None:
            return false()
        tables = self.reflection.tables
        keys = {
            d.name: list(d.primary_key)
            for d in self.system.datasets
            if d.name in tables and not tables[d.name].primary_key.columns
        }
        query = SubjectQuery(tables, scope, identities, keys=keys)
        found = query.values(dataset, list(self.unit.key))
        return false() if found is None else self.key_in(found)

    def _kept_children(self, hold: HoldCheck, source: FromClause) -> ColumnElement[bool]:
        child = next(c for c in self.unit.children if c.dataset == hold.child and len(c.hops) == 1)
        alias = self.reflection.table(child.dataset).alias(f"k{next(self._names)}")
        hop = child.hops[0]
        kept = or_(*(self.check(h, child.dataset, alias) for h in child.holds))
        linked = alias.c[hop.column] == source.c[hop.parent_column]
        return select(literal(1)).select_from(alias).where(linked, kept).exists()

    # -- deletions -------------------------------------------------------------------------

    def child_kept(self, child: ChildStep, source: FromClause) -> ColumnElement[bool]:
        if not child.holds:
            return false()
        return or_(*(self.check(h, child.dataset, source) for h in child.holds))

    def unreferenced(self, guards: Sequence[Guard], source: FromClause) -> ColumnElement[bool]:
        """No row of any guarded child still points at the row."""
        parts: list[ColumnElement[bool]] = []
        for guard in guards:
            self.reflection.column(guard.child, guard.column)
            alias = self.reflection.table(guard.child).alias(f"g{next(self._names)}")
            linked = alias.c[guard.column] == source.c[guard.target]
            parts.append(~select(literal(1)).select_from(alias).where(linked).exists())
        return and_(*parts) if parts else true()

    # -- anonymisation ---------------------------------------------------------------------

    def _exact(self, pattern: str) -> str:
        """``pattern`` matched case-sensitively: MariaDB's REGEXP otherwise
        follows the column's case-insensitive collation."""
        return "(?-i)" + pattern if self.dialect in _MYSQL else pattern

    def _field(self, step: FieldStep) -> FieldSql:
        dataset = self.unit.dataset
        column = self.reflection.column(dataset, step.name)
        info = self.reflection.info(dataset, step.name)
        present = column.is_not(None)
        operator = step.operator
        if isinstance(operator, SetNull):
            return FieldSql(step, column, info, present, present, null(), null())
        if isinstance(operator, SetValue):
            value = bindparam(None, operator.operate(_SOME_VALUE, info), type_=column.type)
            pending = and_(present, column != value)
            return FieldSql(step, column, info, pending, pending, value, case((present, value)))
        if isinstance(operator, TruncateIp):
            # pending: not yet a /24 (IPv4) or at most three groups and "::" (/48);
            # only LIKE and lengths, so picking a batch costs no regular expression
            colons = func.length(column) - func.length(func.replace(column, ":", ""))
            short_v6 = and_(column.like("%::"), colons <= 4)
            pending = and_(present, column != "", not_(column.like("%.0")), not_(short_v6))
            ipv4 = column.regexp_match(IPV4_PATTERN)
            shortened = _shortened_ipv4(column, self.dialect)
            return FieldSql(
                step,
                column,
                info,
                pending,
                and_(pending, ipv4),
                shortened,
                case((and_(present, ipv4), shortened), else_=column),
                python=True,
            )
        if isinstance(operator, KeyedHash) and info.kind in (ColumnKind.STRING, ColumnKind.TEXT):
            length = min(_HASH_FULL_HEX, info.length or _HASH_FULL_HEX)
            pattern = self._exact(f"^[0-9a-f]{{{length}}}$")
            pending = and_(present, not_(column.regexp_match(pattern)))
            return FieldSql(step, column, info, pending, python=True)
        if isinstance(operator, GeneraliseDate) and info.kind in _DATE_KINDS:
            changing = and_(present, _not_first(column, info, operator))
            return FieldSql(step, column, info, changing, python=True)
        return FieldSql(step, column, info, present, python=True)


_SOME_VALUE = object()
"""Stands for any non-empty cell: set_value writes the same value whatever it held."""

_DATE_KINDS = frozenset({ColumnKind.DATE, ColumnKind.DATETIME})


def _not_first(
    column: Column[Any], info: ColumnInfo, operator: GeneraliseDate
) -> ColumnElement[bool]:
    """The cell is not yet the first instant of its month (or year): the
    dates a generalisation would still change."""
    parts = [extract("day", column) != 1]
    if operator.unit == "year":
        parts.append(extract("month", column) != 1)
    if info.kind is ColumnKind.DATETIME:
        parts += [extract(unit, column) != 0 for unit in ("hour", "minute", "second")]
    return or_(*parts)


def _shortened_ipv4(column: Column[Any], dialect: str) -> ColumnElement[Any]:
    """The /24 network of a dotted-quad address, in SQL: the last octet
    replaced by ``0``. MariaDB's RTRIM takes no character set, so it keeps
    the first three octets instead."""
    if dialect in _MYSQL:
        return func.concat(func.substring_index(column, ".", 3), ".0")
    return func.rtrim(column, literal("0123456789")).concat("0")


def _bound_time(moment: datetime, type_: sqltypes.TypeEngine[Any]) -> date | datetime:
    """``moment`` as the column compares it: a day for a DATE column, a naive
    UTC time for a date-time without time zone."""
    utc = moment.astimezone(UTC)
    if isinstance(type_, sqltypes.DateTime):
        return utc if type_.timezone else utc.replace(tzinfo=None)
    if isinstance(type_, sqltypes.Date):
        return utc.date()
    return utc.replace(tzinfo=None)
