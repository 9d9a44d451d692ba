"""Erasure operators: every action is judged against the real column before
anything runs, writes only what fits that column, and never puts personal
data into an error message."""

from __future__ import annotations

import ast
import hashlib
import hmac
import importlib
import ipaddress
import math
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from datasteward.errors import InvalidInput, StewardError
from datasteward.fulfilment import (
    ColumnInfo,
    ColumnKind,
    JoinRule,
    Operator,
    OperatorError,
    OperatorProblem,
    join_rule,
    operator_for,
    validate_field,
)
from datasteward.fulfilment.operators import (
    HASH_MIN_HEX,
    DeleteRow,
    GeneraliseDate,
    Keep,
    KeyedHash,
    SetNull,
    SetValue,
    TruncateIp,
)
from datasteward.policy.model import DatasetField, ErasureAction

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def column(**changes: object) -> ColumnInfo:
    """A plain VARCHAR(255) NULL column with no constraints, changed as asked."""
    base = ColumnInfo(
        name="notes",
        kind=ColumnKind.STRING,
        length=255,
        nullable=True,
        primary_key=False,
        unique=False,
        foreign_key=False,
        referenced_by=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


TEXT = column(kind=ColumnKind.TEXT, length=None)
BIGINT = column(kind=ColumnKind.INTEGER, length=64)


def field(action: ErasureAction, **settings: str) -> DatasetField:
    return DatasetField(name="notes", category="contact", erasure=action, **settings)


SETTINGS: dict[ErasureAction, dict[str, str]] = {
    ErasureAction.SET_VALUE: {"erasure_value": "Deleted user"},
    ErasureAction.GENERALISE_DATE: {"generalise_to": "year"},
}


def every_operator() -> list[Operator]:
    """One operator per action, built from complete policy settings."""
    return [operator_for(field(a, **SETTINGS.get(a, {})), hash_key=KEY) for a in ErasureAction]


def messages(problems: list[OperatorProblem]) -> str:
    return " | ".join(p.message for p in problems)


# --------------------------------------------------------------------------
# column description and errors


def test_column_info_has_no_defaults_a_connector_could_forget() -> None:
    with pytest.raises(TypeError):
        ColumnInfo(name="email", kind=ColumnKind.STRING)  # type: ignore[call-arg]


def test_integer_width_defaults_to_32_bits_when_unknown() -> None:
    assert column(kind=ColumnKind.INTEGER, length=None).integer_bits == 32
    assert BIGINT.integer_bits == 64


def test_operator_error_is_a_typed_steward_error_without_the_value() -> None:
    with pytest.raises(OperatorError) as caught:
        TruncateIp("last_ip").operate("ana.berzina@zala-plava.example", column())
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert isinstance(error, StewardError)
    assert (error.field, error.value_kind, error.action) == ("last_ip", "str", "truncate_ip")
    assert error.code == "operator_error"
    assert "last_ip" in error.message
    assert "ana" not in error.message
    assert "zala" not in str(error)


# --------------------------------------------------------------------------
# set_null


def test_set_null_refuses_a_not_null_column_and_names_alternatives() -> None:
    problems = SetNull("email").validate(column(name="email", nullable=False))
    assert problems == [
        OperatorProblem(
            "email",
            "set_null",
            "column 'email' is NOT NULL, so set_null cannot apply; "
            "use keyed_hash, set_value or delete_row",
        )
    ]


def test_set_null_refuses_the_primary_key() -> None:
    problems = SetNull("id").validate(column(name="id", primary_key=True, nullable=False))
    assert len(problems) == 1
    assert "primary key" in problems[0].message
    assert "delete_row" in problems[0].message
    assert "set_value" not in problems[0].message


@pytest.mark.parametrize(
    "target",
    [column(unique=True), column(foreign_key=True), column(kind=ColumnKind.OTHER)],
    ids=["unique", "foreign-key", "unknown-type"],
)
def test_set_null_accepts_nullable_unique_foreign_key_and_any_kind(target: ColumnInfo) -> None:
    assert SetNull("notes").validate(target) == []


def test_set_null_writes_null_whatever_the_value() -> None:
    assert SetNull("notes").operate("Ana Bērziņa", column()) is None
    assert SetNull("notes").operate(None, column()) is None


# --------------------------------------------------------------------------
# set_value


@pytest.mark.parametrize(
    ("kind", "length", "text", "expected"),
    [
        (ColumnKind.STRING, 12, "Deleted user", "Deleted user"),
        (ColumnKind.TEXT, None, "Dzēsts", "Dzēsts"),
        (ColumnKind.INTEGER, None, "-1", -1),
        (ColumnKind.INTEGER, 64, "9223372036854775807", 2**63 - 1),
        (ColumnKind.DECIMAL, None, "12.50", Decimal("12.50")),
        (ColumnKind.FLOAT, None, "1.5e3", 1500.0),
        (ColumnKind.BOOLEAN, None, "FALSE", False),
        (ColumnKind.BOOLEAN, None, "1", True),
        (ColumnKind.DATE, None, "1900-01-01", date(1900, 1, 1)),
        (
            ColumnKind.DATETIME,
            None,
            "2026-01-15T10:30:00+02:00",
            datetime(2026, 1, 15, 10, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        (ColumnKind.BINARY, 6, "erased", b"erased"),
    ],
)
def test_set_value_writes_the_policy_text_as_a_value_of_the_column_kind(
    kind: ColumnKind, length: int | None, text: str, expected: object
) -> None:
    target = column(kind=kind, length=length)
    operator = SetValue("notes", text)
    assert operator.validate(target) == []
    written = operator.operate("old value", target)
    assert written == expected
    assert type(written) is type(expected)


@pytest.mark.parametrize(
    ("kind", "length", "text", "reason"),
    [
        (
            ColumnKind.STRING,
            5,
            "Deleted user",
            "it has 12 characters, but column 'notes' holds at most 5",
        ),
        (ColumnKind.BINARY, 2, "Dzēsts", "it has 7 bytes"),
        (ColumnKind.INTEGER, None, "1_000", "not a whole number"),
        (ColumnKind.INTEGER, None, "1.0", "not a whole number"),
        (ColumnKind.INTEGER, None, "2147483648", "a 32-bit integer (-2147483648 to 2147483647)"),
        (ColumnKind.INTEGER, 16, "-32769", "a 16-bit integer"),
        (ColumnKind.DECIMAL, None, "NaN", "not a decimal number"),
        (ColumnKind.FLOAT, None, "inf", "not a finite number"),
        (ColumnKind.BOOLEAN, None, "yes", "not true, false, 1 or 0"),
        (ColumnKind.DATE, None, "2026-02-30", "not a valid date"),
        (ColumnKind.DATE, None, "15.01.2026", "not a date written YYYY-MM-DD"),
        (ColumnKind.DATE, None, "2026-01-15T00:00", "not a date written YYYY-MM-DD"),
        (ColumnKind.DATETIME, None, "2026-01-15T25:00", "not a valid date and time"),
        (ColumnKind.OTHER, None, "{}", "a type the engine does not know"),
    ],
)
def test_set_value_refuses_text_that_does_not_fit_and_says_why(
    kind: ColumnKind, length: int | None, text: str, reason: str
) -> None:
    problems = SetValue("notes", text).validate(column(kind=kind, length=length))
    assert len(problems) == 1
    assert problems[0].message.startswith(f"erasure_value '{text}' cannot be written: ")
    assert reason in problems[0].message


def test_set_value_refuses_a_unique_column_and_suggests_keyed_hash() -> None:
    problems = SetValue("username", "deleted").validate(column(name="username", unique=True))
    assert len(problems) == 1
    message = problems[0].message
    assert "column 'username' is unique" in message
    assert "every erased row would get the same value 'deleted'" in message
    assert "use keyed_hash" in message
    assert "set_value" not in message.split("use ")[1]


def test_set_value_refuses_the_primary_key_once() -> None:
    problems = SetValue("code", "X").validate(column(name="code", primary_key=True, unique=True))
    assert len(problems) == 1
    assert "primary key" in problems[0].message


def test_set_value_refuses_a_foreign_key_and_points_to_set_null() -> None:
    problems = SetValue("customer_ref", "0").validate(
        column(name="customer_ref", kind=ColumnKind.INTEGER, foreign_key=True)
    )
    assert len(problems) == 1
    assert "foreign key" in problems[0].message
    assert "set_null" in problems[0].message


def test_set_value_refuses_a_column_other_tables_point_at() -> None:
    problems = SetValue("code", "X").validate(column(name="code", referenced_by=True))
    assert len(problems) == 1
    assert "other tables point at column 'code'" in problems[0].message


@pytest.mark.parametrize("text", ["NULL", "null", "Null"])
def test_set_value_does_not_read_null_as_sql_null(text: str) -> None:
    problems = SetValue("notes", text).validate(column())
    assert len(problems) == 1
    assert "use set_null" in problems[0].message


def test_set_value_on_a_foreign_key_with_a_null_value_is_still_refused() -> None:
    problems = SetValue("customer_ref", "NULL").validate(column(foreign_key=True))
    assert messages(problems).count("use set_null") == 1


def test_set_value_keeps_null_cells_null_and_explains_the_value() -> None:
    operator = SetValue("notes", "Deleted user")
    assert operator.operate(None, column()) is None
    assert operator.explain() == "replaced by the fixed value 'Deleted user'"


# --------------------------------------------------------------------------
# keyed_hash


def reference_mac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


CHECK_LABEL = b"datasteward keyed_hash check:"


def reference_text_hash(key: bytes, text: str, length: int) -> str:
    """The keyed hash written out independently: the digest's first
    characters, then a keyed check over them (8 characters, 4 below 32)."""
    check = 8 if length >= 32 else 4
    body = reference_mac(key, text).hex()[: length - check]
    return body + hmac.new(key, CHECK_LABEL + body.encode(), hashlib.sha256).hexdigest()[:check]


def reference_int_hash(key: bytes, text: str) -> int:
    body = int.from_bytes(reference_mac(key, text)[:8], "big") >> 10
    check = hmac.new(key, CHECK_LABEL + str(body).encode(), hashlib.sha256).digest()[0]
    return 1 << 62 | body << 8 | check


def test_keyed_hash_is_hex_hmac_sha256_of_the_utf8_text() -> None:
    written = KeyedHash("email", KEY).operate("ana.bērziņa@zala-plava.example", TEXT)
    assert written == reference_text_hash(KEY, "ana.bērziņa@zala-plava.example", 64)
    assert isinstance(written, str)
    assert len(written) == 64
    assert written[:56] == reference_mac(KEY, "ana.bērziņa@zala-plava.example").hex()[:56]


def test_keyed_hash_is_cut_to_a_shorter_column() -> None:
    written = KeyedHash("email", KEY).operate("ana@example.lv", column(length=32))
    assert written == reference_text_hash(KEY, "ana@example.lv", 32)
    assert str(written)[:24] == reference_mac(KEY, "ana@example.lv").hex()[:24]


def test_keyed_hash_needs_at_least_16_characters() -> None:
    operator = KeyedHash("code", KEY)
    assert operator.validate(column(length=HASH_MIN_HEX)) == []
    problems = operator.validate(column(name="code", length=15))
    assert len(problems) == 1
    assert "at most 15 characters, fewer than the 16" in problems[0].message
    written = operator.operate("ZP-1042", column(length=16))
    assert written == reference_text_hash(KEY, "ZP-1042", 16)


def test_keyed_hash_on_bigint_writes_a_marked_63_bit_number() -> None:
    written = KeyedHash("customer_no", KEY).operate(1042, BIGINT)
    assert written == reference_int_hash(KEY, "1042")
    assert isinstance(written, int)
    assert 2**62 <= written < 2**63


def test_keyed_hash_leaves_its_own_output_alone() -> None:
    operator = KeyedHash("email", KEY)
    for target in (TEXT, column(length=32), column(length=16), BIGINT):
        value: str | int = 1042 if target is BIGINT else "ana@example.lv"
        once = operator.operate(value, target)
        assert operator.recognises(once, target)
        assert operator.operate(once, target) == once
        assert not operator.recognises(value, target)


def test_keyed_hash_does_not_take_hex_text_or_big_numbers_for_its_own() -> None:
    operator = KeyedHash("ref", KEY)
    digest = reference_mac(KEY, "ana@example.lv").hex()  # plain HMAC, no check
    assert not operator.recognises(digest, TEXT)
    assert operator.operate(digest, TEXT) != digest
    near = [n for n in range(2**62, 2**62 + 512) if not operator.recognises(n, BIGINT)]
    assert len(near) > 400  # about 1 in 256 of such huge numbers match the check
    assert not operator.recognises(2**62 - 1, BIGINT)
    assert not operator.recognises(True, BIGINT) and not operator.recognises("42", BIGINT)
    # another key's output is a value like any other
    other = KeyedHash("ref", OTHER_KEY).operate("ana@example.lv", TEXT)
    assert not operator.recognises(other, TEXT)
    assert operator.operate(other, TEXT) != other


@pytest.mark.parametrize("length", [None, 32, 16])
def test_keyed_hash_refuses_integers_narrower_than_64_bits(length: int | None) -> None:
    problems = KeyedHash("n", KEY).validate(column(kind=ColumnKind.INTEGER, length=length))
    assert len(problems) == 1
    assert "BIGINT" in problems[0].message


@pytest.mark.parametrize(
    "kind", [ColumnKind.DATE, ColumnKind.BOOLEAN, ColumnKind.FLOAT, ColumnKind.OTHER]
)
def test_keyed_hash_refuses_columns_that_cannot_hold_a_hash(kind: ColumnKind) -> None:
    problems = KeyedHash("n", KEY).validate(column(kind=kind))
    assert len(problems) == 1
    assert f"holds {kind.value} values" in problems[0].message


def test_keyed_hash_hashes_a_number_as_its_decimal_text() -> None:
    operator = KeyedHash("ref", KEY)
    assert operator.operate(42, TEXT) == operator.operate("42", TEXT)


def test_keyed_hash_keeps_null_and_refuses_other_python_types() -> None:
    operator = KeyedHash("ref", KEY)
    assert operator.operate(None, TEXT) is None
    for value in (True, b"ana", 1.5):
        with pytest.raises(OperatorError):
            operator.operate(value, TEXT)


@pytest.mark.parametrize(
    "target",
    [column(unique=True), column(primary_key=True, nullable=False), column(foreign_key=True)],
    ids=["unique", "primary-key", "foreign-key"],
)
def test_keyed_hash_accepts_keys_and_unique_columns(target: ColumnInfo) -> None:
    assert KeyedHash("ref", KEY).validate(target) == []


def test_keyed_hash_keeps_its_key_out_of_repr_and_signature() -> None:
    operator = KeyedHash("ref", KEY)
    assert KEY.hex() not in repr(operator)
    assert repr(KEY) not in repr(operator)
    assert KEY.hex()[:12] not in operator.join_signature(TEXT)


def test_keyed_hash_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        KeyedHash("ref", b"short")


def test_join_signature_tells_joins_that_would_break() -> None:
    operator = KeyedHash("ref", KEY)
    same = operator.join_signature(column(length=64))
    assert KeyedHash("other_ref", KEY).join_signature(TEXT) == same
    assert operator.join_signature(column(length=32)) != same
    assert KeyedHash("ref", OTHER_KEY).join_signature(TEXT) != same
    assert operator.join_signature(BIGINT) != same
    assert GeneraliseDate("d", "month").join_signature(TEXT) != GeneraliseDate(
        "d", "year"
    ).join_signature(TEXT)


# --------------------------------------------------------------------------
# truncate_ip


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("10.0.0.255", "10.0.0.0"),
        ("2001:db8:1:2::5", "2001:db8:1::"),
        ("2001:0db8:abcd:0012:0000:0000:0000:0001", "2001:db8:abcd::"),
        ("::1", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:203.0.113.77", "::ffff:cb00:7100"),
        ("::ffff:cb00:714d", "::ffff:cb00:7100"),
    ],
)
def test_truncate_ip_keeps_the_network_only(address: str, network: str) -> None:
    assert TruncateIp("last_ip").operate(address, column(length=45)) == network


@pytest.mark.parametrize("value", ["not-an-ip", "203.0.113", "203.0.113.077", "10.0.0.0/24"])
def test_truncate_ip_raises_on_text_that_is_not_an_address(value: str) -> None:
    with pytest.raises(OperatorError) as caught:
        TruncateIp("last_ip").operate(value, column())
    assert value not in caught.value.message
    assert caught.value.reason == "not an IP address"


def test_truncate_ip_raises_on_a_number() -> None:
    with pytest.raises(OperatorError) as caught:
        TruncateIp("last_ip").operate(3405803853, column())
    assert caught.value.value_kind == "int"
    assert "3405803853" not in caught.value.message


def test_truncate_ip_keeps_null_and_empty_text() -> None:
    assert TruncateIp("last_ip").operate(None, column()) is None
    assert TruncateIp("last_ip").operate("", column()) == ""


def test_truncate_ip_accepts_text_columns_long_enough_for_ipv4() -> None:
    operator = TruncateIp("last_ip")
    assert operator.validate(column(length=15)) == []
    assert operator.validate(column(length=39)) == []
    assert operator.validate(TEXT) == []


def test_truncate_ip_refuses_other_kinds_short_and_unique_columns() -> None:
    operator = TruncateIp("last_ip")
    assert "holds binary values" in messages(operator.validate(column(kind=ColumnKind.BINARY)))
    assert "too few for an IP address" in messages(operator.validate(column(length=12)))
    unique = operator.validate(column(unique=True))
    assert len(unique) == 1
    assert "two erased rows in the same network would get the same value" in unique[0].message


# --------------------------------------------------------------------------
# generalise_date

RIGA_SUMMER = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("month", date(2026, 5, 17), date(2026, 5, 1)),
        ("year", date(2026, 5, 17), date(2026, 1, 1)),
        (
            "month",
            datetime(2026, 5, 17, 10, 11, 12, 13, tzinfo=RIGA_SUMMER),
            datetime(2026, 5, 1, tzinfo=RIGA_SUMMER),
        ),
        ("year", datetime(2026, 5, 17, 23, 59), datetime(2026, 1, 1)),
        ("month", "2026-05-17", "2026-05-01"),
        ("year", "2026-05-17", "2026-01-01"),
        ("month", "2026-05-17 10:11:12", "2026-05-01 00:00:00"),
        ("month", "2026-05-17T10:11:12.123456+03:00", "2026-05-01T00:00:00.000000+03:00"),
        ("year", "2026-05-17T10:11:12Z", "2026-01-01T00:00:00Z"),
        ("month", "2026-05-17T10:11-05:00", "2026-05-01T00:00-05:00"),
    ],
)
def test_generalise_date_goes_to_the_first_day(unit: str, value: object, expected: object) -> None:
    operator = GeneraliseDate("born", "year" if unit == "year" else "month")
    written = operator.operate(value, column(kind=ColumnKind.DATETIME))
    assert written == expected
    assert type(written) is type(expected)
    if isinstance(written, datetime) and isinstance(value, datetime):
        assert written.tzinfo is value.tzinfo


