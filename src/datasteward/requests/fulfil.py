"""The task runner that carries requests out through :class:`~datasteward.
fulfilment.service.Fulfilment`: packages for access and portability, erasure,
rectification and restriction per system.

One Fulfilment is kept per policy version, so a worker reflects each
system's schema once and reuses its connections for every later task."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from datasteward.fulfilment.checkpoints import Checkpoints
from datasteward.fulfilment.plan import Plan, PlanKind
from datasteward.fulfilment.service import Fulfilment, PlanRefused
from datasteward.identity import Identity
from datasteward.legaltime.instants import format_time
from datasteward.policy.model import Policy
from datasteward.requests.model import Request, RequestType
from datasteward.requests.work import ALL_SYSTEMS, TaskOutcome

__all__ = ["FulfilmentRunner"]

PLAN_KIND = {
    RequestType.ACCESS: PlanKind.ACCESS,
    RequestType.PORTABILITY: PlanKind.PORTABILITY,
    RequestType.ERASURE: PlanKind.ERASURE,
    RequestType.RECTIFICATION: PlanKind.RECTIFICATION,
    RequestType.RESTRICTION: PlanKind.RESTRICTION,
}


class FulfilmentRunner:
    """Runs connector tasks; ``make`` builds a Fulfilment for a policy."""

    def __init__(
        self,
        make: Callable[[Policy], Fulfilment],
        *,
        checkpoints: Checkpoints | None = None,
        package_lifetime: timedelta = timedelta(days=30),
    ) -> None:
        self.make = make
        self.checkpoints = checkpoints
        self.package_lifetime = package_lifetime
        self._cached: tuple[Policy, Fulfilment] | None = None

    def fulfilment(self, policy: Policy) -> Fulfilment:
        cached = self._cached
        if cached is not None and cached[0] is policy:
            return cached[1]
        if cached is not None:
            cached[1].close()
        made = self.make(policy)
        self._cached = (policy, made)
        return made

    def close(self) -> None:
        if self._cached is not None:
            self._cached[1].close()
            self._cached = None

    def plan(
        self, policy: Policy, request: Request, identities: Sequence[Identity]
    ) -> dict[str, Any]:
        changes = (
            request.details.get("changes") if request.type is RequestType.RECTIFICATION else None
        )
        plan = self.fulfilment(policy).plan(PLAN_KIND[request.type], identities, changes=changes)
        return {"request": request.id, "type": request.type.value, **plan.to_dict()}

    def run(
        self, policy: Policy, request: Request, system: str, identities: Sequence[Identity]
    ) -> TaskOutcome:
        fulfilment = self.fulfilment(policy)
        try:
            if request.type in (RequestType.ACCESS, RequestType.PORTABILITY):
                return self._package(fulfilment, request, identities)
            if request.type is RequestType.ERASURE:
                report = fulfilment.erase(identities, systems=[system], request_id=request.id)
                return TaskOutcome(report.complete, report.to_dict(), tuple(report.reasons))
            if request.type is RequestType.RECTIFICATION:
                changes = {
                    key: value
                    for key, value in request.details.get("changes", {}).items()
                    if key.split(".", 1)[0] == system
                }
                rectified = fulfilment.rectify(identities, changes, systems=[system])
                return TaskOutcome(
                    rectified.complete, rectified.to_dict(), tuple(rectified.reasons)
                )
            if request.type is RequestType.RESTRICTION:
                restricted = fulfilment.restrict(identities, systems=[system])
                return TaskOutcome(
                    restricted.complete, restricted.to_dict(), tuple(restricted.reasons)
                )
        except PlanRefused as refused:
            return TaskOutcome(
                False, {"plan": refused.plan.to_dict()}, tuple(p.message for p in refused.problems)
            )
        return TaskOutcome(False, {}, (f"{request.type.value} has no work in {system}",))

    def lift(self, policy: Policy, request: Request, identities: Sequence[Identity]) -> TaskOutcome:
        lifted = self.fulfilment(policy).restrict(identities, lift=True)
        return TaskOutcome(lifted.complete, lifted.to_dict(), tuple(lifted.reasons))

    def _package(
        self, fulfilment: Fulfilment, request: Request, identities: Sequence[Identity]
    ) -> TaskOutcome:
        portability = request.type is RequestType.PORTABILITY
        plan: Plan
        plan, stored = fulfilment.access(
            identities, portability=portability, expires_after=self.package_lifetime
        )
        rows = {f"{s.system}.{d.dataset}": d.rows for s in plan.systems for d in s.datasets}
        return TaskOutcome(
            True,
            {
                "system": ALL_SYSTEMS,
                "package_id": stored.package_id,
                "expires_at": format_time(stored.expires_at),
                "rows": rows,
            },
        )
