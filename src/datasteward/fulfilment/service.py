"""Carrying out one subject's access, portability or erasure request across
the company's systems: the plan, the connectors and the packages tied
together.

Every request starts with a plan (:func:`~datasteward.fulfilment.plan.
build_plan`) made against the live schema of every connected system, with
the subject's rows counted. A plan with problems is refused before anything
is read or changed: a request is either carried out as the policy says or
not at all, never half-done and reported as done.

Erasure runs per system in one transaction, datasets in
:func:`erasure_order` (children before parents). A
field the plan keeps under a legal hold is reported as kept with the hold,
for the whole hold: the engine does not yet split a dataset's rows by the
hold's anchor date (see docs/fulfilment.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from datasteward.clock import Clock
from datasteward.crypto import Keyring
from datasteward.errors import Conflict, Problem, StewardError
from datasteward.fulfilment.columns import ColumnInfo
from datasteward.fulfilment.fields import operator_for
from datasteward.fulfilment.locate import SubjectScope, locate
from datasteward.fulfilment.operators import Operator
from datasteward.fulfilment.plan import DatasetPlan, Plan, PlanKind, SystemPlan, build_plan
from datasteward.fulfilment.report import (
    DatasetErasure,
    ErasureReport,
    KeptField,
    ManualWork,
    refusal_reason,
)
from datasteward.identity import Identity
from datasteward.packages import (
    FieldInfo,
    PackageSection,
    StoredPackage,
    dataset_fields,
    new_package_id,
    portable_fields,
    staging_path,
    store_package,
    write_access_package,
    write_portability_package,
)
from datasteward.policy.model import ConnectorKind, Policy, System
from datasteward.ports import ConnectorFactory, ErasureOutcome, SystemConnector

Connection = Any
"""The connector's opaque connection (an SQLAlchemy Connection for SQL systems)."""


class SystemUnavailable(StewardError):
    """A system the plan covers cannot be reached now."""

    code = "system_unavailable"


def erasure_order(scope: SubjectScope) -> list[str]:
    """Datasets children first: the reverse of the locator order, so that no
    dataset loses the parent rows its sub-select needs before it is erased."""
    return [locator.dataset for locator in reversed(scope.locators)]


__all__ = [
    "HASH_KEY_KIND",
    "Fulfilment",
    "PlanRefused",
    "SystemUnavailable",
    "erasure_hash_key",
    "erasure_order",
]

HASH_KEY_KIND = "erasure-hash-key"
"""Blind-index namespace the erasure hash key is derived in."""


def erasure_hash_key(keyring: Keyring, version: str = "v1") -> bytes:
    """The key keyed_hash erasure writes with: 32 bytes derived from the
    keyring's active index key, so it is the same on every run and never
    stored anywhere. Rotating the keyring's active key changes it: values
    erased afterwards hash differently from those erased before."""
    return bytes.fromhex(keyring.blind_index(HASH_KEY_KIND, version))


class PlanRefused(Conflict):
    """The request's plan has problems, so nothing was read or changed."""

    code = "plan_refused"

    def __init__(self, plan: Plan) -> None:
        super().__init__(
            f"the {plan.kind.value} plan has {len(plan.problems)} problem(s); nothing was done"
        )
        self.plan = plan
        self.problems = [Problem(p) for p in plan.problems]

    def lines(self) -> list[str]:
        return [self.message, *(p.message for p in self.problems)]


@dataclass(frozen=True)
class _Target:
    """One connected system with the subject's scope in it."""

    system: System
    connector: SystemConnector
    scope: SubjectScope