@pytest.mark.parametrize("value", ["17.05.2026", "2026-02-30", "2026-05-17Tnoon", "soon"])
def test_generalise_date_raises_on_text_that_is_not_an_iso_date(value: str) -> None:
    with pytest.raises(OperatorError) as caught:
        GeneraliseDate("born", "month").operate(value, column())
    assert value not in caught.value.message


def test_generalise_date_keeps_null_and_refuses_numbers() -> None:
    operator = GeneraliseDate("born", "month")
    assert operator.operate(None, column()) is None
    with pytest.raises(OperatorError):
        operator.operate(20260517, column())


def test_generalise_date_accepts_date_kinds_and_iso_text() -> None:
    operator = GeneraliseDate("born", "year")
    for kind in (ColumnKind.DATE, ColumnKind.DATETIME, ColumnKind.TEXT):
        assert operator.validate(column(kind=kind, length=None)) == []
    assert operator.validate(column(length=10)) == []


def test_generalise_date_refuses_other_kinds_short_text_and_unique_columns() -> None:
    operator = GeneraliseDate("born", "year")
    assert "not dates" in messages(operator.validate(column(kind=ColumnKind.INTEGER)))
    assert "too few for an ISO date" in messages(operator.validate(column(length=8)))
    unique = operator.validate(column(kind=ColumnKind.DATETIME, unique=True))
    assert "in the same year would get the same value" in messages(unique)


