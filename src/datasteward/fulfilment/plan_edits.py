"""Plans for the requests that edit rows in place: rectification (Art. 16)
and restriction (Art. 18). Pure.

A rectification plan covers only the datasets its changes name, a
restriction plan only the datasets with a restriction flag column: a
problem elsewhere in the policy (a dataset no identity reaches) does not
stop a correction it has nothing to do with. Every new value is checked
against its field and column here, before anything runs
(:func:`~datasteward.fulfilment.rectify.rectified_value`); a value that
does not fit is a problem of the plan, and nothing is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasteward.fulfilment.columns import ColumnInfo, ColumnKind
from datasteward.fulfilment.locate import locate
from datasteward.fulfilment.plan_types import (
    DatasetPlan,
    FieldPlan,
    Plan,
    PlanKind,
    Schema,
    SystemPlan,
)
from datasteward.fulfilment.rectify import (
    RectificationTarget,
    not_rectifiable,
    parse_targets,
    rectified_value,
    value_kind,
)
from datasteward.policy.model import ConnectorKind, Dataset, Policy, System

__all__ = ["ENGINE_ONLY", "FLAG_KINDS", "rectification_plan", "restriction_plan"]

ENGINE_ONLY = "restricted in the engine only"
"""What a restriction says of a system where no dataset has a flag column."""

FLAG_KINDS = frozenset({ColumnKind.BOOLEAN, ColumnKind.INTEGER})
"""Column kinds a restriction flag may have (true/false, or 1/0)."""

_UNCHECKED = "not checked against the live schema (is its URL set?)"


def rectification_plan(
    policy: Policy,
    systems: Sequence[System],
    identity_kinds: set[str],
    schema: Schema | None,
    counts: Mapping[tuple[str, str], int],
    changes: Mapping[str, str],
) -> Plan:
    """Per named dataset the subject's rows and per named field its checks."""
    targets, general = parse_targets(changes)
    if not changes:
        general.append("a rectification names at least one field and its new value")
    by_id = {s.id: s for s in systems}
    wanted: dict[str, dict[str, list[tuple[RectificationTarget, str]]]] = {}
    for target, text in targets.items():
        problem = _unknown(by_id, target)
        if problem:
            general.append(problem)
            continue
        wanted.setdefault(target.system, {}).setdefault(target.dataset, []).append((target, text))
    planned: list[SystemPlan] = []
    for system in systems:
        if system.id not in wanted:
            continue
        tables = (schema or {}).get(system.id)
        scope = locate(system, identity_kinds)
        datasets = []
        for dataset in system.datasets:
            if dataset.name not in wanted[system.id]:
                continue
            columns = tables.get(dataset.name) if tables is not None else None
            problems: list[str] = []
            locator = scope.locator(dataset.name)
            if locator is None:
                problems.append("no identity field or relation of the subject reaches it")
            if tables is not None and columns is None:
                problems.append(f"table '{dataset.table or dataset.name}' does not exist")
            fields = tuple(
                _rectified_field(policy, dataset, target.field, text, columns, tables is None)
                for target, text in wanted[system.id][dataset.name]
            )
            datasets.append(
                DatasetPlan(
                    system=system.id,
                    dataset=dataset.name,
                    table=dataset.table or dataset.name,
                    locator=locator,
                    rows=counts.get((system.id, dataset.name)),
                    row_action="update",
                    fields=fields,
                    problems=tuple(problems),
                )
            )
        unchecked = () if tables is not None else (_UNCHECKED,)
        planned.append(
            SystemPlan(system.id, system.connector.value, tuple(datasets), None, unchecked)
        )
    return Plan(PlanKind.RECTIFICATION, tuple(planned), tuple(general))


def _unknown(systems: Mapping[str, System], target: RectificationTarget) -> str | None:
    system = systems.get(target.system)
    if system is None:
        return f"'{target.key}': no system '{target.system}' is declared (or selected)"
    if system.connector is ConnectorKind.MANUAL:
        return (
            f"'{target.key}': system '{target.system}' is handled by hand; correct it there "
            "by following its instructions"
        )
    dataset = next((d for d in system.datasets if d.name == target.dataset), None)
    if dataset is None:
        return f"'{target.key}': system '{target.system}' declares no dataset '{target.dataset}'"
    if not any(f.name == target.field for f in dataset.fields):
        return (
            f"'{target.key}': '{target.field}' is not a declared field of "
            f"{target.system}.{target.dataset}"
        )
    return None


