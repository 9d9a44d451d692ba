"""What a request will do, decided before anything runs. Pure.

For every system and dataset the plan says how the subject's rows are found
(the :class:`~datasteward.fulfilment.locate.Locator`), how many rows that is
when the connector has counted them, and per declared field what happens:
returned (access), erased with a named operator, or kept under a named legal
hold. Anything that would stop the request from being complete is a
*problem* in the plan: a field whose column is missing, an operator the
column cannot take, a dataset no identity reaches, a field kept on erasure
without a hold. A plan with problems is refused before the first row is
touched, never run halfway and reported as done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from datasteward.fulfilment.columns import ColumnInfo
from datasteward.fulfilment.fields import operator_for, validate_field
from datasteward.fulfilment.locate import Locator, locate
from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.model import (
    ConnectorKind,
    Dataset,
    DatasetField,
    ErasureAction,
    LegalHold,
    Policy,
    System,
)

__all__ = [
    "DatasetPlan",
    "FieldPlan",
    "HoldRef",
    "Plan",
    "PlanKind",
    "Schema",
    "SystemPlan",
    "build_plan",
]

Schema = Mapping[str, Mapping[str, Mapping[str, ColumnInfo]]]
"""system id -> dataset name -> column name -> reflected column."""


class PlanKind(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"


@dataclass(frozen=True)
class HoldRef:
    """The legal hold that keeps a field: which law, on which Art. 17(3)
    ground, for how long after which event."""

    hold_id: str
    law: str
    article: str
    period: IsoDuration
    anchor_event: str
    anchor_column: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "hold": self.hold_id,
            "law": self.law,
            "article": self.article,
            "period": str(self.period),
            "anchor": self.anchor_event,
            "anchor_column": self.anchor_column,
        }


@dataclass(frozen=True)
class FieldPlan:
    name: str
    category: str
    action: str
    explanation: str
    hold: HoldRef | None = None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "field": self.name,
            "category": self.category,
            "action": self.action,
            "explanation": self.explanation,
            "hold": self.hold.to_dict() if self.hold else None,
            "problems": list(self.problems),
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

    @property
    def all_problems(self) -> tuple[str, ...]:
        return self.problems + tuple(
            f"{self.dataset}.{f.name}: {p}" for f in self.fields for p in f.problems
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "dataset": self.dataset,
            "table": self.table,
            "rows": self.rows,
            "row_action": self.row_action,
            "found_by": _found_by(self.locator),
            "fields": [f.to_dict() for f in self.fields],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class SystemPlan:
    system: str
    connector: str
    datasets: tuple[DatasetPlan, ...]
    manual_instructions: str | None = None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "connector": self.connector,
            "manual_instructions": self.manual_instructions,
            "datasets": [d.to_dict() for d in self.datasets],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    systems: tuple[SystemPlan, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> tuple[str, ...]:
        found: list[str] = []
        for system in self.systems:
            found += [f"{system.system}: {p}" for p in system.problems]
            for dataset in system.datasets:
                found += [f"{system.system}.{p}" for p in _prefixed(dataset)]
        return tuple(found)

    @property
    def ok(self) -> bool:
        return not self.problems

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


def build_plan(
    policy: Policy,
    kind: PlanKind,
    identity_kinds: set[str],
    *,
    schema: Schema | None,
    counts: Mapping[tuple[str, str], int] | None = None,
    hash_key: bytes = b"\0" * 32,
) -> Plan:
    """The plan for a request of ``kind`` about a subject known by
    identities of ``identity_kinds``. ``schema`` is the reflected schema of
    every connected system (None: not checked, which is itself a problem)."""
    systems = tuple(
        _system_plan(policy, system, kind, identity_kinds, schema, counts or {}, hash_key)
        for system in policy.systems
    )
    return Plan(kind, systems)


def _system_plan(
    policy: Policy,
    system: System,
    kind: PlanKind,
    identity_kinds: set[str],
    schema: Schema | None,
    counts: Mapping[tuple[str, str], int],
    hash_key: bytes,
) -> SystemPlan:
    if system.connector is ConnectorKind.MANUAL:
        instructions = system.manual.instructions if system.manual else None
        missing = () if instructions else ("a manual system needs instructions",)
        return SystemPlan(system.id, system.connector.value, (), instructions, missing)
    scope = locate(system, identity_kinds)
    problems: list[str] = []
    if schema is None or system.id not in schema:
        problems.append("not checked against the live schema (is its URL set?)")
    tables = (schema or {}).get(system.id, {})
    datasets = []
    for dataset in system.datasets:
        locator = scope.locator(dataset.name)
        columns = tables.get(dataset.name)
        datasets.append(
            _dataset_plan(
                policy, system, dataset, locator, columns, kind, counts, hash_key, schema is None
            )
        )
    return SystemPlan(system.id, system.connector.value, tuple(datasets), None, tuple(problems))


def _dataset_plan(
    policy: Policy,
    system: System,
    dataset: Dataset,
    locator: Locator | None,
    columns: Mapping[str, ColumnInfo] | None,
    kind: PlanKind,
    counts: Mapping[tuple[str, str], int],
    hash_key: bytes,
    unchecked: bool,
) -> DatasetPlan:
    problems: list[str] = []
    if locator is None and dataset.fields:
        problems.append(
            "holds declared personal fields, but no identity field or relation reaches it"
        )
    if columns is None and not unchecked:
        problems.append(f"table '{dataset.table or dataset.name}' does not exist")
    fields = tuple(
        _field_plan(policy, system, dataset, f, columns, kind, hash_key) for f in dataset.fields
    )
    if kind is PlanKind.ERASURE:
        erasing = [f for f in fields if f.action not in ("keep",)]
        deletes = any(f.action == ErasureAction.DELETE_ROW.value for f in fields)
        held = [f for f in fields if f.hold is not None]
        if deletes and held:
            problems.append(
                "rows are to be deleted, but fields of them are under a legal hold: "
                "use field actions for the other fields instead of delete_row"
            )
        row_action = "delete" if deletes else ("update" if erasing else "keep")
    else:
        row_action = "read"
    return DatasetPlan(
        system=system.id,
        dataset=dataset.name,
        table=dataset.table or dataset.name,
        locator=locator,
        rows=counts.get((system.id, dataset.name)),
        row_action=row_action,
        fields=fields,
        problems=tuple(problems),
    )


def _field_plan(
    policy: Policy,
    system: System,
    dataset: Dataset,
    declared: DatasetField,
    columns: Mapping[str, ColumnInfo] | None,
    kind: PlanKind,
    hash_key: bytes,
) -> FieldPlan:
    column = columns.get(declared.name) if columns is not None else None
    missing = (
        (f"column '{declared.name}' does not exist",)
        if columns is not None and column is None
        else ()
    )
    if kind is not PlanKind.ERASURE:
        return FieldPlan(
            declared.name, declared.category, "return", "returned to the subject", None, missing
        )
    hold = _hold_for(policy, system, dataset, declared)
    if hold is not None:
        return FieldPlan(
            declared.name,
            declared.category,
            "keep",
            f"kept under {hold.law} ({hold.article}) for {hold.period.describe()} after "
            f"{hold.anchor_event.replace('_', ' ')}",
            hold,
            missing,
        )
    if declared.erasure is ErasureAction.KEEP:
        return FieldPlan(
            declared.name,
            declared.category,
            "keep",
            "kept",
            None,
            (*missing, "kept on erasure, but no legal hold names this field or its category"),
        )
    try:
        operator = operator_for(declared, hash_key=hash_key)
    except ValueError as exc:
        return FieldPlan(
            declared.name, declared.category, declared.erasure.value, "", None, (*missing, str(exc))
        )
    problems = list(missing)
    if column is not None:
        problems += [p.message for p in validate_field(declared, column, hash_key=hash_key)]
    return FieldPlan(
        declared.name,
        declared.category,
        declared.erasure.value,
        operator.explain(),
        None,
        tuple(problems),
    )


def _hold_for(
    policy: Policy, system: System, dataset: Dataset, declared: DatasetField
) -> HoldRef | None:
    for hold in policy.legal_holds:
        if _covers(hold, system, dataset, declared):
            return HoldRef(
                hold_id=hold.id,
                law=hold.law,
                article=hold.ground.article,
                period=hold.period,
                anchor_event=hold.anchor.event.value,
                anchor_column=hold.anchor.column,
            )
    return None


def _covers(hold: LegalHold, system: System, dataset: Dataset, declared: DatasetField) -> bool:
    if any(ref.system == system.id and ref.dataset == dataset.name for ref in hold.datasets):
        return not hold.data_categories or declared.category in hold.data_categories
    return not hold.datasets and declared.category in hold.data_categories