# --------------------------------------------------------------------------
# delete_row and keep


def test_delete_row_is_row_level_and_valid_for_any_column() -> None:
    operator = DeleteRow("email")
    assert operator.row_level
    for target in (column(primary_key=True, referenced_by=True), column(kind=ColumnKind.OTHER)):
        assert operator.validate(target) == []
    with pytest.raises(TypeError):
        operator.operate("ana@example.lv", column())


def test_only_delete_row_is_row_level() -> None:
    operators = every_operator()
    assert [o.action for o in operators if o.row_level] == [ErasureAction.DELETE_ROW]


def test_keep_changes_nothing() -> None:
    value = ["Ana Bērziņa"]
    assert Keep("invoice_name").operate(value, column()) is value
    assert Keep("invoice_name").validate(column(kind=ColumnKind.OTHER, nullable=False)) == []
    assert "kept" in Keep("invoice_name").explain()


# --------------------------------------------------------------------------
# building operators from the policy

CLASSES: dict[ErasureAction, type] = {
    ErasureAction.DELETE_ROW: DeleteRow,
    ErasureAction.SET_NULL: SetNull,
    ErasureAction.SET_VALUE: SetValue,
    ErasureAction.KEYED_HASH: KeyedHash,
    ErasureAction.TRUNCATE_IP: TruncateIp,
    ErasureAction.GENERALISE_DATE: GeneraliseDate,
    ErasureAction.KEEP: Keep,
}


