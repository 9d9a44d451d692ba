"""Carrying a verified request out: tasks per system, running them, and the
truthful settling of the request.

``start`` turns a verified request into tasks: for access and portability
one task that builds the package from every connected system; for erasure,
rectification and restriction one task per connected system; for every
system without a connector a manual task with the policy's instructions,
assignee and the request's due date. Withdrawal of consent and an objection
to direct marketing are applied at once, with no tasks (Art. 7(3), 21(3)).

A task is claimed by one worker at a time (a conditional UPDATE with a
lease), so a task handed to two workers runs once; a worker that dies leaves
a lapsed lease, and the task can be claimed again and resumes from its
checkpoints.

``settle`` closes a request only when every task is done: a task in
"needs attention" (a field that could not be erased, an unreachable system)
moves the request to needs attention with the reasons, and a manual task
waits for staff to confirm what they did. Completion sends the person their
notice (with a download link for a package) and tells recipients of
rectifications, erasures and restrictions (Art. 19)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from datasteward.clock import Clock
from datasteward.consent.model import Channel
from datasteward.consent.service import ConsentLedger
from datasteward.errors import Conflict, InvalidInput, NotFound, StewardError
from datasteward.identity import Identity
from datasteward.legaltime.deadlines import zone
from datasteward.legaltime.instants import format_time
from datasteward.policy.active import ActivePolicy
from datasteward.policy.model import ConnectorKind, Policy
from datasteward.ports import EngineTx
from datasteward.requests.model import (
    Request,
    RequestState,
    RequestType,
    Task,
    TaskKind,
    TaskState,
)
from datasteward.requests.ports import JobQueue
from datasteward.requests.records import task_from_row
from datasteward.requests.service import RequestDesk

__all__ = ["ALL_SYSTEMS", "RequestWork", "TaskOutcome", "TaskRunner"]

ALL_SYSTEMS = "*"
"""The system name of a task that covers every connected system at once."""

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
"""Attempts of a task whose failures are transient before it is recorded failed."""
TRANSIENT_CODES = frozenset({"connector_error", "system_unavailable", "store_error"})
PACKAGE_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class TaskOutcome:
    """What running one task did (counts and references, never values)."""

    done: bool
    result: dict[str, Any]
    reasons: tuple[str, ...] = ()


class TaskRunner(Protocol):
    """Carries out one connector task in the company's systems (the adapter
    is :class:`~datasteward.requests.fulfil.FulfilmentRunner`)."""

    def run(
        self, policy: Policy, request: Request, system: str, identities: Sequence[Identity]
    ) -> TaskOutcome: ...

    def plan(
        self, policy: Policy, request: Request, identities: Sequence[Identity]
    ) -> dict[str, Any]: ...

    def lift(self, policy: Policy, request: Request, identities: Sequence[Identity]) -> TaskOutcome:
        """Clear the restriction flags a restriction request set."""
        ...

    def close(self) -> None: ...


class RequestWork:
    """Start, run, settle and confirm the work of requests."""

    def __init__(
        self,
        desk: RequestDesk,
        runner: TaskRunner,
        ledger: ConsentLedger,
        clock: Clock,
        *,
        queue: JobQueue | None = None,
    ) -> None:
        self.desk = desk
        self.runner = runner
        self.ledger = ledger
        self.clock = clock
        self.queue = queue

    @property
    def store(self) -> Any:
        return self.desk.store

    # -- starting ----------------------------------------------------------------------

    def start(self, request_id: str, *, actor: str) -> Request:
        """Verified -> in progress with its tasks (or completed at once for
        withdrawals and marketing objections). Tasks are handed to the queue
        after they are committed."""
        created: list[str] = []
        with self.store.transaction() as tx:
            active = self.desk.policies.get(tx)
            request = self.desk.load(tx, request_id, for_update=True)
            if request.state is not RequestState.VERIFIED:
                if request.state is RequestState.AWAITING_IDENTITY or (
                    request.state is RequestState.RECEIVED
                ):
                    raise Conflict(
                        f"request {request_id} is {request.state.value}: identity must be "
                        "established before anything is done (Art. 12(6))"
                    )
                raise Conflict(f"request {request_id} is {request.state.value}: already started")
            if request.type is RequestType.WITHDRAW_CONSENT:
                withdrawing = self._withdraw(tx, active, request, actor)
            else:
                withdrawing = None
            if withdrawing is not None:
                pass
            elif request.type is RequestType.OBJECTION:
                return self._object(tx, active, request, actor)
            if withdrawing is None and request.type is RequestType.RESTRICTION:
                self.desk.rows(tx).insert_restriction(
                    str(uuid.uuid4()), request.subject_id, format_time(self.clock.now())
                )
            if withdrawing is None:
                request = self.desk.transition(
                    tx, active, request, "start", actor, "work started in the company's systems"
                )
                created = self._create_tasks(tx, active.policy, request)
        if withdrawing is not None:
            return self._finish_withdrawal(request_id, actor)
        if self.queue is not None and created:
            self.queue.enqueue_tasks(created)
        return request

    def _create_tasks(self, tx: EngineTx, policy: Policy, request: Request) -> list[str]:
        rows = self.desk.rows(tx)
        now = format_time(self.clock.now())
        connector_ids: list[str] = []
        whole = request.type in (RequestType.ACCESS, RequestType.PORTABILITY)
        connected = [s for s in policy.systems if s.connector is not ConnectorKind.MANUAL]
        targets = [ALL_SYSTEMS] if whole and connected else [s.id for s in connected]
        if request.type is RequestType.RECTIFICATION:
            wanted = {key.split(".", 1)[0] for key in request.details.get("changes", {})}
            targets = [t for t in targets if t in wanted]
            unknown = wanted - {s.id for s in policy.systems}
            if unknown:
                raise InvalidInput(
                    f"correction names unknown system(s): {', '.join(sorted(unknown))}"
                )
        for target in targets:
            task_id = str(uuid.uuid4())
            rows.insert_task(_task_row(task_id, request, target, TaskKind.CONNECTOR, now))
            connector_ids.append(task_id)
        for system in policy.systems:
            if system.connector is not ConnectorKind.MANUAL:
                continue
            if request.type is RequestType.RECTIFICATION and system.id not in {
                key.split(".", 1)[0] for key in request.details.get("changes", {})
            }:
                continue
            manual = system.manual
            row = _task_row(str(uuid.uuid4()), request, system.id, TaskKind.MANUAL, now)
            row |= {
                "instructions": _manual_instructions(request.type, manual.instructions)
                if manual
                else f"{request.type.value}: no instructions declared for {system.name}",
                "assignee": manual.assignee if manual else None,
                "due_date": request.effective_due_date,
            }
            rows.insert_task(row)
        return connector_ids

    def _withdraw(
        self, tx: EngineTx, active: ActivePolicy, request: Request, actor: str
    ) -> Request:
        """Record which purposes are withdrawn and move to in progress; the
        ledger writes the withdrawals right after (see :meth:`_finish_withdrawal`)."""
        wanted = request.details.get("purposes")
        purposes = wanted or [
            p.id for p in active.policy.purposes if any(b.value == "consent" for b in p.legal_bases)
        ]
        at = self.clock.now()
        given = [
            purpose_id
            for purpose_id in purposes
            if (record := tx.latest_consent(request.subject_id, purpose_id, at)) is not None
            and record.kind.value == "given"
        ]
        self.desk.set_details(tx, request, {"withdraw": given})
        request = self.desk.load(tx, request.id)
        return self.desk.transition(
            tx, active, request, "start", actor, "consent withdrawal applied at once (Art. 7(3))"
        )

    def _finish_withdrawal(self, request_id: str, actor: str) -> Request:
        """Withdraw, through the consent ledger, every purpose the request
        named that is still given, then complete the request. Safe to run
        again after a crash: purposes already withdrawn are skipped."""
        request = self.desk.get(request_id)
        identity = _request_identity(request)
        done: list[str] = []
        for purpose_id in request.details.get("withdraw", []):
            with self.store.reading() as tx:
                record = tx.latest_consent(request.subject_id, purpose_id, self.clock.now())
            if record is not None and record.kind.value == "given":
                self.ledger.withdraw(identity, purpose_id, channel=Channel.API, actor=actor)
            done.append(purpose_id)
        with self.store.transaction() as tx:
            active = self.desk.policies.get(tx)
            request = self.desk.load(tx, request_id, for_update=True)
            if request.state is not RequestState.IN_PROGRESS:
                return request
            request = self.desk.transition(
                tx,
                active,
                request,
                "complete",
                actor,
                f"consent withdrawn for {len(done)} purpose(s)",
                details={"purposes": done},
            )
            self.desk.notices.to_subject(tx, request, "completion", {"withdrawn": done})
            return request

    def _object(self, tx: EngineTx, active: ActivePolicy, request: Request, actor: str) -> Request:
        objection = self.desk.record_objection(tx, active, request, actor=actor)
        request = self.desk.load(tx, request.id)
        request = self.desk.transition(
            tx, active, request, "start", actor, f"objection recorded ({objection.scope.value})"
        )
        if objection.status.value == "upheld":
            request = self.desk.transition(
                tx,
                active,
                request,
                "complete",
                actor,
                "objection to direct marketing applied at once (Art. 21(3))",
            )
            self.desk.notices.to_subject(
                tx, request, "objection_decision", {"upheld": True, "grounds": "Art. 21(3)"}
            )
        return request

    # -- running -----------------------------------------------------------------------

    def run_task(self, task_id: str, *, actor: str, retry_transient: bool = False) -> Task:
        """Run one connector task if this caller wins the claim; then settle
        its request. A task already done (or held by a live lease) is left
        alone and returned as it is.

        With ``retry_transient`` (the queue's way), a failure that may pass
        (a system or the engine store unreachable) puts the task back to
        pending, up to :data:`MAX_ATTEMPTS` attempts, for the queue to retry
        later; otherwise it is recorded as failed and the request needs
        attention."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            rows = self.desk.rows(tx)
            row = rows.task(task_id)
            if row is None:
                raise NotFound("task", task_id)
            if row["kind"] != TaskKind.CONNECTOR.value:
                raise Conflict(f"task {task_id} is done by hand: confirm it instead")
            claimed = rows.claim_task(task_id, format_time(now), format_time(now + LEASE))
            request = self.desk.load(tx, row["request_id"])
            active = self.desk.policies.get(tx)
            identities = self.desk.directory.reveal(tx, request.subject_id) if claimed else []
        if not claimed:
            with self.store.reading() as tx:
                current = self.desk.rows(tx).task(task_id)
            assert current is not None
            return task_from_row(current)
        attempt = int(row["attempts"]) + 1
        transient = False
        try:
            outcome = self.runner.run(active.policy, request, row["system"], identities)
            state = TaskState.DONE if outcome.done else TaskState.NEEDS_ATTENTION
        except StewardError as error:
            transient = error.code in TRANSIENT_CODES
            outcome = TaskOutcome(False, {"error": error.code}, (error.message,))
            state = TaskState.FAILED
        except Exception as error:
            transient = True
            name = type(error).__name__
            outcome = TaskOutcome(False, {"error": name}, (f"unexpected {name}",))
            state = TaskState.FAILED
        if transient and retry_transient and attempt < MAX_ATTEMPTS:
            state = TaskState.PENDING
        finished = self.clock.now()
        with self.store.transaction() as tx:
            rows = self.desk.rows(tx)
            rows.update_task(
                task_id,
                {
                    "state": state.value,
                    "lease_until": None,
                    "result": json.dumps(outcome.result, sort_keys=True, default=str),
                    "last_error": "; ".join(outcome.reasons) or None,
                    "updated_at": format_time(finished),
                },
            )
            tx.audit(
                at=finished,
                actor=actor,
                action="task.run",
                object_type="request",
                object_id=request.id,
                reason=f"{request.type.value} in {row['system']}: {state.value}",
                policy_version=active.version,
                details={
                    "task": task_id,
                    "system": row["system"],
                    "state": state.value,
                    "attempt": attempt,
                    "result": outcome.result,
                    "reasons": list(outcome.reasons),
                },
            )
            if state is not TaskState.PENDING:
                self._settle(tx, request.id, actor)
            updated = rows.task(task_id)
        assert updated is not None
        return task_from_row(updated)

    def run_request(self, request_id: str, *, actor: str) -> Request:
        """Start the request if it is verified, then run every connector task
        that is not done (in this process), and settle it. Running it again
        after a crash resumes: done tasks are skipped."""
        request = self.desk.get(request_id)
        if request.state is RequestState.VERIFIED:
            request = self.start(request_id, actor=actor)
        if request.type is RequestType.WITHDRAW_CONSENT and (
            request.state is RequestState.IN_PROGRESS
        ):
            return self._finish_withdrawal(request_id, actor)
        if request.state in (RequestState.IN_PROGRESS, RequestState.NEEDS_ATTENTION):
            with self.store.transaction() as tx:
                rows = self.desk.rows(tx)
                for row in rows.tasks_of(request_id):
                    if row["kind"] == TaskKind.CONNECTOR.value and row["state"] in (
                        TaskState.FAILED.value,
                        TaskState.NEEDS_ATTENTION.value,
                    ):
                        rows.update_task(row["id"], {"state": TaskState.PENDING.value})
            for task in self.tasks(request_id):
                if task.kind is TaskKind.CONNECTOR and task.state is not TaskState.DONE:
                    self.run_task(task.id, actor=actor)
        elif request.state is not RequestState.COMPLETED:
            raise Conflict(f"request {request_id} is {request.state.value}: nothing to run")
        return self.desk.get(request_id)

    def tasks(self, request_id: str) -> list[Task]:
        with self.store.reading() as tx:
            return [task_from_row(r) for r in self.desk.rows(tx).tasks_of(request_id)]

    def pending_tasks(self) -> Iterator[str]:
        """Connector tasks waiting or with a lapsed lease (for re-enqueueing)."""
        with self.store.reading() as tx:
            for request in self.desk.rows(tx).list_requests(
                states=[RequestState.IN_PROGRESS.value, RequestState.NEEDS_ATTENTION.value],
                limit=100_000,
            ):
                for row in self.desk.rows(tx).tasks_of(request["id"]):
                    if row["kind"] == TaskKind.CONNECTOR.value and row["state"] in (
                        TaskState.PENDING.value,
                        TaskState.RUNNING.value,
                    ):
                        yield row["id"]

    def confirm_task(self, task_id: str, note: str, *, actor: str) -> Task:
        """Staff confirm a manual task, saying what they did."""
        if not note.strip():
            raise InvalidInput("say what was done (--note)")
        now = self.clock.now()
        with self.store.transaction() as tx:
            rows = self.desk.rows(tx)
            row = rows.task(task_id)
            if row is None:
                raise NotFound("task", task_id)
            if row["kind"] != TaskKind.MANUAL.value:
                raise Conflict(f"task {task_id} is run by the engine, not confirmed by hand")
            if row["state"] == TaskState.DONE.value:
                raise Conflict(f"task {task_id} was already confirmed by {row['confirmed_by']}")
            request = self.desk.load(tx, row["request_id"])
            if not request.open:
                raise Conflict(f"request {request.id} is {request.state.value}")
            rows.update_task(
                task_id,
                {
                    "state": TaskState.DONE.value,
                    "confirmed_by": actor,
                    "confirmed_at": format_time(now),
                    "result": json.dumps({"note": note.strip()}),
                    "updated_at": format_time(now),
                },
            )
            active = self.desk.policies.get(tx)
            tx.audit(
                at=now,
                actor=actor,
                action="task.confirmed",
                object_type="request",
                object_id=request.id,
                reason=note.strip(),
                policy_version=active.version,
                details={"task": task_id, "system": row["system"]},
            )
            self._settle(tx, request.id, actor)
            updated = rows.task(task_id)
        assert updated is not None
        return task_from_row(updated)

    def plan(self, request_id: str) -> dict[str, Any]:
        """What running the request would touch, with row counts; changes nothing."""
        with self.store.reading() as tx:
            active = self.desk.policies.get(tx)
            request = self.desk.load(tx, request_id)
            identities = self.desk.directory.reveal(tx, request.subject_id)
        if request.type in (RequestType.WITHDRAW_CONSENT, RequestType.OBJECTION):
            return {
                "request": request.id,
                "type": request.type.value,
                "systems": [],
                "note": "applied in the engine's consent ledger; no company system is touched",
            }
        return self.runner.plan(active.policy, request, identities)

    # -- lifting a restriction (Art. 18(3)) ------------------------------------------------

    def schedule_lift(self, request_id: str, *, on: date, reason: str, actor: str) -> Request:
        """Tell the person now that their restriction will be lifted on
        ``on`` (a later day): Art. 18(3) requires the notice *before* the
        lift. :meth:`apply_due_lifts` lifts it once the day has come."""
        if not reason.strip():
            raise InvalidInput("say why the restriction ends (--reason)")
        with self.store.transaction() as tx:
            active = self.desk.policies.get(tx)
            request = self.desk.load(tx, request_id, for_update=True)
            if request.type is not RequestType.RESTRICTION:
                raise Conflict(f"request {request_id} is not a restriction request")
            if request.state is not RequestState.COMPLETED:
                raise Conflict(
                    f"request {request_id} is {request.state.value}: only a restriction in "
                    "place can be lifted"
                )
            if "lifted_at" in request.details.get("lift", {}):
                raise Conflict(f"the restriction of request {request_id} was already lifted")
            today = self.clock.now().astimezone(zone(active.policy.controller.time_zone)).date()
            if on <= today:
                raise InvalidInput(
                    "the lift must be on a later day than today, so that the person is "
                    "told before it happens (Art. 18(3))"
                )
            lift = {"on": on.isoformat(), "reason": reason.strip(), "notified_at": _now(self)}
            self.desk.set_details(tx, request, {"lift": lift})
            request = self.desk.load(tx, request_id)
            self.desk.transition(
                tx,
                active,
                request,
                "note",
                actor,
                f"restriction to be lifted on {on}: {reason}",
                details={"lift_on": on.isoformat()},
            )
            self.desk.notices.to_subject(
                tx, request, "restriction_lift", {"lift_on": on.isoformat(), "reason": reason}
            )
            return self.desk.load(tx, request_id)

    def apply_due_lifts(self, *, actor: str) -> list[str]:
        """Lift every restriction whose announced day has come: the engine's
        record, then the flag columns in the systems. Returns request ids."""
        lifted: list[str] = []
        with self.store.reading() as tx:
            active = self.desk.policies.get(tx)
            today = self.clock.now().astimezone(zone(active.policy.controller.time_zone)).date()
            candidates = [
                r["id"]
                for r in self.desk.rows(tx).list_requests(
                    states=[RequestState.COMPLETED.value], limit=100_000
                )
                if r["type"] == RequestType.RESTRICTION.value
            ]
        for request_id in candidates:
            request = self.desk.get(request_id)
            lift = request.details.get("lift")
            if not lift or "lifted_at" in lift or date.fromisoformat(lift["on"]) > today:
                continue
            with self.store.reading() as tx:
                identities = self.desk.directory.reveal(tx, request.subject_id)
            outcome = self.runner.lift(active.policy, request, identities)
            with self.store.transaction() as tx:
                request = self.desk.load(tx, request_id, for_update=True)
                self.desk.rows(tx).lift_restriction(request.subject_id, _now(self))
                self.desk.set_details(tx, request, {"lift": {**lift, "lifted_at": _now(self)}})
                request = self.desk.load(tx, request_id)
                self.desk.transition(
                    tx,
                    active,
                    request,
                    "note",
                    actor,
                    "restriction lifted",
                    details={"result": outcome.result, "complete": outcome.done},
                )
            lifted.append(request_id)
        return lifted

    # -- settling ----------------------------------------------------------------------

    def _settle(self, tx: EngineTx, request_id: str, actor: str) -> None:
        request = self.desk.load(tx, request_id, for_update=True)
        if request.state not in (RequestState.IN_PROGRESS, RequestState.NEEDS_ATTENTION):
            return
        tasks = [task_from_row(r) for r in self.desk.rows(tx).tasks_of(request_id)]
        active = self.desk.policies.get(tx)
        troubled = [t for t in tasks if t.state in (TaskState.NEEDS_ATTENTION, TaskState.FAILED)]
        waiting = [t for t in tasks if t.state in (TaskState.PENDING, TaskState.RUNNING)]
        if troubled:
            reasons = "; ".join(f"{t.system}: {t.last_error or t.state.value}" for t in troubled)
            if request.state is not RequestState.NEEDS_ATTENTION:
                self.desk.transition(tx, active, request, "attention", actor, reasons)
            return
        if waiting:
            if request.state is RequestState.NEEDS_ATTENTION:
                self.desk.transition(tx, active, request, "start", actor, "retrying")
            return
        context: dict[str, Any] = {}
        package = next((t.result for t in tasks if "package_id" in t.result), None)
        if package is not None:
            context = {
                "package_id": package["package_id"],
                "expires_at": package.get("expires_at"),
            }
        done = self.desk.transition(
            tx,
            active,
            request,
            "complete",
            actor,
            f"every part done ({len(tasks)} task(s))",
            details={"tasks": len(tasks)},
        )
        self.desk.notices.to_subject(tx, done, "completion", context)
        if request.type in (
            RequestType.ERASURE,
            RequestType.RECTIFICATION,
            RequestType.RESTRICTION,
        ):
            told = self.desk.notices.to_recipients(
                tx, done, action=request.type.value, categories=None
            )
            tx.audit(
                at=self.clock.now(),
                actor=actor,
                action="request.recipients_notified",
                object_type="request",
                object_id=request.id,
                reason=f"Art. 19: {len(told)} recipient(s) told of the {request.type.value}",
                policy_version=active.version,
                details={"recipients": told},
            )


def _now(work: RequestWork) -> str:
    return format_time(work.clock.now())


def _task_row(
    task_id: str, request: Request, system: str, kind: TaskKind, now: str
) -> dict[str, Any]:
    return {
        "id": task_id,
        "request_id": request.id,
        "system": system,
        "kind": kind.value,
        "state": TaskState.PENDING.value,
        "assignee": None,
        "due_date": None,
        "instructions": None,
        "attempts": 0,
        "lease_until": None,
        "last_error": None,
        "result": None,
        "confirmed_by": None,
        "confirmed_at": None,
        "updated_at": now,
    }


def _manual_instructions(type_: RequestType, instructions: str) -> str:
    return f"{type_.value} ({type_.article}): {instructions}"


def _request_identity(request: Request) -> Identity:
    data = request.details.get("identity")
    if not isinstance(data, dict):
        raise Conflict(f"request {request.id}: the requester's identity is no longer readable")
    return Identity(str(data["kind"]), str(data["value"]))
