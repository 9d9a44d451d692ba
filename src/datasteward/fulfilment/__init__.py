"""Fulfilment: carrying out data subject requests (access, portability,
erasure, rectification, restriction), and the retention sweeps that share
the erasure operators, inside the company's own systems.

The operators (one per erasure action) check every field's action against
its real column before anything runs, say in one sentence what they do, and
are idempotent; see docs/erasure-operators.md. Legal holds are split per
row by their anchor date (``holds``); erasure is resumable through
:class:`Checkpoints`; see docs/fulfilment.md.
"""

from datasteward.fulfilment.checkpoints import Checkpoints, MemoryCheckpoints
from datasteward.fulfilment.columns import (
    ColumnInfo,
    ColumnKind,
    OperatorError,
    OperatorProblem,
)
from datasteward.fulfilment.fields import JoinRule, join_rule, operator_for, validate_field
from datasteward.fulfilment.operators import Operator

__all__ = [
    "Checkpoints",
    "ColumnInfo",
    "ColumnKind",
    "JoinRule",
    "MemoryCheckpoints",
    "Operator",
    "OperatorError",
    "OperatorProblem",
    "join_rule",
    "operator_for",
    "validate_field",
]
