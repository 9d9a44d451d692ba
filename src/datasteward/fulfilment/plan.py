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

from collections.abc import Collection, Mapping

from datasteward.fulfilment.columns import ColumnInfo
from datasteward.fulfilment.fields import operator_for, validate_field
from datasteward.fulfilment.holds import AnchorPath, HoldRef, find_anchor
from datasteward.fulfilment.locate import Locator, locate
from datasteward.fulfilment.plan_edits import rectification_plan, restriction_plan
from datasteward.fulfilment.plan_types import (
    DatasetHold,
    DatasetPlan,
    FieldPlan,
    Plan,
    PlanKind,
    Schema,
    SystemPlan,
)
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
    "DatasetHold",
    "DatasetPlan",
    "FieldPlan",
    "HoldRef",
    "Plan",
    "PlanKind",
    "Schema",
    "SystemPlan",
    "build_plan",
]


def build_plan(
    policy: Policy,
    kind: PlanKind,
    identity_kinds: set[str],
    *,
    schema: Schema | None,
    counts: Mapping[tuple[str, str], int] | None = None,
    hash_key: bytes = b"\0" * 32,
    systems: Collection[str] | None = None,
    changes: Mapping[str, str] | None = None,
    lift: bool = False,
) -> Plan:
    """The plan for a request of ``kind`` about a subject known by
    identities of ``identity_kinds``. ``schema`` is the reflected schema of
    every connected system (None: not checked, which is itself a problem).

    ``systems`` limits the plan to those system ids (one system's task of a
    request); ``changes`` are a rectification's new values by
    ``system.dataset.field``; ``lift`` plans lifting a restriction."""
    general = tuple(
        f"unknown system '{name}'" for name in sorted(systems or ()) if policy.system(name) is None
    )
    selected = [s for s in policy.systems if systems is None or s.id in systems]
    found = counts or {}
    if kind is PlanKind.RECTIFICATION:
        plan = rectification_plan(policy, selected, identity_kinds, schema, found, changes or {})
        return Plan(kind, plan.systems, general + plan.general)
    if kind is PlanKind.RESTRICTION:
        plan = restriction_plan(policy, selected, identity_kinds, schema, found, lift)
        return Plan(kind, plan.systems, general + plan.general)
    planned = tuple(
        _system_plan(policy, system, kind, identity_kinds, schema, found, hash_key)
        for system in selected
    )
    return Plan(kind, planned, general)


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
    tables = (schema or {}).get(system.id)
    datasets = []
    for dataset in system.datasets:
        locator = scope.locator(dataset.name)
        datasets.append(
            _dataset_plan(policy, system, dataset, locator, tables, kind, counts, hash_key)
        )
    return SystemPlan(system.id, system.connector.value, tuple(datasets), None, tuple(problems))


def _dataset_plan(
    policy: Policy,
    system: System,
    dataset: Dataset,
    locator: Locator | None,
    tables: Mapping[str, Mapping[str, ColumnInfo]] | None,
    kind: PlanKind,
    counts: Mapping[tuple[str, str], int],
    hash_key: bytes,
) -> DatasetPlan:
    problems: list[str] = []
    columns = tables.get(dataset.name) if tables is not None else None
    if locator is None and dataset.fields:
        problems.append(
            "holds declared personal fields, but no identity field or relation reaches it"
        )
    if columns is None and tables is not None:
        problems.append(f"table '{dataset.table or dataset.name}' does not exist")
    fields = tuple(
        _field_plan(policy, system, dataset, f, columns, kind, hash_key) for f in dataset.fields
    )
    holds: tuple[DatasetHold, ...] = ()
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
        holds, hold_problems = _dataset_holds(system, dataset, held, tables)
        problems += hold_problems
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
        holds=holds,
    )


def _dataset_holds(
    system: System,
    dataset: Dataset,
    held: list[FieldPlan],
    tables: Mapping[str, Mapping[str, ColumnInfo]] | None,
) -> tuple[tuple[DatasetHold, ...], list[str]]:
    """The holds over ``dataset``'s held fields, each with the path to its
    anchor column; a problem for an anchor column found nowhere."""
    by_hold: dict[str, list[FieldPlan]] = {}
    for plan in held:
        assert plan.hold is not None
        by_hold.setdefault(plan.hold.hold_id, []).append(plan)
    holds: list[DatasetHold] = []
    problems: list[str] = []
    for plans in by_hold.values():
        ref = plans[0].hold
        assert ref is not None
        anchor: AnchorPath | None = None
        if ref.anchor_column is not None:
            anchor, problem = _anchor(system, dataset, ref, tables)
            if problem:
                problems.append(problem)
        deletes = any(p.after_hold == ErasureAction.DELETE_ROW.value for p in plans)
        names = tuple(p.name for p in plans)
        holds.append(DatasetHold(ref, names, anchor, "delete" if deletes else "update"))
    return tuple(holds), problems


def _anchor(
    system: System,
    dataset: Dataset,
    hold: HoldRef,
    tables: Mapping[str, Mapping[str, ColumnInfo]] | None,
) -> tuple[AnchorPath | None, str | None]:
    column = hold.anchor_column
    assert column is not None
    if tables is None:  # not checked: the plan already says so
        return AnchorPath(dataset.name, column), None

    def columns_of(name: str) -> Mapping[str, ColumnInfo] | None:
        return tables.get(name)

    path = find_anchor(system, dataset.name, column, columns_of)
    if path is None:
        return None, (
            f"legal hold '{hold.hold_id}' runs from column '{column}', which neither table "
            f"'{dataset.table or dataset.name}' nor a dataset its relations lead to has"
        )
    current = dataset.name
    for step in path.steps:
        if step.column not in (tables.get(current) or {}):
            return None, (
                f"legal hold '{hold.hold_id}': relation column '{step.column}' of "
                f"'{current}' does not exist"
            )
        current = step.target
    return path, None


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
        return _held_field(declared, hold, column, missing, hash_key)
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


def _held_field(
    declared: DatasetField,
    hold: HoldRef,
    column: ColumnInfo | None,
    missing: tuple[str, ...],
    hash_key: bytes,
) -> FieldPlan:
    """A field a legal hold keeps. With an anchor column the hold ends per
    row, and the field then takes its own erasure action, or goes with its
    row when the policy declares ``keep`` (there is no other way to erase
    it). Without one the field is kept on every row for the whole hold."""
    kept = (
        f"kept under {hold.law} ({hold.article}) for {hold.period.describe()} after "
        f"{hold.anchor_event.replace('_', ' ')}"
    )
    if hold.anchor_column is None:
        return FieldPlan(
            declared.name,
            declared.category,
            "keep",
            kept + " (on every row: the hold names no anchor column, so no end date is known)",
            hold,
            missing,
        )
    after = ErasureAction.DELETE_ROW if declared.erasure is ErasureAction.KEEP else declared.erasure
    problems = list(missing)
    then = "the row is deleted"
    if after is not ErasureAction.DELETE_ROW:
        try:
            then = operator_for(declared, hash_key=hash_key).explain()
        except ValueError as exc:
            problems.append(str(exc))
        if column is not None:
            problems += [p.message for p in validate_field(declared, column, hash_key=hash_key)]
    return FieldPlan(
        declared.name,
        declared.category,
        "keep",
        f"{kept} (from {hold.anchor_column}, per row); once a row's hold has ended: {then}",
        hold,
        tuple(problems),
        after.value,
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
