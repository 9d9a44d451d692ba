"""The columns erasure acts on, described without any database library.

Every erasure action is checked against the real column *before* anything
runs: a field that cannot take its action is an error in the plan, never a
field skipped at run time. The connectors reflect each table and translate
what they find into a :class:`ColumnInfo`; the operators judge only that.
Keeping the description this small is deliberate: it is all the operators
need, and a test can build any column in one line.

This module also reads the policy's ``erasure_value`` text as a value of a
column's kind (:func:`parse_literal`), because whether a fixed value *fits* a
column is a question about the column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from datasteward.errors import InvalidInput

__all__ = [
    "DEFAULT_INTEGER_BITS",
    "STRING_KINDS",
    "ColumnInfo",
    "ColumnKind",
    "OperatorError",
    "OperatorProblem",
    "parse_literal",
]

DEFAULT_INTEGER_BITS = 32
"""Width assumed for an integer column whose width the connector could not
tell: the SQL standard INTEGER (32 bits in PostgreSQL and MariaDB). Assuming
the narrow width can only refuse a value that would have fitted, never let
through one that overflows."""


class ColumnKind(StrEnum):
    """What a column stores, as far as erasure cares."""

    STRING = "string"
    """Bounded text: VARCHAR(n), CHAR(n)."""
    TEXT = "text"
    """Unbounded text: TEXT, CLOB, VARCHAR without a length."""
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    BINARY = "binary"
    OTHER = "other"
    """Anything else (JSON, arrays, enums, geometry): the engine cannot prove a
    new value fits, so only actions that write no value apply."""


STRING_KINDS = frozenset({ColumnKind.STRING, ColumnKind.TEXT})


@dataclass(frozen=True, kw_only=True)
class ColumnInfo:
    """One reflected column, as the operators see it.

    Every attribute is required: a connector that forgot to say whether a
    column is nullable must fail loudly, not have the engine guess.

    ``length`` depends on ``kind``: the most characters for STRING and TEXT,
    the most bytes for BINARY, the width in bits (16, 32, 64) for INTEGER;
    ``None`` means unbounded text or binary, or an integer of unknown width
    (then :data:`DEFAULT_INTEGER_BITS` is assumed). Other kinds ignore it.

    ``primary_key`` and ``unique`` are true when the column belongs to the
    primary key or to any UNIQUE constraint or unique index, alone or with
    other columns: a fixed value collides in a composite constraint as soon
    as the other columns agree. ``foreign_key`` is true when the column
    points at another table's column; ``referenced_by`` when some foreign key
    points at this column.
    """

    name: str
    kind: ColumnKind
    length: int | None
    nullable: bool
    primary_key: bool
    unique: bool
    foreign_key: bool
    referenced_by: bool

    @property
    def integer_bits(self) -> int:
        """Width of an INTEGER column in bits, the default when unknown."""
        return self.length if self.length is not None else DEFAULT_INTEGER_BITS

    @property
    def distinct_values(self) -> bool:
        """Whether two rows may not share a value (primary key or unique)."""
        return self.primary_key or self.unique

    @property
    def in_join(self) -> bool:
        """Whether a foreign key links this column with another one."""
        return self.foreign_key or self.referenced_by


@dataclass(frozen=True)
class OperatorProblem:
    """Why one field's erasure action cannot apply to its column.

    ``message`` is a full sentence naming the column, the reason and what to
    use instead; it is shown in the plan as is. It never holds data from the
    column, only the policy's own settings and the column's definition.
    """

    field: str
    action: str
    message: str

    def __str__(self) -> str:
        return f"{self.field} ({self.action}): {self.message}"


class OperatorError(InvalidInput):
    """A value found in a column cannot take the field's action, e.g. an
    ``ip`` column holding something that is not an IP address.

    Validation cannot foresee such a value: it is a fact about one row, and
    the run must stop on it rather than leave the cell as it was. The message
    names the field, the action and the *kind* of value (``str``, ``int``)
    and never the value itself, which is personal data.
    """

    code = "operator_error"

    def __init__(self, field: str, value_kind: str, *, action: str, reason: str) -> None:
        super().__init__(
            f"field '{field}': {action} cannot apply to this {value_kind} value: {reason}"
        )
        self.field = field
        self.value_kind = value_kind
        self.action = action
        self.reason = reason


_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ].+")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def parse_literal(text: str, column: ColumnInfo) -> object:
    """The policy's ``erasure_value`` as a value of ``column``'s kind.

    Raises ``ValueError`` with a clause saying why the text does not fit
    ("it is not a whole number, which column 'age' holds"); the clause never
    repeats the text, so the caller decides how to name it.
    Spellings are strict (no ``1_000``, no ``yes``, dates in ISO 8601
    extended form) so that what the policy says is exactly what is written.
    """
    kind = column.kind
    if kind in STRING_KINDS:
        return _bounded(text, "characters", column)
    if kind is ColumnKind.BINARY:
        return _bounded(text.encode("utf-8"), "bytes", column)
    if kind is ColumnKind.INTEGER:
        return _integer(text, column)
    if kind is ColumnKind.DECIMAL and _NUMBER.fullmatch(text):
        return Decimal(text)
    if kind is ColumnKind.FLOAT and _NUMBER.fullmatch(text):
        return float(text)
    if kind is ColumnKind.BOOLEAN and text.casefold() in _TRUE | _FALSE:
        return text.casefold() in _TRUE
    if kind is ColumnKind.DATE and _ISO_DATE.fullmatch(text):
        return _iso(date.fromisoformat, text, "date", column)
    if kind is ColumnKind.DATETIME and (_ISO_DATETIME.fullmatch(text) or _ISO_DATE.fullmatch(text)):
        return _iso(datetime.fromisoformat, text, "date and time", column)
    if kind is ColumnKind.OTHER:
        raise ValueError(
            f"column '{column.name}' has a type the engine does not know, so nothing "
            "shows that a fixed value fits"
        )
    raise ValueError(_not_a(kind, column))


_EXPECTED = {
    ColumnKind.INTEGER: "a whole number",
    ColumnKind.DECIMAL: "a decimal number such as 0 or 12.50",
    ColumnKind.FLOAT: "a finite number such as 0 or 1.5",
    ColumnKind.BOOLEAN: "true, false, 1 or 0",
    ColumnKind.DATE: "a date written YYYY-MM-DD",
    ColumnKind.DATETIME: "a date and time written YYYY-MM-DDTHH:MM:SS",
}


def _bounded(value: str | bytes, unit: str, column: ColumnInfo) -> str | bytes:
    if column.length is not None and len(value) > column.length:
        raise ValueError(
            f"it has {len(value)} {unit}, but column '{column.name}' holds at most {column.length}"
        )
    return value


def _integer(text: str, column: ColumnInfo) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(_not_a(ColumnKind.INTEGER, column))
    number = int(text)
    bits = column.integer_bits
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if not low <= number <= high:
        raise ValueError(
            f"it does not fit column '{column.name}', a {bits}-bit integer ({low} to {high})"
        )
    return number


def _iso(parse: Callable[[str], date], text: str, what: str, column: ColumnInfo) -> date:
    """Parse with ``parse``; a well-shaped text naming no real day (2026-02-30)
    is refused with the same kind of sentence as any other misfit."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"it is not a valid {what}, which column '{column.name}' holds") from None


def _not_a(kind: ColumnKind, column: ColumnInfo) -> str:
    return f"it is not {_EXPECTED[kind]}, which column '{column.name}' holds"
