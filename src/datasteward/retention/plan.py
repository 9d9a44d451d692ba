"""What a retention sweep would do now, before it runs (use case).

For every rule and dataset: the action, the cutoff, how many due rows the
sweep would change, how many due rows are kept and why (per legal hold and
suspension, counted in the database), and the statements it would run,
rendered with placeholders. Rules that cannot be swept are listed with the
reason. Nothing is written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from datasteward.errors import StewardError
from datasteward.policy.model import Policy, Suspension
from datasteward.retention.compile import compile_rules
from datasteward.retention.expiry import cutoff as cutoff_of
from datasteward.retention.model import Blocked, Program, SweepUnit
from datasteward.retention.ports import (
    HeldSubjects,
    RetentionBackend,
    Statement,
    SubjectHolds,
    UnitCounts,
)

__all__ = ["HeldReason", "RetentionPlan", "UnitPlan", "plan_retention", "subjects_needed"]


@dataclass(frozen=True)
class HeldReason:
    """Due rows one check keeps: the check's label, its reason, the count."""

    kind: str
    suspension: str
    label: str
    reason: str
    rows: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "suspension": self.suspension,
            "label": self.label,
            "reason": self.reason,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class UnitPlan:
    """One rule in one dataset."""

    unit: SweepUnit
    cutoff: datetime
    rows_due: int | None
    rows_held: int | None
    held: tuple[HeldReason, ...]
    statements: tuple[Statement, ...]
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        unit = self.unit
        return {
            "rule": unit.rule_id,
            "system": unit.system,
            "dataset": unit.dataset,
            "action": unit.action.value,
            "description": unit.description,
            "anchor": unit.anchor.describe(unit.dataset),
            "anchor_event": unit.anchor_event,
            "period": str(unit.period),
            "cutoff": self.cutoff.isoformat(),
            "fields": [
                {
                    "field": f.name,
                    "action": f.operator.action.value,
                    "explanation": f.operator.explain(),
                }
                for f in unit.fields
            ],
            "children": [
                {"dataset": c.dataset, "action": "unlink" if c.unlink else "delete"}
                for c in unit.children
            ],
            "rows_due": self.rows_due,
            "rows_held": self.rows_held,
            "held": [h.to_dict() for h in self.held],
            "notes": list(unit.notes),
            "statements": [s.to_dict() for s in self.statements],
            "problem": self.problem,
        }


@dataclass(frozen=True)
class RetentionPlan:
    """The plan at one moment."""

    at: datetime
    units: tuple[UnitPlan, ...]
    blocked: tuple[Blocked, ...]
    subjects: dict[str, int]

    @property
    def problems(self) -> list[str]:
        """Everything that keeps part of the policy from being swept."""
        found = [
            f"{b.rule_id}" + (f" in {b.system}.{b.dataset}" if b.dataset else "") + f": {b.reason}"
            for b in self.blocked
            if not b.by_hand
        ]
        found += [
            f"{u.unit.rule_id} in {u.unit.system}.{u.unit.dataset}: {u.problem}"
            for u in self.units
            if u.problem
        ]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "ok": self.ok,
            "units": [u.to_dict() for u in self.units],
            "blocked": [
                {
                    "rule": b.rule_id,
                    "system": b.system,
                    "dataset": b.dataset,
                    "reason": b.reason,
                    "by_hand": b.by_hand,
                }
                for b in self.blocked
            ],
            "held_subjects": self.subjects,
            "problems": self.problems,
        }


def subjects_needed(program: Program) -> frozenset[Suspension]:
    """The suspensions some unit checks through the engine's subject records."""
    return frozenset(s for unit in program.units for s in unit.suspensions)


def _held_reasons(unit: SweepUnit, counts: UnitCounts | None) -> tuple[HeldReason, ...]:
    return tuple(
        HeldReason(
            check.kind.value,
            check.suspension.value,
            check.label,
            check.reason,
            None if counts is None else counts.by_check[i],
        )
        for i, check in enumerate(unit.holds)
    )


def plan_retention(
    policy: Policy,
    backend: RetentionBackend,
    subjects: SubjectHolds,
    *,
    at: datetime,
    hash_key: bytes,
) -> RetentionPlan:
    """The plan of every rule of ``policy`` at ``at``; reads only."""
    program = compile_rules(policy, backend.schema(), hash_key=hash_key)
    needed = subjects_needed(program)
    held = subjects.held(needed, at) if needed else HeldSubjects()
    plans: list[UnitPlan] = []
    for unit in program.units:
        cutoff = cutoff_of(at, unit.period)
        statements: tuple[Statement, ...] = ()
        counts: UnitCounts | None = None
        problem: str | None = None
        try:
            runner = backend.runner(unit, cutoff=cutoff, at=at, held=held)
            statements = tuple(runner.statements())
            counts = runner.count()
        except StewardError as error:
            problem = error.message
        plans.append(
            UnitPlan(
                unit,
                cutoff,
                None if counts is None else counts.due,
                None if counts is None else counts.held,
                _held_reasons(unit, counts),
                statements,
                problem,
            )
        )
    return RetentionPlan(
        at,
        tuple(plans),
        program.blocked,
        {s.value: n for s, n in held.subjects.items()},
    )
