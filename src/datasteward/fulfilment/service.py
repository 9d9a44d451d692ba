"""Carrying out one subject's requests across the company's systems: the
plan, the connectors and the packages tied together. Access, portability,
erasure (Art. 17), rectification (Art. 16) and restriction (Art. 18).

Every request starts with a plan (:func:`~datasteward.fulfilment.plan.
build_plan`) made against the live schema of every connected system, with
the subject's rows counted. A plan with problems is refused before anything
is read or changed: a request is either carried out as the policy says or
not at all, never half-done and reported as done.

Erasure runs per system in one transaction, datasets children first, legal
holds split per row by their anchor date, and is resumable through
checkpoints (:mod:`datasteward.fulfilment.erasing`). Rectification and
restriction write new values by key (:mod:`datasteward.fulfilment.editing`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datasteward.clock import Clock
from datasteward.crypto import Keyring
from datasteward.errors import Conflict, Problem, UsageError
from datasteward.fulfilment.checkpoints import Checkpoints
from datasteward.fulfilment.columns import ColumnInfo
from datasteward.fulfilment.editing import run_rectification, run_restriction
from datasteward.fulfilment.erasing import ErasureRun, erasure_order
from datasteward.fulfilment.plan import Plan, PlanKind, build_plan
from datasteward.fulfilment.plan_types import SystemPlan
from datasteward.fulfilment.rectify import (
    RectificationReport,
    parse_targets,
    rectified_value,
    value_kind,
)
from datasteward.fulfilment.report import ErasureReport
from datasteward.fulfilment.restrict import RestrictionReport
from datasteward.fulfilment.targets import Connections, SystemUnavailable, Target, identity_values
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
from datasteward.policy.model import Policy, System
from datasteward.ports import ConnectorFactory

Connection = Any
"""The connector's opaque connection (an SQLAlchemy Connection for SQL systems)."""

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
        self._connections = Connections(policy, connectors)

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> Fulfilment:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- planning -------------------------------------------------------------------------

    def plan(
        self,
        kind: PlanKind,
        identities: Sequence[Identity],
        *,
        systems: Collection[str] | None = None,
        changes: Mapping[str, str] | None = None,
        lift: bool = False,
    ) -> Plan:
        """The plan for a request of ``kind`` about the subject known by
        ``identities``, checked against every reachable system's schema and
        with the subject's rows counted where the system's plan is sound.
        ``systems`` limits it to those systems; ``changes`` are a
        rectification's new values (``system.dataset.field`` to text);
        ``lift`` plans lifting a restriction."""
        kinds = {i.kind for i in identities}
        wanted = set(systems) if systems is not None else None
        schema: dict[str, dict[str, dict[str, ColumnInfo]]] = {}
        for system in self._connections.connected_systems():
            if wanted is not None and system.id not in wanted:
                continue
            connector = self._connections.connector(system)
            if connector is not None:
                columns = connector.reflection().columns
                schema[system.id] = {name: dict(cols) for name, cols in columns.items()}

        def build(counts: Mapping[tuple[str, str], int] | None) -> Plan:
            return build_plan(
                self.policy,
                kind,
                kinds,
                schema=schema,
                counts=counts,
                hash_key=self.hash_key,
                systems=wanted,
                changes=changes,
                lift=lift,
            )

        first = build(None)
        counts: dict[tuple[str, str], int] = {}
        values = identity_values(identities)
        for system_plan in first.systems:
            if system_plan.system not in schema or _system_problems(system_plan):
                continue  # counting would only fail on what the plan already says
            if not system_plan.datasets:
                continue
            target = self._connections.target(system_plan.system, kinds)
            scope = target.scope
            if kind in (PlanKind.RECTIFICATION, PlanKind.RESTRICTION):
                scope = scope.narrowed(d.dataset for d in system_plan.datasets)
            with target.connector.connect(readonly=True) as conn:
                found = target.connector.count_rows(conn, scope, values)
            counts |= {(system_plan.system, name): n for name, n in found.items()}
        return build(counts)

    # -- connections (also used by benchmarks/bench_fulfilment.py to time the reads) ------

    def _connected_systems(self) -> list[System]:
        return self._connections.connected_systems()

    def _target(self, system_id: str, kinds: set[str]) -> Target:
        return self._connections.target(system_id, kinds)

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
        values = identity_values(identities)
        package_id = new_package_id()
        path = staging_path(self.home, package_id)
        now = self.clock.now()
        portable = portable_fields(self.policy) if portability else None
        with ExitStack() as stack:
            connections: list[tuple[Target, Connection]] = []
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
        connections: Sequence[tuple[Target, Connection]],
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

    def erase(
        self,
        identities: Sequence[Identity],
        *,
        systems: Collection[str] | None = None,
        checkpoints: Checkpoints | None = None,
        request_id: str | None = None,
    ) -> ErasureReport:
        """Erase the subject as the policy says; refuses (:class:`PlanRefused`)
        a plan with problems before anything changes.

        Each system's part runs in one transaction; ``systems`` limits the
        run to those systems (one task of a request). With ``checkpoints``
        (and the ``request_id`` they are kept under) every dataset is
        recorded once its system has committed, and datasets recorded by an
        earlier, interrupted run are not run again: they are reported from
        their checkpoints, marked ``resumed``."""
        if checkpoints is not None and not request_id:
            raise UsageError("erasure with checkpoints needs the request id they are kept under")
        plan = self.plan(PlanKind.ERASURE, identities, systems=systems)
        if not plan.ok:
            raise PlanRefused(plan)
        zone = _zone(self.policy)
        run = ErasureRun(
            plan=plan,
            connections=self._connections,
            kinds={i.kind for i in identities},
            values=identity_values(identities),
            hash_key=self.hash_key,
            clock=self.clock,
            today=self.clock.now().astimezone(zone).date(),
            zone=zone,
            checkpoints=checkpoints,
            request_id=request_id,
        )
        return run.run()

    # -- rectification and restriction ----------------------------------------------------

    def rectify(
        self,
        identities: Sequence[Identity],
        changes: Mapping[str, str],
        *,
        systems: Collection[str] | None = None,
    ) -> RectificationReport:
        """Correct the subject's values (Art. 16): ``changes`` maps
        ``system.dataset.field`` to the new value. Every value is checked
        against its field and column first; any problem refuses the plan
        (:class:`PlanRefused`) and nothing is written. The report counts rows
        changed per field and never holds a value."""
        plan = self.plan(PlanKind.RECTIFICATION, identities, systems=systems, changes=changes)
        if not plan.ok:
            raise PlanRefused(plan)
        targets, _ = parse_targets(changes)
        values: dict[tuple[str, str], list[tuple[str, object]]] = {}
        for target, text in targets.items():
            system = self.policy.system(target.system)
            connector = self._connections.connector(system) if system else None
            if system is None or connector is None:  # pragma: no cover - the plan refused it
                raise SystemUnavailable(f"system '{target.system}' cannot be reached")
            dataset = next(d for d in system.datasets if d.name == target.dataset)
            declared = next(f for f in dataset.fields if f.name == target.field)
            column = connector.reflection().columns[target.dataset][target.field]
            value = rectified_value(value_kind(self.policy, dataset, declared), column, text)
            values.setdefault((target.system, target.dataset), []).append((target.field, value))
        return run_rectification(
            plan,
            self._connections,
            {i.kind for i in identities},
            identity_values(identities),
            values,
        )

    def restrict(
        self,
        identities: Sequence[Identity],
        *,
        lift: bool = False,
        systems: Collection[str] | None = None,
    ) -> RestrictionReport:
        """Restrict processing of the subject's data (Art. 18), or lift the
        restriction: the restriction flag column of every dataset that names
        one is set (cleared) on their rows. Systems without a flag column
        are reported as restricted in the engine only."""
        plan = self.plan(PlanKind.RESTRICTION, identities, systems=systems, lift=lift)
        if not plan.ok:
            raise PlanRefused(plan)
        return run_restriction(
            plan,
            self._connections,
            {i.kind for i in identities},
            identity_values(identities),
            lift,
        )


_identity_values = identity_values
"""The subject's values per identity kind (the name benchmarks import)."""


def _zone(policy: Policy) -> ZoneInfo:
    """The controller's time zone, in which legal holds end."""
    try:
        return ZoneInfo(policy.controller.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"the policy's time zone '{policy.controller.time_zone}' is not a known IANA zone"
        ) from None


def _system_problems(system_plan: SystemPlan) -> bool:
    return bool(system_plan.problems) or any(d.all_problems for d in system_plan.datasets)
