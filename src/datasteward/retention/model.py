"""The compiled form of the policy's retention rules. Pure values.

:func:`datasteward.retention.compile.compile_rules` turns each retention
rule into one :class:`SweepUnit` per dataset it ends: the anchor column
(in the dataset or reached through its declared relations), the period, the
action with its operators, every check that keeps a row (:class:`HoldCheck`)
and, for deletions, the child rows that must go or be unlinked first. A
unit names only columns found in the reflected schema; whatever keeps a
rule from compiling is a :class:`Blocked` entry with the reason, shown by
the plan and never silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from datasteward.errors import StewardError
from datasteward.fulfilment.operators import Operator
from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.model import Suspension

__all__ = [
    "Blocked",
    "CheckKind",
    "ChildStep",
    "ColumnPath",
    "FieldStep",
    "Guard",
    "HoldCheck",
    "Hop",
    "Program",
    "RetentionError",
    "SweepUnit",
    "UnitAction",
    "UnitKey",
]


class RetentionError(StewardError):
    """A retention rule cannot be carried out as asked: a bad ``--at``, a
    sweep that may not run now. ``rule`` names the rule when one is meant."""

    code = "retention_error"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


UnitKey = tuple[str, str, str]
"""(rule id, system id, dataset name): how progress rows name a unit."""


class UnitAction(StrEnum):
    """What a unit does to a due row."""

    DELETE = "delete"
    ANONYMISE = "anonymise"


@dataclass(frozen=True, slots=True)
class Hop:
    """``column`` of the current dataset references ``parent.parent_column``."""

    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True, slots=True)
class ColumnPath:
    """A column of the dataset itself (no hops) or of a dataset its relations
    lead to: ``addresses.customer_id -> customers.id``, then ``closed_at``."""

    hops: tuple[Hop, ...]
    column: str

    @property
    def dataset(self) -> str | None:
        """The dataset holding the column; None means the unit's own."""
        return self.hops[-1].parent if self.hops else None

    def describe(self, own: str) -> str:
        """``orders.created_at`` or ``order_items.order_id -> orders.created_at``."""
        if not self.hops:
            return f"{own}.{self.column}"
        owners = [own, *(hop.parent for hop in self.hops[:-1])]
        steps = [f"{owner}.{hop.column}" for owner, hop in zip(owners, self.hops, strict=True)]
        return " -> ".join(steps) + f" -> {self.hops[-1].parent}.{self.column}"


class CheckKind(StrEnum):
    """How a :class:`HoldCheck` decides that a row is kept."""

    LEGAL_HOLD = "legal_hold"
    """The hold's own period has not run out from its anchor (or the anchor is empty)."""
    FLAG = "flag"
    """A boolean column of the row (or of its parent) is true."""
    SUBJECTS = "subjects"
    """The row belongs to a subject the engine holds (restricted, open request)."""
    CHILDREN = "children"
    """Rows of another dataset that are kept still point at the row."""
    ALL = "all"
    """Nothing tells the kept rows apart, so every due row is kept."""


@dataclass(frozen=True, slots=True)
class HoldCheck:
    """One reason a due row is kept, and how to test it.

    ``reason`` is the sentence the plan shows. ``path`` locates the hold's
    anchor (LEGAL_HOLD) or the flag column (FLAG); ``period`` is the hold's
    own period; ``child`` names the dataset for CHILDREN."""

    kind: CheckKind
    suspension: Suspension
    reason: str
    label: str
    path: ColumnPath | None = None
    period: IsoDuration | None = None
    hold_id: str | None = None
    child: str | None = None


@dataclass(frozen=True, slots=True)
class FieldStep:
    """One column an anonymising unit rewrites, with its erasure operator."""

    name: str
    operator: Operator


@dataclass(frozen=True, slots=True)
class Guard:
    """Rows of ``child`` whose ``column`` holds the value of ``target`` (a
    column of the dataset guarded) still point at that row: a row is deleted
    only when no such row is left (``NOT EXISTS``)."""

    child: str
    column: str
    target: str


@dataclass(frozen=True, slots=True)
class ChildStep:
    """Rows of another dataset pointing (through ``hops``) at rows a deleting
    unit removes: deleted first, or unlinked (their link set to NULL) when
    the link column may be empty. ``holds`` keep a child row, and with it
    the parent row it points at."""

    dataset: str
    hops: tuple[Hop, ...]
    unlink: bool
    key: tuple[str, ...]
    holds: tuple[HoldCheck, ...] = ()
    guards: tuple[Guard, ...] = ()
    """Rows still pointing at a child row keep it (checked before it is deleted)."""


@dataclass(frozen=True, slots=True)
class SweepUnit:
    """One retention rule in one dataset, ready for a connector to run."""

    rule_id: str
    system: str
    dataset: str
    table: str
    action: UnitAction
    period: IsoDuration
    anchor_event: str
    anchor: ColumnPath
    key: tuple[str, ...]
    description: str
    fields: tuple[FieldStep, ...] = ()
    holds: tuple[HoldCheck, ...] = ()
    children: tuple[ChildStep, ...] = ()
    guards: tuple[Guard, ...] = ()
    """Rows still pointing at a row keep it (checked before it is deleted)."""
    notes: tuple[str, ...] = ()

    @property
    def unit_key(self) -> UnitKey:
        return (self.rule_id, self.system, self.dataset)

    @property
    def suspensions(self) -> frozenset[Suspension]:
        """Suspensions checked through the engine's own records of subjects."""
        return frozenset(h.suspension for h in self.holds if h.kind is CheckKind.SUBJECTS)


@dataclass(frozen=True, slots=True)
class Blocked:
    """A rule, or a rule in one dataset, that cannot be swept, and why."""

    rule_id: str
    reason: str
    system: str | None = None
    dataset: str | None = None
    by_hand: bool = False
    """Carried out by staff (a manual system, criteria instead of a period):
    not a failure of the sweep, but not done by it either."""


@dataclass(frozen=True)
class Program:
    """Every unit to sweep, in the order to sweep them, and everything blocked."""

    units: tuple[SweepUnit, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    unchecked: tuple[str, ...] = field(default=())
    """Systems whose schema could not be read (no connection URL)."""

    def unit(self, key: UnitKey) -> SweepUnit | None:
        return next((u for u in self.units if u.unit_key == key), None)