@pytest.mark.parametrize("action", list(ErasureAction))
def test_operator_for_builds_the_named_action(action: ErasureAction) -> None:
    operator = operator_for(field(action, **SETTINGS.get(action, {})), hash_key=KEY)
    assert type(operator) is CLASSES[action]
    assert operator.action is action
    assert operator.field == "notes"


def test_operator_for_carries_the_settings() -> None:
    value = operator_for(field(ErasureAction.SET_VALUE, erasure_value="0"), hash_key=KEY)
    assert value.operate("x", column(kind=ColumnKind.INTEGER)) == 0
    year = operator_for(field(ErasureAction.GENERALISE_DATE, generalise_to="year"), hash_key=KEY)
    assert year.operate(date(2026, 5, 17), column(kind=ColumnKind.DATE)) == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("action", "settings", "complaint"),
    [
        (ErasureAction.SET_VALUE, {}, "gives no erasure_value"),
        (ErasureAction.GENERALISE_DATE, {}, "'month' or 'year'"),
        (ErasureAction.GENERALISE_DATE, {"generalise_to": "week"}, "'month' or 'year'"),
    ],
)
def test_incomplete_settings_raise_in_operator_for_and_are_problems_in_validate_field(
    action: ErasureAction, settings: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        operator_for(field(action, **settings), hash_key=KEY)
    problems = validate_field(field(action, **settings), column(), hash_key=KEY)
    assert len(problems) == 1
    assert complaint in problems[0].message
    assert problems[0].action == action.value


def test_validate_field_uses_the_operators_rules() -> None:
    problems = validate_field(field(ErasureAction.SET_NULL), column(nullable=False), hash_key=KEY)
    assert "NOT NULL" in messages(problems)
    assert validate_field(field(ErasureAction.KEYED_HASH), TEXT, hash_key=KEY) == []


def test_the_hash_key_matters_only_to_keyed_hash() -> None:
    assert validate_field(field(ErasureAction.SET_NULL), column(), hash_key=b"") == []
    with pytest.raises(ValueError, match="16 bytes"):
        operator_for(field(ErasureAction.KEYED_HASH), hash_key=b"")


def test_every_action_has_its_own_explanation() -> None:
    operators = every_operator()
    sentences = [o.explain() for o in operators]
    assert len(set(sentences)) == len(ErasureAction)
    assert "HMAC-SHA256" in KeyedHash("e", KEY).explain()
    assert "joins keep working" in KeyedHash("e", KEY).explain()
    assert "/24" in TruncateIp("ip").explain()
    assert "first day of its year" in GeneraliseDate("d", "year").explain()


# --------------------------------------------------------------------------
# joins

JOINED = column(foreign_key=True)
PARENT = column(referenced_by=True, unique=True)
ALONE = column()


@pytest.mark.parametrize(
    ("operator", "target", "rule"),
    [
        (DeleteRow("id"), PARENT, JoinRule.CHILDREN_FIRST),
        (DeleteRow("id"), JOINED, JoinRule.NONE),
        (SetNull("email"), PARENT, JoinRule.CHILDREN_FIRST),
        (SetNull("customer_ref"), JOINED, JoinRule.NONE),
        (KeyedHash("email", KEY), PARENT, JoinRule.SAME_OPERATOR),
        (KeyedHash("email", KEY), JOINED, JoinRule.SAME_OPERATOR),
        (KeyedHash("email", KEY), ALONE, JoinRule.NONE),
        (TruncateIp("ip"), JOINED, JoinRule.SAME_OPERATOR),
        (GeneraliseDate("d", "month"), JOINED, JoinRule.SAME_OPERATOR),
        (Keep("email"), PARENT, JoinRule.NONE),
        (DeleteRow("id"), ALONE, JoinRule.NONE),
    ],
)
def test_join_rule(operator: Operator, target: ColumnInfo, rule: JoinRule) -> None:
    assert join_rule(operator, target) is rule


def test_only_value_mapping_operators_need_a_consistent_join() -> None:
    operators = every_operator()
    assert {o.action for o in operators if o.needs_consistent_join} == {
        ErasureAction.KEYED_HASH,
        ErasureAction.TRUNCATE_IP,
        ErasureAction.GENERALISE_DATE,
    }
    assert {o.action for o in operators if not o.idempotent} == set()


# --------------------------------------------------------------------------
# properties

ADDRESS_TEXT = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
)


