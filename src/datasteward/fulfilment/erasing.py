"""Carrying out an erasure plan: per system one transaction, datasets
children first, legal holds split per row, checkpoints after each commit.

A system's datasets are erased in :func:`erasure_order` on one connection in
one transaction. When it has committed, each dataset's report entry is
recorded as a checkpoint (when the caller gives :class:`Checkpoints`), so a
resumed run skips it and reports it from the checkpoint, marked ``resumed``.
Killed anywhere, a run leaves either the whole system rolled back or the
whole system committed; in the latter case, with checkpoints missing, the
next run applies the operators again, which every operator tolerates
(idempotent: docs/erasure-operators.md).

Fields a legal hold keeps are split per row when the hold names an anchor
column (:mod:`datasteward.fulfilment.holds`): rows whose hold has ended are
erased like any other, rows still held are kept and reported with the last
day of their hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from typing import Any

from datasteward.clock import Clock
from datasteward.fulfilment.checkpoints import Checkpoints
from datasteward.fulfilment.fields import operator_for
from datasteward.fulfilment.holds import RowHold
from datasteward.fulfilment.locate import SubjectScope
from datasteward.fulfilment.operators import DeleteRow, Operator
from datasteward.fulfilment.plan_types import DatasetPlan, Plan, SystemPlan
from datasteward.fulfilment.report import (
    DatasetErasure,
    ErasureReport,
    KeptField,
    ManualWork,
    refusal_reason,
)
from datasteward.fulfilment.targets import Connections
from datasteward.legaltime.instants import format_time
from datasteward.policy.model import ConnectorKind, ErasureAction, System
from datasteward.ports import ErasureOutcome

__all__ = ["ErasureRun", "erasure_order"]


def erasure_order(scope: SubjectScope) -> list[str]:
    """Datasets children first: the reverse of the locator order, so that no
    dataset loses the parent rows its sub-select needs before it is erased."""
    return [locator.dataset for locator in reversed(scope.locators)]


@dataclass(frozen=True)
class ErasureRun:
    """One erasure of one subject: the plan and everything it needs to run."""

    plan: Plan
    connections: Connections
    kinds: set[str]
    values: Mapping[str, Sequence[str]]
    hash_key: bytes
    clock: Clock
    today: date
    zone: tzinfo
    checkpoints: Checkpoints | None = None
    request_id: str | None = None

    def run(self) -> ErasureReport:
        datasets: list[DatasetErasure] = []
        manual: list[ManualWork] = []
        reasons: list[str] = []
        for system_plan in self.plan.systems:
            if system_plan.connector == ConnectorKind.MANUAL.value:
                manual.append(ManualWork(system_plan.system, system_plan.manual_instructions))
                reasons.append(f"manual system {system_plan.system}: awaiting staff confirmation")
                continue
            done = self._system(system_plan)
            datasets += done
            for entry in done:
                for column, count in entry.refused.items():
                    if count:
                        action = entry.erased.get(column, "erasure")
                        reasons.append(
                            refusal_reason(entry.system, entry.dataset, column, count, action)
                        )
        return ErasureReport(
            not reasons,
            datasets,
            reasons,
            manual,
            request_id=self.request_id,
            systems=[s.system for s in self.plan.systems],
        )

    def _system(self, system_plan: SystemPlan) -> list[DatasetErasure]:
        target = self.connections.target(system_plan.system, self.kinds)
        by_name = {d.dataset: d for d in system_plan.datasets}
        order = erasure_order(target.scope)
        recorded = {name: self._recorded(system_plan.system, name) for name in order}
        pending = [name for name in order if recorded[name] is None]
        fresh: dict[str, DatasetErasure] = {}
        if pending:
            with target.connector.connect() as conn:
                for name in pending:
                    dataset_plan = by_name[name]
                    actions = self._actions(target.system, dataset_plan)
                    holds = self._holds(target.system, dataset_plan)
                    result = target.connector.apply_erasure(
                        conn, target.scope, name, self.values, actions, holds=holds
                    )
                    fresh[name] = _erased(dataset_plan, actions, result)
            # committed: only now may the datasets be recorded as done
            at = format_time(self.clock.now())
            for name in pending:
                fresh[name] = replace(fresh[name], at=at)
                if self.checkpoints is not None and self.request_id is not None:
                    self.checkpoints.record(
                        self.request_id, system_plan.system, name, fresh[name].to_dict()
                    )
        done: list[DatasetErasure] = []
        for name in reversed(order):  # report parents first, as the plan lists them
            stored = recorded[name]
            if stored is not None:
                done.append(DatasetErasure.from_dict(stored, resumed=True))
            else:
                done.append(fresh[name])
        return done

    def _recorded(self, system: str, dataset: str) -> dict[str, Any] | None:
        if self.checkpoints is None or self.request_id is None:
            return None
        return self.checkpoints.done(self.request_id, system, dataset)

    def _declared(self, system: System, dataset_plan: DatasetPlan) -> dict[str, Any]:
        declared = next(d for d in system.datasets if d.name == dataset_plan.dataset)
        return {f.name: f for f in declared.fields}

    def _actions(self, system: System, dataset_plan: DatasetPlan) -> list[tuple[str, Operator]]:
        """(column, operator) for every field the plan does not keep."""
        by_field = self._declared(system, dataset_plan)
        return [
            (f.name, operator_for(by_field[f.name], hash_key=self.hash_key))
            for f in dataset_plan.fields
            if f.action != "keep"
        ]

    def _holds(self, system: System, dataset_plan: DatasetPlan) -> list[RowHold]:
        """The dataset's legal holds that end per row, with the operator each
        held field takes once its row is free."""
        by_field = self._declared(system, dataset_plan)
        holds: list[RowHold] = []
        for held in dataset_plan.holds:
            if held.anchor is None:
                continue
            fields: list[tuple[str, Operator]] = []
            for name in held.fields:
                declared = by_field[name]
                operator: Operator = (
                    DeleteRow(name)
                    if declared.erasure in (ErasureAction.KEEP, ErasureAction.DELETE_ROW)
                    else operator_for(declared, hash_key=self.hash_key)
                )
                fields.append((name, operator))
            holds.append(RowHold(held.hold, held.anchor, tuple(fields), self.today, self.zone))
        return holds


def _erased(
    dataset_plan: DatasetPlan, actions: Sequence[tuple[str, Operator]], result: ErasureOutcome
) -> DatasetErasure:
    kept = tuple(
        KeptField(f.name, f.hold)
        for f in dataset_plan.fields
        if f.action == "keep" and f.hold is not None
    )
    erased = {name: operator.action.value for name, operator in actions}
    return DatasetErasure(
        system=dataset_plan.system,
        dataset=dataset_plan.dataset,
        rows_matched=result.rows_matched,
        rows_deleted=result.rows_deleted,
        erased=erased,
        changed=dict(result.changed),
        refused=dict(result.refused),
        kept=kept,
        held=tuple(result.held),
    )
