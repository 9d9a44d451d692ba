"""Carrying out rectification and restriction plans: new values written
into the subject's rows, one transaction per system.

Both are plain writes by key (``SystemConnector.update_fields``): the keys of
every named dataset are read before the first write, and a cell that already
holds the new value is neither written nor counted, so running either twice
changes nothing the second time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasteward.fulfilment.columns import ColumnKind
from datasteward.fulfilment.plan_types import Plan
from datasteward.fulfilment.rectify import FieldRectification, RectificationReport
from datasteward.fulfilment.restrict import (
    DatasetRestriction,
    RestrictionReport,
    SystemRestriction,
)
from datasteward.fulfilment.targets import Connections

__all__ = ["run_rectification", "run_restriction"]


def run_rectification(
    plan: Plan,
    connections: Connections,
    kinds: set[str],
    identities: Mapping[str, Sequence[str]],
    values: Mapping[tuple[str, str], Sequence[tuple[str, object]]],
) -> RectificationReport:
    """Write ``values`` (by system and dataset: field, checked value)."""
    fields: list[FieldRectification] = []
    reasons: list[str] = []
    for system_plan in plan.systems:
        target = connections.target(system_plan.system, kinds)
        wanted = {
            d.dataset: list(values[(system_plan.system, d.dataset)]) for d in system_plan.datasets
        }
        with target.connector.connect() as conn:
            results = target.connector.update_fields(conn, target.scope, identities, wanted)
        for dataset, pairs in wanted.items():
            result = results[dataset]
            for name, _value in pairs:
                entry = FieldRectification(
                    system_plan.system,
                    dataset,
                    name,
                    result.rows_matched,
                    int(result.changed.get(name, 0)),
                )
                fields.append(entry)
                if not entry.rows_matched:
                    reasons.append(f"{entry.key}: none of the subject's rows was found")
    return RectificationReport(not reasons, fields, reasons)


def run_restriction(
    plan: Plan,
    connections: Connections,
    kinds: set[str],
    identities: Mapping[str, Sequence[str]],
    lift: bool,
) -> RestrictionReport:
    """Set (or clear) the restriction flag of every flagged dataset."""
    systems: list[SystemRestriction] = []
    for system_plan in plan.systems:
        if not system_plan.datasets:
            systems.append(
                SystemRestriction(system_plan.system, engine_only=True, note=system_plan.note)
            )
            continue
        target = connections.target(system_plan.system, kinds)
        columns = target.connector.reflection().columns
        wanted: dict[str, list[tuple[str, object]]] = {}
        for dataset in system_plan.datasets:
            assert dataset.flag is not None
            kind = columns[dataset.dataset][dataset.flag].kind
            flag: object = (not lift) if kind is ColumnKind.BOOLEAN else int(not lift)
            wanted[dataset.dataset] = [(dataset.flag, flag)]
        with target.connector.connect() as conn:
            results = target.connector.update_fields(conn, target.scope, identities, wanted)
        entries = [
            DatasetRestriction(
                system_plan.system,
                dataset,
                pairs[0][0],
                results[dataset].rows_matched,
                int(results[dataset].changed.get(pairs[0][0], 0)),
            )
            for dataset, pairs in wanted.items()
        ]
        systems.append(SystemRestriction(system_plan.system, entries))
    return RestrictionReport(lift, systems)