@given(ADDRESS_TEXT)
def test_truncate_ip_is_idempotent_shorter_and_in_the_same_network(text: str) -> None:
    operator = TruncateIp("last_ip")
    written = operator.operate(text, column())
    assert isinstance(written, str)
    assert operator.operate(written, column()) == written
    assert len(written) <= len(text)
    before, after = ipaddress.ip_address(text), ipaddress.ip_address(written)
    if isinstance(before, ipaddress.IPv6Address) and before.ipv4_mapped is not None:
        assert isinstance(after, ipaddress.IPv6Address)
        assert after.ipv4_mapped is not None
        before, after = before.ipv4_mapped, after.ipv4_mapped
    prefix = 24 if before.version == 4 else 48
    network = ipaddress.ip_network(f"{after}/{prefix}")
    assert before in network
    assert after == network.network_address


HASHABLE = st.one_of(st.text(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
HASH_COLUMNS = st.one_of(
    st.builds(lambda n: column(length=n), st.one_of(st.none(), st.integers(16, 300))),
    st.just(BIGINT),
)


@given(HASHABLE, HASH_COLUMNS)
def test_keyed_hash_is_deterministic_keyed_and_never_the_input(
    value: str | int, target: ColumnInfo
) -> None:
    written = KeyedHash("ref", KEY).operate(value, target)
    assert KeyedHash("ref", KEY).operate(value, target) == written
    assert KeyedHash("ref", OTHER_KEY).operate(value, target) != written
    assert written != value
    if target.kind is ColumnKind.INTEGER:
        assert isinstance(written, int)
        assert 2**62 <= written < 2**63
    else:
        assert isinstance(written, str)
        assert len(written) == min(64, target.length or 64)
        assert set(written) <= set("0123456789abcdef")
    assert KeyedHash("ref", KEY).operate(written, target) == written


@given(st.text(), st.builds(lambda n: column(length=n), st.one_of(st.none(), st.integers(32, 300))))
def test_keyed_hash_recognises_nothing_but_its_own_output(value: str, target: ColumnInfo) -> None:
    operator = KeyedHash("ref", KEY)
    assert not operator.recognises(value, target)
    assert operator.recognises(operator.operate(value, target), target)
    assert not operator.recognises(KeyedHash("ref", OTHER_KEY).operate(value, target), target)


@given(st.text(min_size=1), st.text(min_size=1))
def test_keyed_hash_keeps_equality_and_only_equality(one: str, two: str) -> None:
    assume(one != two)
    operator = KeyedHash("ref", KEY)
    assert operator.operate(one, TEXT) != operator.operate(two, TEXT)


ZONES = st.one_of(
    st.none(),
    st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
DATE_VALUES = st.one_of(
    st.dates(),
    st.datetimes(timezones=ZONES),
    st.dates().map(date.isoformat),
    st.builds(
        lambda moment, sep, spec: moment.isoformat(sep=sep, timespec=spec),
        st.datetimes(timezones=ZONES),
        st.sampled_from(["T", " "]),
        st.sampled_from(["auto", "minutes", "seconds", "milliseconds", "microseconds"]),
    ),
)


def as_moment(value: object) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value
    assert isinstance(value, date)
    return datetime(value.year, value.month, value.day)


@given(DATE_VALUES, st.sampled_from(["month", "year"]))
def test_generalise_date_is_idempotent_and_never_later(value: object, unit: str) -> None:
    operator = GeneraliseDate("born", "year" if unit == "year" else "month")
    written = operator.operate(value, column())
    assert operator.operate(written, column()) == written
    assert type(written) is type(value)
    before, after = as_moment(value), as_moment(written)
    assert after.replace(tzinfo=None) <= before.replace(tzinfo=None)
    assert after.tzinfo == before.tzinfo
    assert (after.day, after.hour, after.minute, after.second, after.microsecond) == (1, 0, 0, 0, 0)
    assert after.month == (1 if unit == "year" else before.month)
    if isinstance(value, str):
        assert isinstance(written, str)
        assert len(written) == len(value)


RARELY = st.sampled_from([False, False, False, True])
COLUMNS = st.builds(
    ColumnInfo,
    name=st.just("notes"),
    kind=st.sampled_from(list(ColumnKind)),
    length=st.one_of(st.none(), st.integers(0, 80), st.sampled_from([16, 32, 64])),
    nullable=st.booleans(),
    primary_key=RARELY,
    unique=RARELY,
    foreign_key=RARELY,
    referenced_by=RARELY,
)
LITERALS = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats().map(str),
    st.dates().map(date.isoformat),
    st.datetimes(timezones=ZONES).map(datetime.isoformat),
    st.sampled_from(["true", "false", "0", "1", "", "null"]),
)


def fits(value: object, target: ColumnInfo) -> bool:
    """The column's own constraints, written out independently of the code."""
    if value is None:
        return target.nullable and not target.primary_key
    kind = target.kind
    if kind in (ColumnKind.STRING, ColumnKind.TEXT):
        return isinstance(value, str) and (target.length is None or len(value) <= target.length)
    if kind is ColumnKind.BINARY:
        return isinstance(value, bytes) and (target.length is None or len(value) <= target.length)
    if kind is ColumnKind.INTEGER:
        bits = target.length or 32
        return type(value) is int and -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
    if kind is ColumnKind.DECIMAL:
        return isinstance(value, Decimal) and value.is_finite()
    if kind is ColumnKind.FLOAT:
        return isinstance(value, float) and math.isfinite(value)
    if kind is ColumnKind.BOOLEAN:
        return isinstance(value, bool)
    if kind is ColumnKind.DATE:
        return type(value) is date
    if kind is ColumnKind.DATETIME:
        return isinstance(value, datetime)
    return False


@given(COLUMNS)
def test_set_null_output_fits_whenever_validate_accepts(target: ColumnInfo) -> None:
    operator = SetNull("notes")
    if operator.validate(target) == []:
        assert fits(operator.operate("Ana Bērziņa", target), target)
    else:
        assert not target.nullable or target.primary_key


@given(COLUMNS, LITERALS)
def test_set_value_output_fits_whenever_validate_accepts(target: ColumnInfo, text: str) -> None:
    operator = SetValue("notes", text)
    if operator.validate(target) != []:
        return
    written = operator.operate("Ana Bērziņa", target)
    assert fits(written, target)
    assert not (target.unique or target.primary_key or target.foreign_key)
    assert operator.operate(written, target) == written


# --------------------------------------------------------------------------
# idempotence: a re-run after a crash applies every operator to its own output


IP_TEXT = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.just(""),
)
ANY_CELL = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.dates(),
    st.datetimes(),
)


