"""Erasure operators: one per :class:`ErasureAction`, each able to say
whether it can apply to a column (``validate``), what it writes in a cell
(``operate``) and, in one sentence, what it does (``explain``).

Erasure requests and retention sweeps use the same operators. The engine's
promise is that a field which cannot take its action shows up in the plan as
an :class:`OperatorProblem` before anything runs; ``operate`` then never has
to decide anything about the column, only about the one value it is given.
Unforeseeable values (an ``ip`` column holding something that is not an IP
address) raise :class:`OperatorError`, which stops the run visibly.

Idempotence. Applying any operator to its own output changes nothing
(``operate(operate(v)) == operate(v)``): set_null, set_value, truncate_ip and
generalise_date by their nature, keyed_hash because it recognises its own
output by a keyed check. An erasure re-run after a crash therefore never
harms data it already erased.

Joins. A value-changing operator on a column that a foreign key links with
another column affects the other side too; :func:`join_rule` says what the
planner must arrange, and ``join_signature`` lets it check that every column
of a join is changed the same way. See docs/erasure-operators.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar, Literal, Protocol, TypeVar

from datasteward.fulfilment.columns import (
    STRING_KINDS,
    ColumnInfo,
    ColumnKind,
    OperatorError,
    OperatorProblem,
    parse_literal,
)
from datasteward.policy.model import ErasureAction

__all__ = [
    "HASH_MIN_HEX",
    "DeleteRow",
    "GeneraliseDate",
    "Keep",
    "KeyedHash",
    "Operator",
    "SetNull",
    "SetValue",
    "TruncateIp",
]

HASH_MIN_HEX = 16
"""Shortest keyed hash written into a text column: 16 hex characters, 64 bits."""
_HASH_FULL_HEX = 64
_HASH_MIN_KEY_BYTES = 16
_INT_HASH_BITS = 63
_LONGEST_IPV4 = len("255.255.255.255")
_ISO_DATE_LENGTH = len("2026-01-15")


class Operator(Protocol):
    """What every erasure operator offers the planner and the runner."""

    @property
    def field(self) -> str:
        """Name of the policy field (the column) the operator acts on."""

    @property
    def action(self) -> ErasureAction: ...

    @property
    def row_level(self) -> bool:
        """True only for delete_row: the row goes, no cell is written."""

    @property
    def idempotent(self) -> bool:
        """Whether applying the operator to its own output changes nothing.
        Every operator here is (keyed_hash by recognising its own output), so
        a run resumed after a crash between the company database's commit and
        the checkpoint that records it may apply them all again unharmed."""

    @property
    def needs_consistent_join(self) -> bool:
        """True when the operator maps each value to a new one (not NULL, not
        a constant): a join through the column survives only if every column
        of the join gets the same mapping (see :func:`join_rule`)."""

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        """Every reason the action cannot apply to ``column``; empty if it can."""

    def operate(self, value: object, column: ColumnInfo) -> object:
        """The new value of one cell holding ``value`` in ``column``.
        Only call it for a column ``validate`` accepted."""

    def explain(self) -> str:
        """One sentence for plans and reports: what happens to the field."""

    def join_signature(self, column: ColumnInfo) -> str:
        """Equal for two (operator, column) pairs exactly when they turn equal
        values into equal values; reveals nothing about the hash key."""


@dataclass(frozen=True)
class _Base:
    """Shared attributes and the problem builder."""

    field: str
    action: ClassVar[ErasureAction]
    row_level: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True
    needs_consistent_join: ClassVar[bool] = False

    def _problem(self, message: str) -> OperatorProblem:
        return OperatorProblem(self.field, self.action.value, message)

    def _fail(self, value: object, reason: str) -> OperatorError:
        return OperatorError(
            self.field, type(value).__name__, action=self.action.value, reason=reason
        )

    def join_signature(self, column: ColumnInfo) -> str:
        return self.action.value

    def _collision(self, column: ColumnInfo, where: str) -> OperatorProblem:
        what = "part of the primary key" if column.primary_key else "unique"
        return self._problem(
            f"column '{column.name}' is {what}: two erased rows {where} would get the same "
            f"value and break the constraint; {_instead(column, self.action)}"
        )


@dataclass(frozen=True)
class DeleteRow(_Base):
    """delete_row: the subject's whole row goes.

    It applies to any column, so it never reports a problem. Rows of other
    tables pointing at the deleted row are the planner's concern: for each
    column of the table with ``referenced_by`` (usually the primary key, which
    is rarely a declared field) :func:`join_rule` says children first.
    """

    action: ClassVar[ErasureAction] = ErasureAction.DELETE_ROW
    row_level: ClassVar[bool] = True

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        return []

    def operate(self, value: object, column: ColumnInfo) -> object:
        raise TypeError("delete_row removes the whole row; there is no new cell value")

    def explain(self) -> str:
        return "the whole row is deleted"


@dataclass(frozen=True)
class SetNull(_Base):
    """set_null: the cell becomes NULL. Fine on a unique column (NULLs do not
    collide in PostgreSQL, MariaDB or SQLite) and on a foreign key (the link
    is dropped); impossible on a NOT NULL or primary key column."""

    action: ClassVar[ErasureAction] = ErasureAction.SET_NULL

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        if column.primary_key:
            return [
                self._problem(
                    f"column '{column.name}' is part of the primary key, which cannot be NULL, "
                    f"so set_null cannot apply; {_instead(column, self.action)}"
                )
            ]
        if not column.nullable:
            return [
                self._problem(
                    f"column '{column.name}' is NOT NULL, so set_null cannot apply; "
                    f"{_instead(column, self.action)}"
                )
            ]
        return []

    def operate(self, value: object, column: ColumnInfo) -> object:
        return None

    def explain(self) -> str:
        return "emptied (set to NULL)"


@dataclass(frozen=True)
class SetValue(_Base):
    """set_value: the cell gets the policy's fixed ``erasure_value``, read as
    a value of the column's kind. A NULL cell stays NULL: there was nothing to
    erase, and a placeholder would claim there had been."""

    text: str
    action: ClassVar[ErasureAction] = ErasureAction.SET_VALUE

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        if self.text.casefold() == "null":
            return [
                self._problem(
                    f"erasure_value '{self.text}' reads as SQL NULL, which set_value does not "
                    "write (it writes text as given); use set_null"
                )
            ]
        problems = [self._problem(reason) for reason in self._refusals(column)]
        try:
            parse_literal(self.text, column)
        except ValueError as error:
            problems.append(
                self._problem(f"erasure_value '{self.text}' cannot be written: {error}")
            )
        return problems

    def _refusals(self, column: ColumnInfo) -> list[str]:
        name = column.name
        if column.primary_key:
            return [
                f"column '{name}' is part of the primary key: every erased row would get the "
                f"same key; {_instead(column, self.action)}"
            ]
        reasons: list[str] = []
        if column.unique:
            reasons.append(
                f"column '{name}' is unique: every erased row would get the same value "
                f"'{self.text}' and the second one would break the constraint; "
                f"{_instead(column, self.action)}"
            )
        elif column.referenced_by:
            reasons.append(
                f"other tables point at column '{name}': a fixed value would leave their rows "
                f"pointing at a value that no longer exists; {_instead(column, self.action)}"
            )
        if column.foreign_key:
            reasons.append(
                f"column '{name}' is a foreign key: a fixed value would point every erased "
                "row at one row of the other table, or at none, which the constraint "
                f"refuses; {_instead(column, self.action)}"
            )
        return reasons

    def operate(self, value: object, column: ColumnInfo) -> object:
        if value is None:
            return None
        return parse_literal(self.text, column)

    def explain(self) -> str:
        return f"replaced by the fixed value '{self.text}'"

    def join_signature(self, column: ColumnInfo) -> str:
        return f"set_value:{self.text}"


@dataclass(frozen=True)
class KeyedHash(_Base):
    """keyed_hash: HMAC-SHA256 under the engine's erasure key, over the UTF-8
    text of the value (an integer ``42`` is the text ``"42"``), written so
    that the operator recognises its own output and leaves it alone.

    Text columns of ``L`` characters (64, or the column's length when that is
    shorter, never below :data:`HASH_MIN_HEX`) get ``L`` lowercase hex
    characters: the digest's first ``L - c`` characters, then ``c`` check
    characters, an HMAC of those under the same key (``c`` is 8 when ``L`` is
    32 or more, else 4). INTEGER columns (64 bits wide) get a number with bit
    62 set, 54 digest bits below it and an 8-bit keyed check at the bottom.

    Why a keyed check and not a fixed prefix: a re-run after a crash must not
    hash a hash (:attr:`idempotent`), so the operator has to tell its output
    from real data. A prefix anyone can type (a customer naming themselves
    ``h$...``) would make their value look erased and skip it; a check only
    the key holder can compute cannot be forged that way. A real value is
    mistaken for a hash only if it is exactly ``L`` hex characters whose
    last ``c`` match the check (one in 2^32, or 2^16 for short columns), or
    an integer of at least 2^62 whose low byte matches (one in 256 of such
    integers; ordinary ids are far smaller).

    Equal inputs give equal outputs under one key, so joins on the hashed
    column keep working if both sides get the same operator (:func:`join_rule`);
    distinct inputs collide with probability about n²/2^(4(L-c)+1) for n
    values (n²/2^49 at the shortest, 16 characters) or n²/2^55 for integers,
    which is why a unique column may take it.

    The result is pseudonymous, not anonymous: whoever holds the key can test
    a guess.
    """

    key: bytes = dataclasses.field(repr=False)
    action: ClassVar[ErasureAction] = ErasureAction.KEYED_HASH
    needs_consistent_join: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if len(self.key) < _HASH_MIN_KEY_BYTES:
            raise ValueError(f"keyed_hash needs a key of at least {_HASH_MIN_KEY_BYTES} bytes")

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        name = column.name
        if column.kind in STRING_KINDS:
            if column.length is not None and column.length < HASH_MIN_HEX:
                return [
                    self._problem(
                        f"column '{name}' holds at most {column.length} characters, fewer than "
                        f"the {HASH_MIN_HEX} a keyed hash needs to keep distinct values "
                        f"distinct; {_instead(column, self.action)}"
                    )
                ]
            return []
        if column.kind is ColumnKind.INTEGER:
            if column.integer_bits < _INT_HASH_BITS + 1:
                return [
                    self._problem(
                        f"column '{name}' is a {column.integer_bits}-bit integer; a keyed hash "
                        "writes 63-bit numbers and needs a 64-bit (BIGINT) column; "
                        f"{_instead(column, self.action)}"
                    )
                ]
            return []
        return [
            self._problem(
                f"column '{name}' holds {column.kind.value} values, and a keyed hash is text "
                f"or a 64-bit integer; {_instead(column, self.action)}"
            )
        ]

    def operate(self, value: object, column: ColumnInfo) -> object:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self._fail(value, "only text and whole numbers are hashed")
        if self.recognises(value, column):
            return value
        digest = hmac.new(self.key, str(value).encode("utf-8"), hashlib.sha256).digest()
        if column.kind is ColumnKind.INTEGER:
            body = int.from_bytes(digest[:8], "big") >> (64 - _INT_BODY_BITS)
            return _INT_MARK | body << _INT_CHECK_BITS | self._int_check(body)
        length = _hex_length(column)
        body_hex = digest.hex()[: length - _check_length(length)]
        return body_hex + self._text_check(body_hex, _check_length(length))

    def recognises(self, value: object, column: ColumnInfo) -> bool:
        """Whether ``value`` is this operator's own output for ``column``
        (under this key), so that hashing it again must leave it as it is."""
        if column.kind is ColumnKind.INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                return False
            if not _INT_MARK <= value < 2 * _INT_MARK:
                return False
            body = (value - _INT_MARK) >> _INT_CHECK_BITS
            return value & _INT_CHECK_MASK == self._int_check(body)
        if not isinstance(value, str):
            return False
        length = _hex_length(column)
        if len(value) != length or not _LOWER_HEX.fullmatch(value):
            return False
        check = _check_length(length)
        return hmac.compare_digest(value[-check:], self._text_check(value[: length - check], check))

    def _text_check(self, body: str, length: int) -> str:
        mac = hmac.new(self.key, _CHECK_LABEL + body.encode("ascii"), hashlib.sha256)
        return mac.hexdigest()[:length]

    def _int_check(self, body: int) -> int:
        mac = hmac.new(self.key, _CHECK_LABEL + str(body).encode("ascii"), hashlib.sha256)
        return mac.digest()[0]

    def explain(self) -> str:
        return (
            "replaced by a keyed hash (HMAC-SHA256): equal values stay equal, so joins keep "
            "working, and the original cannot be read back without the key"
        )

    def join_signature(self, column: ColumnInfo) -> str:
        fingerprint = hmac.new(self.key, b"datasteward keyed_hash", hashlib.sha256).hexdigest()
        shape = "int63" if column.kind is ColumnKind.INTEGER else f"hex{_hex_length(column)}"
        return f"keyed_hash:{fingerprint[:12]}:{shape}"


_CHECK_LABEL = b"datasteward keyed_hash check:"
_LOWER_HEX = re.compile(r"[0-9a-f]+")
_INT_CHECK_BITS = 8
_INT_CHECK_MASK = (1 << _INT_CHECK_BITS) - 1
_INT_BODY_BITS = _INT_HASH_BITS - 1 - _INT_CHECK_BITS
_INT_MARK = 1 << (_INT_HASH_BITS - 1)
"""Bit 62: every integer keyed hash has it set (and bit 63 clear)."""


def _check_length(length: int) -> int:
    """Check characters in a text hash of ``length`` characters."""
    return 8 if length >= 32 else 4


def _hex_length(column: ColumnInfo) -> int:
    if column.length is None:
        return _HASH_FULL_HEX
    return min(_HASH_FULL_HEX, column.length)


@dataclass(frozen=True)
class TruncateIp(_Base):
    """truncate_ip: an IPv4 address becomes its /24 network address
    (``203.0.113.77`` → ``203.0.113.0``), an IPv6 address its /48 one
    (``2001:db8:1:2::5`` → ``2001:db8:1::``). An IPv4-mapped IPv6 address
    (``::ffff:203.0.113.77``) is an IPv4 client and is cut to /24, written
    ``::ffff:cb00:7100``. The result is never longer than the input, so it fits
    wherever the input did. An empty text stays empty; anything else that is
    not an IP address raises :class:`OperatorError`.
    """

    action: ClassVar[ErasureAction] = ErasureAction.TRUNCATE_IP
    needs_consistent_join: ClassVar[bool] = True

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        name = column.name
        if column.kind not in STRING_KINDS:
            return [
                self._problem(
                    f"column '{name}' holds {column.kind.value} values, and truncate_ip works "
                    f"on IP addresses stored as text; {_instead(column, self.action)}"
                )
            ]
        problems: list[OperatorProblem] = []
        if column.length is not None and column.length < _LONGEST_IPV4:
            problems.append(
                self._problem(
                    f"column '{name}' holds at most {column.length} characters, too few for an "
                    f"IP address ({_LONGEST_IPV4} for IPv4), so it does not look like an IP "
                    "address column; check the field's column and action"
                )
            )
        if column.distinct_values:
            problems.append(self._collision(column, "in the same network"))
        return problems

    def operate(self, value: object, column: ColumnInfo) -> object:
        if value is None or value == "":
            return value
        if not isinstance(value, str):
            raise self._fail(value, "IP addresses are expected as text")
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise self._fail(value, "not an IP address") from None
        return _truncate_address(address)

    def explain(self) -> str:
        return "IP address cut to its network (IPv4 /24, IPv6 /48)"


def _truncate_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Text of ``address``'s /24 (IPv4) or /48 (IPv6) network address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        low = int(address.ipv4_mapped) & 0xFFFFFF00
        return f"::ffff:{low >> 16:x}:{low & 0xFFFF:x}"
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Address(int(address) & ~0xFF & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address(int(address) >> 80 << 80))


_ISO_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ].*)?", re.DOTALL)
_ZONE = re.compile(r"[Zz+-]")
_DIGIT = re.compile(r"[0-9]")
_D = TypeVar("_D", bound=date)


@dataclass(frozen=True)
class GeneraliseDate(_Base):
    """generalise_date: a date becomes the first day of its month or year; a
    date and time becomes midnight of that day, its time zone kept.

    Text columns holding ISO 8601 dates (``2026-01-15``,
    ``2026-01-15 10:30:00+02:00``) are generalised in place: the same shape,
    the day and the time digits set to their first value, so the text keeps
    its length and format. Other text raises :class:`OperatorError`.
    """

    unit: Literal["month", "year"]
    action: ClassVar[ErasureAction] = ErasureAction.GENERALISE_DATE
    needs_consistent_join: ClassVar[bool] = True

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        name = column.name
        problems: list[OperatorProblem] = []
        if column.kind in STRING_KINDS:
            if column.length is not None and column.length < _ISO_DATE_LENGTH:
                problems.append(
                    self._problem(
                        f"column '{name}' holds at most {column.length} characters, too few "
                        "for an ISO date (YYYY-MM-DD); generalise_date reads dates in text "
                        f"only in that form; {_instead(column, self.action)}"
                    )
                )
        elif column.kind not in (ColumnKind.DATE, ColumnKind.DATETIME):
            problems.append(
                self._problem(
                    f"column '{name}' holds {column.kind.value} values, not dates; "
                    f"{_instead(column, self.action)}"
                )
            )
        if column.distinct_values:
            problems.append(self._collision(column, f"in the same {self.unit}"))
        return problems

    def operate(self, value: object, column: ColumnInfo) -> object:
        if value is None:
            return None
        if isinstance(value, datetime):
            return self._first(value).replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
        if isinstance(value, date):
            return self._first(value)
        if isinstance(value, str):
            return self._generalise_text(value)
        raise self._fail(value, "dates are expected as date, datetime or ISO 8601 text")

    def _first(self, value: _D) -> _D:
        return value.replace(month=1, day=1) if self.unit == "year" else value.replace(day=1)

    def _generalise_text(self, text: str) -> str:
        """``2026-05-17T10:11:12+03:00`` → ``2026-05-01T00:00:00+03:00``: the
        date part rewritten, every digit of the time set to 0, the zone kept."""
        if not _ISO_TEXT.fullmatch(text):
            raise self._fail(text, "not a date written YYYY-MM-DD (ISO 8601)")
        try:
            datetime.fromisoformat(text)
        except ValueError:
            raise self._fail(text, "not a valid ISO 8601 date") from None
        day = text[:5] + "01-01" if self.unit == "year" else text[:8] + "01"
        separator, time = text[10:11], text[11:]
        zone = _ZONE.search(time)
        end = zone.start() if zone else len(time)
        return day + separator + _DIGIT.sub("0", time[:end]) + time[end:]

    def explain(self) -> str:
        return f"date coarsened to the first day of its {self.unit}"

    def join_signature(self, column: ColumnInfo) -> str:
        return f"generalise_date:{self.unit}"


@dataclass(frozen=True)
class Keep(_Base):
    """keep: the value stays as it is. Always valid here; the policy linter
    and the planner require a legal hold naming why (Art. 17(3))."""

    action: ClassVar[ErasureAction] = ErasureAction.KEEP

    def validate(self, column: ColumnInfo) -> list[OperatorProblem]:
        return []

    def operate(self, value: object, column: ColumnInfo) -> object:
        return value

    def explain(self) -> str:
        return "kept unchanged, as a legal hold requires"


def _alternatives(column: ColumnInfo) -> list[ErasureAction]:
    """Actions that suit ``column``, best first, for "use ... instead" hints.
    A hint, not a promise: the suggested action is validated like any other."""
    options: list[ErasureAction] = []
    text = column.kind in STRING_KINDS
    if (text and (column.length is None or column.length >= HASH_MIN_HEX)) or (
        column.kind is ColumnKind.INTEGER and column.integer_bits > _INT_HASH_BITS
    ):
        options.append(ErasureAction.KEYED_HASH)
    if column.kind in (ColumnKind.DATE, ColumnKind.DATETIME) and not column.distinct_values:
        options.append(ErasureAction.GENERALISE_DATE)
    if not (column.distinct_values or column.foreign_key or column.kind is ColumnKind.OTHER):
        options.append(ErasureAction.SET_VALUE)
    if column.nullable and not column.primary_key:
        options.append(ErasureAction.SET_NULL)
    options.append(ErasureAction.DELETE_ROW)
    return options


def _instead(column: ColumnInfo, but_not: ErasureAction) -> str:
    names = [action.value for action in _alternatives(column) if action is not but_not]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"use {listed}"
