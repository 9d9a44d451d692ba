"""Retention: the policy's rules (anchor event + period + action) carried out
in the company's databases, in bounded, resumable batches, and the engine's
own expired records ended too. See docs/retention.md.

Pure parts: :mod:`~datasteward.retention.expiry` (cutoffs),
:mod:`~datasteward.retention.model` and :mod:`~datasteward.retention.compile`
(rules to sweep units). Use cases: :mod:`~datasteward.retention.plan`,
:mod:`~datasteward.retention.sweep`, :mod:`~datasteward.retention.housekeeping`,
written against :mod:`~datasteward.retention.ports`. Adapters, imported on
their own: :mod:`~datasteward.retention.sql` (company databases) and
:mod:`~datasteward.retention.engine_store` (the engine store)."""

from datasteward.retention.compile import Schema, compile_rules
from datasteward.retention.expiry import cutoff, date_cutoff, is_due
from datasteward.retention.housekeeping import HousekeepingReport, housekeeping
from datasteward.retention.model import (
    Blocked,
    CheckKind,
    HoldCheck,
    Program,
    RetentionError,
    SweepUnit,
    UnitAction,
)
from datasteward.retention.plan import RetentionPlan, UnitPlan, plan_retention
from datasteward.retention.sweep import DEFAULT_BATCH_SIZE, Sweeper, SweepReport, UnitReport

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Blocked",
    "CheckKind",
    "HoldCheck",
    "HousekeepingReport",
    "Program",
    "RetentionError",
    "RetentionPlan",
    "Schema",
    "SweepReport",
    "SweepUnit",
    "Sweeper",
    "UnitAction",
    "UnitPlan",
    "UnitReport",
    "compile_rules",
    "cutoff",
    "date_cutoff",
    "housekeeping",
    "is_due",
    "plan_retention",
]