def _cell_for(operator: Operator, target: ColumnInfo) -> st.SearchStrategy[object]:
    """Cells the operator takes in ``target`` (any value for constants)."""
    if isinstance(operator, TruncateIp):
        return st.one_of(st.none(), IP_TEXT)
    if isinstance(operator, GeneraliseDate):
        return st.one_of(st.none(), DATE_VALUES)
    if isinstance(operator, KeyedHash):
        if target.kind is ColumnKind.INTEGER:
            return st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
        return st.one_of(st.none(), st.text(max_size=80), st.integers())
    return ANY_CELL


IDEMPOTENT_CASES = [
    (SetNull("notes"), column()),
    (SetValue("notes", "Deleted user"), column()),
    (SetValue("age", "0"), column(kind=ColumnKind.INTEGER, length=32)),
    (SetValue("born", "1900-01-01"), column(kind=ColumnKind.DATE)),
    (KeyedHash("notes", KEY), TEXT),
    (KeyedHash("notes", KEY), column(length=16)),
    (KeyedHash("notes", KEY), column(length=40)),
    (KeyedHash("notes", KEY), BIGINT),
    (TruncateIp("ip"), column(length=45)),
    (GeneraliseDate("born", "month"), column()),
    (GeneraliseDate("born", "year"), column()),
    (Keep("notes"), column()),
]


