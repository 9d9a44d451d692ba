"""The shape of a plan: what a request will do per system, dataset and field.
Pure data; :func:`~datasteward.fulfilment.plan.build_plan` fills it in.

Kept apart from the planner so that the planners of each request kind
(access and erasure in ``plan``, rectification and restriction in
``plan_edits``) share one vocabulary without importing each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from datasteward.fulfilment.columns import ColumnInfo
from datasteward.fulfilment.holds import AnchorPath, HoldRef
from datasteward.fulfilment.locate import Locator

__all__ = [
    "DatasetHold",
    "DatasetPlan",
    "FieldPlan",
    "Plan",
    "PlanKind",
    "Schema",
    "SystemPlan",
]

Schema = Mapping[str, Mapping[str, Mapping[str, ColumnInfo]]]
"""system id -> dataset name -> column name -> reflected column."""


class PlanKind(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"


@dataclass(frozen=True)
class FieldPlan:
    """What happens to one declared field. ``after_hold`` is, for a field a
    legal hold keeps, the action taken on rows whose hold has ended."""

    name: str
    category: str
    action: str
    explanation: str
    hold: HoldRef | None = None
    problems: tuple[str, ...] = ()
    after_hold: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "field": self.name,
            "category": self.category,
            "action": self.action,
            "explanation": self.explanation,
            "hold": self.hold.to_dict() if self.hold else None,
            "after_hold": self.after_hold,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class DatasetHold:
    """One legal hold over fields of one dataset. ``anchor`` says where each
    row's anchor time is read (None: the hold names no anchor column, so it
    keeps every row and no end date can be given). ``row_action`` is what
    happens to a row once its hold has ended: ``delete`` or ``update``."""

    hold: HoldRef
    fields: tuple[str, ...]
    anchor: AnchorPath | None
    row_action: str

    def to_dict(self) -> dict[str, object]:
        return {
            **self.hold.to_dict(),
            "fields": list(self.fields),
            "anchor_path": self.anchor.describe() if self.anchor else None,
            "per_row": self.anchor is not None,
            "after_hold": self.row_action,
        }


@dataclass(frozen=True)
class DatasetPlan:
    system: str
    dataset: str
    table: str
    locator: Locator | None
    rows: int | None
    row_action: str
    fields: tuple[FieldPlan, ...]
    problems: tuple[str, ...] = ()
    holds: tuple[DatasetHold, ...] = ()
    flag: str | None = None
    """The restriction flag column (restriction plans)."""

    @property
    def all_problems(self) -> tuple[str, ...]:
        return self.problems + tuple(
            f"{self.dataset}.{f.name}: {p}" for f in self.fields for p in f.problems
        )

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "system": self.system,
            "dataset": self.dataset,
            "table": self.table,
            "rows": self.rows,
            "row_action": self.row_action,
            "found_by": _found_by(self.locator),
            "fields": [f.to_dict() for f in self.fields],
            "problems": list(self.problems),
        }
        if self.holds:
            data["holds"] = [h.to_dict() for h in self.holds]
        if self.flag is not None:
            data["restriction_flag"] = self.flag
        return data


@dataclass(frozen=True)
class SystemPlan:
    system: str
    connector: str
    datasets: tuple[DatasetPlan, ...]
    manual_instructions: str | None = None
    problems: tuple[str, ...] = ()
    note: str | None = None
    """What the plan does not do in this system, and why (e.g. a restriction
    kept in the engine only because no dataset has a flag column)."""

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "system": self.system,
            "connector": self.connector,
            "manual_instructions": self.manual_instructions,
            "datasets": [d.to_dict() for d in self.datasets],
            "problems": list(self.problems),
        }
        if self.note is not None:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    systems: tuple[SystemPlan, ...] = field(default_factory=tuple)
    general: tuple[str, ...] = ()
    """Problems of the request itself (a rectification naming no declared field)."""

    @property
    def problems(self) -> tuple[str, ...]:
        found: list[str] = list(self.general)
        for system in self.systems:
            found += [f"{system.system}: {p}" for p in system.problems]
            for dataset in system.datasets:
                found += [f"{system.system}.{p}" for p in _prefixed(dataset)]
        return tuple(found)

    @property
    def ok(self) -> bool:
        return not self.problems

    def system(self, system_id: str) -> SystemPlan | None:
        return next((s for s in self.systems if s.system == system_id), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "ok": self.ok,
            "problems": list(self.problems),
            "systems": [s.to_dict() for s in self.systems],
        }


def _prefixed(dataset: DatasetPlan) -> list[str]:
    own = [f"{dataset.dataset}: {p}" for p in dataset.problems]
    return own + [f"{dataset.dataset}.{f.name}: {p}" for f in dataset.fields for p in f.problems]


def _found_by(locator: Locator | None) -> list[str]:
    if locator is None:
        return []
    return [f"{m.column} = subject's {m.kind}" for m in locator.matches] + [
        f"{link.column} -> {link.target}.{link.target_column}" for link in locator.links
    ]
