"""Fulfilment: carrying out erasure, and the retention sweeps that share its
operators, inside the company's own systems.

The operators (one per erasure action) check every field's action against
its real column before anything runs, and say in one sentence what they do;
see docs/erasure-operators.md.
"""

from datasteward.fulfilment.columns import (
    ColumnInfo,
    ColumnKind,
    OperatorError,
    OperatorProblem,
)
from datasteward.fulfilment.fields import JoinRule, join_rule, operator_for, validate_field
from datasteward.fulfilment.operators import Operator

__all__ = [
    "ColumnInfo",
    "ColumnKind",
    "JoinRule",
    "Operator",
    "OperatorError",
    "OperatorProblem",
    "join_rule",
    "operator_for",
    "validate_field",
]