def test_every_operator_says_it_is_idempotent() -> None:
    assert all(operator.idempotent for operator in every_operator())
    assert {type(o) for o, _ in IDEMPOTENT_CASES} >= {type(o) for o in every_operator()} - {
        DeleteRow
    }


@pytest.mark.parametrize(
    ("operator", "target"),
    IDEMPOTENT_CASES,
    ids=[f"{o.action.value}-{t.kind.value}-{t.length}" for o, t in IDEMPOTENT_CASES],
)
@given(data=st.data())
def test_applying_an_operator_to_its_own_output_changes_nothing(
    operator: Operator, target: ColumnInfo, data: st.DataObject
) -> None:
    assert operator.validate(target) == []
    value = data.draw(_cell_for(operator, target))
    once = operator.operate(value, target)
    assert operator.operate(once, target) == once
    assert operator.operate(operator.operate(once, target), target) == once


# --------------------------------------------------------------------------
# the package stays pure, public and documented

PACKAGE = ROOT / "src" / "datasteward" / "fulfilment"
FORBIDDEN = (
    *("sqlalchemy", "fastapi", "typer", "rich", "huey", "httpx", "psycopg", "pymysql"),
    *("datasteward.cli", "datasteward.store", "datasteward.connectors", "datasteward.jobs"),
    *("datasteward.notify", "datasteward.web"),
)


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_operators_import_no_adapter_or_framework(path: Path) -> None:
    outward = {
        name
        for name in imports_of(path)
        for bad in FORBIDDEN
        if name == bad or name.startswith(bad + ".")
    }
    assert not outward


@pytest.mark.parametrize(
    "name",
    [
        "datasteward.fulfilment",
        "datasteward.fulfilment.columns",
        "datasteward.fulfilment.operators",
        "datasteward.fulfilment.fields",
    ],
)
def test_public_names_are_listed(name: str) -> None:
    module = importlib.import_module(name)
    for item in module.__all__:
        assert hasattr(module, item)
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", None) == name
        and (isinstance(value, type) or callable(value))
    }
    assert defined <= set(module.__all__)


def test_the_guide_documents_every_action() -> None:
    guide = (ROOT / "docs" / "erasure-operators.md").read_text(encoding="utf-8")
    table_rows = [line for line in guide.splitlines() if line.startswith("| `")]
    documented = {line.split("`")[1] for line in table_rows}
    assert {action.value for action in ErasureAction} <= documented