def _rectified_field(
    policy: Policy,
    dataset: Dataset,
    name: str,
    text: str,
    columns: Mapping[str, ColumnInfo] | None,
    unchecked: bool,
) -> FieldPlan:
    declared = next(f for f in dataset.fields if f.name == name)
    kind = value_kind(policy, dataset, declared)
    explanation = "set to the new value given" + (
        f" (checked as {'an email address' if kind == 'email' else 'a phone number'} and "
        "written in canonical form)"
        if kind
        else ""
    )
    problems: list[str] = []
    reason = not_rectifiable(dataset, declared)
    if reason is not None:
        problems.append(f"not rectifiable: {reason}")
    column = columns.get(name) if columns is not None else None
    if column is None and not unchecked and columns is not None:
        problems.append(f"column '{name}' does not exist")
    if column is not None and reason is None:
        try:
            rectified_value(kind, column, text)
        except ValueError as error:
            problems.append(str(error))
    return FieldPlan(name, declared.category, "rectify", explanation, None, tuple(problems))


def restriction_plan(
    policy: Policy,
    systems: Sequence[System],
    identity_kinds: set[str],
    schema: Schema | None,
    counts: Mapping[tuple[str, str], int],
    lift: bool,
) -> Plan:
    """Per flagged dataset the subject's rows and the flag column; systems
    without one are restricted in the engine only."""
    planned: list[SystemPlan] = []
    action = "clear flag" if lift else "set flag"
    for system in systems:
        if system.connector is ConnectorKind.MANUAL:
            instructions = system.manual.instructions if system.manual else None
            planned.append(
                SystemPlan(
                    system.id,
                    system.connector.value,
                    (),
                    instructions,
                    note=f"handled by hand: {ENGINE_ONLY}",
                )
            )
            continue
        flagged = [d for d in system.datasets if d.restriction_flag]
        if not flagged:
            planned.append(
                SystemPlan(
                    system.id,
                    system.connector.value,
                    (),
                    note=f"no dataset has a restriction flag column: {ENGINE_ONLY}",
                )
            )
            continue
        tables = (schema or {}).get(system.id)
        scope = locate(system, identity_kinds)
        datasets = []
        for dataset in flagged:
            flag = dataset.restriction_flag
            assert flag is not None
            locator = scope.locator(dataset.name)
            problems: list[str] = []
            if locator is None:
                problems.append(
                    f"no identity field or relation of the subject reaches it, so its "
                    f"restriction flag '{flag}' cannot be set"
                )
            columns = tables.get(dataset.name) if tables is not None else None
            if tables is not None:
                problems += _flag_problems(dataset, flag, columns)
            datasets.append(
                DatasetPlan(
                    system=system.id,
                    dataset=dataset.name,
                    table=dataset.table or dataset.name,
                    locator=locator,
                    rows=counts.get((system.id, dataset.name)),
                    row_action=action,
                    fields=(),
                    problems=tuple(problems),
                    flag=flag,
                )
            )
        unchecked = () if tables is not None else (_UNCHECKED,)
        planned.append(
            SystemPlan(system.id, system.connector.value, tuple(datasets), None, unchecked)
        )
    return Plan(PlanKind.RESTRICTION, tuple(planned))


def _flag_problems(
    dataset: Dataset, flag: str, columns: Mapping[str, ColumnInfo] | None
) -> list[str]:
    if columns is None:
        return [f"table '{dataset.table or dataset.name}' does not exist"]
    column = columns.get(flag)
    if column is None:
        return [f"restriction flag column '{flag}' does not exist"]
    if column.kind not in FLAG_KINDS:
        return [
            f"restriction flag column '{flag}' holds {column.kind.value} values; it must be "
            "a boolean (or an integer holding 1 and 0)"
        ]
    return []
