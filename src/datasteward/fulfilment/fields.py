"""From the policy's fields to operators, and the one rule on joins.

:func:`validate_field` is what a planner calls for every declared field and
its reflected column; :func:`join_rule` tells it what a change to a joined
column demands of the other tables. Both are pure: the planner brings the
columns, this module only judges them.
"""

from __future__ import annotations

from enum import StrEnum

from datasteward.fulfilment.columns import ColumnInfo, OperatorProblem
from datasteward.fulfilment.operators import (
    DeleteRow,
    GeneraliseDate,
    Keep,
    KeyedHash,
    Operator,
    SetNull,
    SetValue,
    TruncateIp,
)
from datasteward.policy.model import DatasetField, ErasureAction

__all__ = ["GENERALISE_UNITS", "JoinRule", "join_rule", "operator_for", "validate_field"]

GENERALISE_UNITS = ("month", "year")


class JoinRule(StrEnum):
    """What the planner must arrange when an operator acts on a joined column."""

    NONE = "none"
    """Nothing: the column is in no join, or the operator keeps the join valid."""
    CHILDREN_FIRST = "children_first"
    """Rows of other tables point at the values this operator removes: handle
    (delete or unlink) those rows first, or the database refuses the change."""
    SAME_OPERATOR = "same_operator"
    """Every column of the join must get an operator with the same
    ``join_signature``, applied so that the database constraint holds at the
    end of the transaction (ON UPDATE CASCADE or deferred checking)."""


def join_rule(operator: Operator, column: ColumnInfo) -> JoinRule:
    """The rule for ``operator`` on ``column``; the one place it is decided.

    A row deleted, or a key set to NULL, leaves the rows that pointed at it
    dangling: children first. A mapped value (keyed hash, truncated IP,
    generalised date) keeps the join only if both sides map alike. A fixed
    value never reaches a joined column (validation refuses it), and a kept
    value changes nothing.
    """
    if not column.in_join:
        return JoinRule.NONE
    if operator.needs_consistent_join:
        return JoinRule.SAME_OPERATOR
    removes_value = operator.row_level or operator.action is ErasureAction.SET_NULL
    if column.referenced_by and removes_value:
        return JoinRule.CHILDREN_FIRST
    return JoinRule.NONE


def _incomplete(field: DatasetField) -> str | None:
    """Why the field's settings cannot build its operator (the linter reports
    the same, with the policy file's line)."""
    if field.erasure is ErasureAction.SET_VALUE and field.erasure_value is None:
        return f"field '{field.name}' is erased with set_value but gives no erasure_value"
    if (
        field.erasure is ErasureAction.GENERALISE_DATE
        and field.generalise_to not in GENERALISE_UNITS
    ):
        return (
            f"field '{field.name}' is erased with generalise_date but generalise_to is not "
            "'month' or 'year'"
        )
    return None


def operator_for(field: DatasetField, *, hash_key: bytes) -> Operator:
    """The operator the policy names for ``field``.

    ``hash_key`` is the engine's erasure key (used by keyed_hash only; at
    least 16 bytes). Raises ``ValueError`` for incomplete settings: set_value
    without erasure_value, generalise_date without 'month' or 'year'.
    """
    reason = _incomplete(field)
    if reason is not None:
        raise ValueError(reason)
    name = field.name
    match field.erasure:
        case ErasureAction.DELETE_ROW:
            return DeleteRow(name)
        case ErasureAction.SET_NULL:
            return SetNull(name)
        case ErasureAction.SET_VALUE:
            return SetValue(name, field.erasure_value or "")
        case ErasureAction.KEYED_HASH:
            return KeyedHash(name, hash_key)
        case ErasureAction.TRUNCATE_IP:
            return TruncateIp(name)
        case ErasureAction.GENERALISE_DATE:
            return GeneraliseDate(name, "year" if field.generalise_to == "year" else "month")
        case ErasureAction.KEEP:
            return Keep(name)


def validate_field(
    field: DatasetField, column: ColumnInfo, *, hash_key: bytes
) -> list[OperatorProblem]:
    """Every reason ``field``'s action cannot apply to ``column``. Incomplete
    settings are reported as a problem too, so a plan lists everything."""
    reason = _incomplete(field)
    if reason is not None:
        return [OperatorProblem(field.name, field.erasure.value, reason)]
    return operator_for(field, hash_key=hash_key).validate(column)
