"""The seams of the retention use cases, and the values that cross them.

The plan and the sweep are written against these protocols; the SQL
adapters (:mod:`datasteward.retention.sql` for the company databases,
:mod:`datasteward.retention.engine_store` for the engine's own tables)
implement them, and tests may hand in anything with the same methods.
Nothing here does I/O, and no value here holds data read from a row: only
counts, keys (to resume by) and the text of statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from datasteward.policy.model import Suspension
from datasteward.retention.compile import Schema
from datasteward.retention.model import SweepUnit

__all__ = [
    "AuditNote",
    "BatchOutcome",
    "HeldSubjects",
    "Key",
    "ProgressStore",
    "RetentionBackend",
    "Statement",
    "SubjectHolds",
    "UnitCounts",
    "UnitProgress",
    "UnitRunner",
]

Key = tuple[Any, ...]
"""The primary key of one row (integers or text), as keyset paging uses it."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement a unit runs, with placeholders and never values."""

    label: str
    sql: str

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "sql": self.sql}


@dataclass(frozen=True)
class HeldSubjects:
    """The identities of the subjects a suspension keeps, merged per kind
    (kind -> canonical values), and how many subjects that is. Read only
    when a unit checks that suspension."""

    identities: Mapping[Suspension, Mapping[str, Sequence[str]]] = field(default_factory=dict)
    subjects: Mapping[Suspension, int] = field(default_factory=dict)

    def of(self, suspension: Suspension) -> Mapping[str, Sequence[str]]:
        return self.identities.get(suspension, {})


@dataclass(frozen=True, slots=True)
class UnitCounts:
    """Due rows the unit would change now (``due``), due rows it keeps
    (``held``), and per hold check (in ``unit.holds`` order) the due rows
    that check keeps; one row may be kept by several checks."""

    due: int
    held: int
    by_check: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one batch did. ``upper`` is where the batch ended (its last key,
    or a position in anchor order), None when no due row was left (the unit
    is finished). ``rows``: rows of the
    unit's dataset deleted or anonymised; ``children``: rows of other
    datasets deleted or unlinked first; ``refused``: cells an operator
    refused, per column (left unchanged, reported); ``seconds``: how long
    the writing transaction took; ``last``: the batch took every due row
    that was left, so the unit is finished without another pick."""

    upper: Key | None
    rows: int = 0
    children: Mapping[str, int] = field(default_factory=dict)
    refused: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    last: bool = False


class UnitRunner(Protocol):
    """One unit against its database, for one sweep moment."""

    def statements(self) -> list[Statement]:
        """Every statement the unit runs, rendered with placeholders."""
        ...

    def count(self) -> UnitCounts:
        """Due and kept rows now, per hold check. Changes nothing."""
        ...

    def count_held(self) -> int:
        """Due rows kept (one count, for the end of a unit)."""
        ...

    def batch(self, after: Key | None, size: int) -> BatchOutcome:
        """Pick the next ``size`` due rows after the position ``after`` (a
        key, or a position in anchor order; None: from the start) and change
        them in one short transaction of their own (predicates re-checked)."""
        ...


class RetentionBackend(Protocol):
    """The company systems, as retention sees them."""

    def schema(self) -> Schema:
        """The reflected columns of every system that can be reached."""
        ...

    def runner(
        self, unit: SweepUnit, *, cutoff: datetime, at: datetime, held: HeldSubjects
    ) -> UnitRunner:
        """A runner for ``unit`` with its ``cutoff`` (rows anchored at or
        before it are due); legal holds are measured from ``at``."""
        ...

    def close(self) -> None: ...


class SubjectHolds(Protocol):
    """The engine's records of restricted subjects and open requests."""

    def held(self, suspensions: frozenset[Suspension], at: datetime) -> HeldSubjects: ...


@dataclass(frozen=True)
class UnitProgress:
    """One row of ``sweep_progress``: a unit within one run."""

    run_id: str
    rule_id: str
    system: str
    dataset: str
    cutoff: datetime
    last_key: Key | None
    rows_done: int
    rows_held: int
    batches: int
    state: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True)
class AuditNote:
    """One audit event to append (``EngineTx.audit``): counts, never values."""

    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    reason: str
    policy_version: int | None
    details: Mapping[str, Any]


class ProgressStore(Protocol):
    """Where sweeps record how far they got (the engine store)."""

    def unfinished(self) -> list[UnitProgress]:
        """Every unit of the oldest run that has units left to do, or []."""
        ...

    def start(self, units: Sequence[UnitProgress]) -> None:
        """Record a new run's units, all of them, before the first batch."""
        ...

    def save(self, progress: UnitProgress, audit: AuditNote | None = None) -> None:
        """Record a unit's progress, with ``audit`` in the same transaction."""
        ...