class Fulfilment:
    """Plans and carries out requests about one subject at a time.

    Connectors are opened on first use and reused for every later request;
    call :meth:`close` (or use ``with``) to release their connections."""

    def __init__(
        self,
        policy: Policy,
        *,
        connectors: ConnectorFactory,
        keyring: Keyring,
        home: Path,
        clock: Clock,
        hash_key: bytes,
    ) -> None:
        self.policy = policy
        self.connector_factory = connectors
        self.keyring = keyring
        self.home = home
        self.clock = clock
        self.hash_key = hash_key
        self._connectors: dict[str, SystemConnector | None] = {}

    def close(self) -> None:
        for connector in self._connectors.values():
            if connector is not None:
                connector.close()
        self._connectors.clear()

    def __enter__(self) -> Fulfilment:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- planning -------------------------------------------------------------------------

    def plan(self, kind: PlanKind, identities: Sequence[Identity]) -> Plan:
        """The plan for a request of ``kind`` about the subject known by
        ``identities``, checked against every reachable system's schema and
        with the subject's rows counted where the system's plan is sound."""
        kinds = {i.kind for i in identities}
        schema: dict[str, dict[str, dict[str, ColumnInfo]]] = {}
        for system in self._connected_systems():
            connector = self._connector(system)
            if connector is not None:
                columns = connector.reflection().columns
                schema[system.id] = {name: dict(cols) for name, cols in columns.items()}
        first = build_plan(self.policy, kind, kinds, schema=schema, hash_key=self.hash_key)
        counts: dict[tuple[str, str], int] = {}
        values = _identity_values(identities)
        for system_plan in first.systems:
            if system_plan.system not in schema or _system_problems(system_plan):
                continue  # counting would only fail on what the plan already says
            target = self._target(system_plan.system, kinds)
            with target.connector.connect(readonly=True) as conn:
                found = target.connector.count_rows(conn, target.scope, values)
            counts |= {(system_plan.system, name): n for name, n in found.items()}
        return build_plan(
            self.policy, kind, kinds, schema=schema, counts=counts, hash_key=self.hash_key
        )

    # -- access and portability -----------------------------------------------------------

    def access(
        self,
        identities: Sequence[Identity],
        *,
        portability: bool = False,
        expires_after: timedelta = timedelta(days=30),
    ) -> tuple[Plan, StoredPackage]:
        """Write the subject's access (or portability) package and store it
        encrypted; refuses (:class:`PlanRefused`) a plan with problems."""
        kind = PlanKind.PORTABILITY if portability else PlanKind.ACCESS
        plan = self.plan(kind, identities)
        if not plan.ok:
            raise PlanRefused(plan)
        kinds = {i.kind for i in identities}
        values = _identity_values(identities)
        package_id = new_package_id()
        path = staging_path(self.home, package_id)
        now = self.clock.now()
        portable = portable_fields(self.policy) if portability else None
        with ExitStack() as stack:
            connections: list[tuple[_Target, Connection]] = []
            for system in self._connected_systems():
                target = self._target(system.id, kinds)
                conn = stack.enter_context(target.connector.connect(readonly=True))
                connections.append((target, conn))
            sections = self._sections(connections, values, portable)
            if portability:
                write_portability_package(
                    path, self.policy, sections, generated_at=now, identity_kinds=sorted(kinds)
                )
            else:
                write_access_package(
                    path, self.policy, sections, generated_at=now, identity_kinds=sorted(kinds)
                )
        stored = store_package(
            self.home,
            self.keyring,
            path,
            package_id=package_id,
            created_at=now,
            expires_at=now + expires_after,
        )
        return plan, stored

    def _sections(
        self,
        connections: Sequence[tuple[_Target, Connection]],
        values: Mapping[str, Sequence[str]],
        portable: Mapping[tuple[str, str], tuple[str, ...]] | None,
    ) -> Iterator[PackageSection]:
        """One section per located dataset with declared fields, its rows
        streamed only when the writer reaches it (one stream open at a time)."""
        for target, conn in connections:
            system_id = target.system.id
            for locator in target.scope.locators:
                fields: tuple[FieldInfo, ...] = dataset_fields(
                    self.policy, system_id, locator.dataset
                )
                if portable is not None:
                    keep = portable.get((system_id, locator.dataset), ())
                    fields = tuple(f for f in fields if f.name in keep)
                if not fields:
                    continue
                rows = target.connector.stream_rows(
                    conn, target.scope, locator.dataset, values, [f.name for f in fields]
                )
                yield PackageSection(system_id, locator.dataset, fields, rows)

    # -- erasure --------------------------------------------------------------------------

    def erase(self, identities: Sequence[Identity]) -> ErasureReport:
        """Erase the subject as the policy says; refuses (:class:`PlanRefused`)
        a plan with problems before anything changes. Each system's part runs
        in one transaction."""
        plan = self.plan(PlanKind.ERASURE, identities)
        if not plan.ok:
            raise PlanRefused(plan)
        kinds = {i.kind for i in identities}
        values = _identity_values(identities)
        datasets: list[DatasetErasure] = []
        manual: list[ManualWork] = []
        reasons: list[str] = []
        for system_plan in plan.systems:
            if system_plan.connector == ConnectorKind.MANUAL.value:
                manual.append(ManualWork(system_plan.system, system_plan.manual_instructions))
                reasons.append(f"manual system {system_plan.system}: awaiting staff confirmation")
                continue
            done = self._erase_system(system_plan, kinds, values)
            datasets += done
            for entry in done:
                for column, count in entry.refused.items():
                    if count:
                        action = entry.erased.get(column, "erasure")
                        reasons.append(
                            refusal_reason(entry.system, entry.dataset, column, count, action)
                        )
        return ErasureReport(not reasons, datasets, reasons, manual)

    def _erase_system(
        self, system_plan: SystemPlan, kinds: set[str], values: Mapping[str, Sequence[str]]
    ) -> list[DatasetErasure]:
        target = self._target(system_plan.system, kinds)
        by_name = {d.dataset: d for d in system_plan.datasets}
        done: list[DatasetErasure] = []
        with target.connector.connect() as conn:
            for name in erasure_order(target.scope):
                dataset_plan = by_name[name]
                actions = self._actions(target.system, dataset_plan)
                result = target.connector.apply_erasure(conn, target.scope, name, values, actions)
                done.append(_erased(dataset_plan, actions, result))
        done.reverse()  # report parents first, as the plan lists them
        return done

    def _actions(self, system: System, dataset_plan: DatasetPlan) -> list[tuple[str, Operator]]:
        """(column, operator) for every field the plan does not keep."""
        declared = next(d for d in system.datasets if d.name == dataset_plan.dataset)
        by_field = {f.name: f for f in declared.fields}
        return [
            (f.name, operator_for(by_field[f.name], hash_key=self.hash_key))
            for f in dataset_plan.fields
            if f.action != "keep"
        ]

    # -- connectors -----------------------------------------------------------------------

    def _connected_systems(self) -> list[System]:
        return [s for s in self.policy.systems if s.connector is not ConnectorKind.MANUAL]

    def _connector(self, system: System) -> SystemConnector | None:
        """The system's connector, or None when its URL is not configured
        (the plan then says the system was not checked)."""
        if system.id not in self._connectors:
            self._connectors[system.id] = self.connector_factory(system)
        return self._connectors[system.id]

    def _target(self, system_id: str, kinds: set[str]) -> _Target:
        system = self.policy.system(system_id)
        if system is None:  # pragma: no cover - plans only name the policy's systems
            raise SystemUnavailable(f"unknown system '{system_id}'")
        connector = self._connector(system)
        if connector is None:
            raise SystemUnavailable(
                f"system '{system_id}' has no connection URL; the plan would have said so"
            )
        return _Target(system, connector, locate(system, kinds))


def _identity_values(identities: Sequence[Identity]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for identity in identities:
        found = values.setdefault(identity.kind, [])
        if identity.value not in found:
            found.append(identity.value)
    return values


def _system_problems(system_plan: SystemPlan) -> bool:
    return bool(system_plan.problems) or any(d.all_problems for d in system_plan.datasets)


def _erased(
    dataset_plan: DatasetPlan, actions: Sequence[tuple[str, Operator]], result: ErasureOutcome
) -> DatasetErasure:
    kept = tuple(
        KeptField(f.name, f.hold)
        for f in dataset_plan.fields
        if f.action == "keep" and f.hold is not None
    )
    return DatasetErasure(
        system=dataset_plan.system,
        dataset=dataset_plan.dataset,
        rows_matched=result.rows_matched,
        rows_deleted=result.rows_deleted,
        erased={name: operator.action.value for name, operator in actions},
        changed=dict(result.changed),
        refused=dict(result.refused),
        kept=kept,
    )
