"""The request workflow on a real engine store (SQLite, and PostgreSQL when
configured): intake, identity, deadlines, staff decisions, tasks and the
truthful settling of a request. Notices are recorded by the shipped fake;
the outbox and SMTP path has its own tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tests.integration.conftest import MINIMAL, Steward

from datasteward.errors import Conflict, InvalidInput, NotFound
from datasteward.identity import Identity
from datasteward.legaltime import IsoDuration
from datasteward.policy.model import Policy
from datasteward.requests.fakes import RecordingNotices, RecordingQueue
from datasteward.requests.model import (
    RefusalGround,
    Request,
    RequestState,
    RequestType,
    TaskKind,
    TaskState,
)
from datasteward.requests.service import RequestDesk, VerificationFailed
from datasteward.requests.verification import CodeCheck
from datasteward.requests.work import RequestWork, TaskOutcome
from datasteward.store.request_store import SqlRequestRows

ANA = "email:ana.ozola@example.com"
STAFF = "test:staff"

MANUAL_SYSTEM = """
  - id: courier
    name: Courier portal
    connector: manual
    manual:
      instructions: Search the parcel list by email and delete the consignee entries.
      assignee: logistics team
"""

RIGHTS = """
rights:
  repeat_window: P6M
"""


@dataclass
class ScriptedRunner:
    """A task runner whose outcomes the test decides, per system."""

    outcomes: dict[str, list[TaskOutcome]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def run(
        self, policy: Policy, request: Request, system: str, identities: Sequence[Identity]
    ) -> TaskOutcome:
        self.calls.append((request.id, system))
        assert identities, "the runner gets the subject's identities"
        queue = self.outcomes.get(system)
        if queue:
            return queue.pop(0)
        return TaskOutcome(True, {"rows": 3})

    def plan(
        self, policy: Policy, request: Request, identities: Sequence[Identity]
    ) -> dict[str, Any]:
        return {"request": request.id, "systems": [s.id for s in policy.systems]}

    def close(self) -> None:
        self.calls.append(("", "closed"))


@dataclass
class Desk:
    steward: Steward
    desk: RequestDesk
    work: RequestWork
    notices: RecordingNotices
    runner: ScriptedRunner
    queue: RecordingQueue

    def submit(self, type_: RequestType = RequestType.ACCESS, **kwargs: Any) -> Request:
        who = kwargs.pop("who", ANA)
        return self.desk.submit(type_, self.steward.identity(who), actor=STAFF, **kwargs)

    def code_of(self, request_id: str) -> str:
        return str(self.notices.last(request_id, "verification_code").context["code"])

    def verified(self, type_: RequestType = RequestType.ACCESS, **kwargs: Any) -> Request:
        request = self.submit(type_, **kwargs)
        return self.desk.verify(request.id, self.code_of(request.id), actor="web:person")


def make_desk(steward: Steward) -> Desk:
    notices = RecordingNotices(recipient_ids=("courier-co",))
    desk = RequestDesk(
        steward.store,
        lambda tx: SqlRequestRows(tx.connection),  # type: ignore[attr-defined]
        steward.directory,
        steward.keyring,
        notices,
        steward.clock,
    )
    runner = ScriptedRunner()
    queue = RecordingQueue()
    work = RequestWork(desk, runner, steward.ledger, steward.clock, queue=queue)
    return Desk(steward, desk, work, notices, runner, queue)


@pytest.fixture
def d(steward: Steward) -> Desk:
    return make_desk(steward)


def test_access_request_from_intake_to_verified(d: Desk) -> None:
    request = d.submit()
    assert request.state is RequestState.AWAITING_IDENTITY
    assert request.received_at == d.steward.clock.now()
    assert request.due_date == date(2026, 4, 2)  # received 2 March in Riga
    assert d.notices.kinds(request.id) == ["acknowledgment", "verification_code"]
    assert d.notices.last(request.id, "acknowledgment").context["due_date"] == "2026-04-02"
    code = d.code_of(request.id)
    with pytest.raises(VerificationFailed) as wrong:
        d.desk.verify(request.id, "000000" if code != "000000" else "111111", actor="web")
    assert wrong.value.outcome is CodeCheck.WRONG and wrong.value.attempts_left == 4
    verified = d.desk.verify(request.id, code, actor="web:person")
    assert verified.state is RequestState.VERIFIED
    assert verified.verified_at == d.steward.clock.now()
    with pytest.raises(Conflict):  # a used code, and a state that cannot verify again
        d.desk.verify(request.id, code, actor="web:person")
    view = d.desk.show(request.id)
    assert [e.action for e in view.history] == ["submit", "ask_identity", "verify"]


def test_wrong_codes_lock_after_five_attempts_and_a_new_code_works(d: Desk) -> None:
    request = d.submit()
    code = d.code_of(request.id)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(VerificationFailed) as caught:
            d.desk.verify(request.id, wrong, actor="web")
        assert caught.value.attempts_left == left
    with pytest.raises(VerificationFailed, match="locked"):
        d.desk.verify(request.id, wrong, actor="web")
    with pytest.raises(VerificationFailed) as locked:
        d.desk.verify(request.id, code, actor="web")  # even the right code, once locked
    assert locked.value.outcome is CodeCheck.LOCKED
    assert "verification_locked" in d.desk.get(request.id).flags
    d.desk.resend_code(request.id, actor=STAFF)
    fresh = d.code_of(request.id)
    assert d.desk.verify(request.id, fresh, actor="web").state is RequestState.VERIFIED


def test_codes_expire_after_fifteen_minutes(d: Desk) -> None:
    request = d.submit()
    d.steward.clock.advance(timedelta(minutes=15))
    with pytest.raises(VerificationFailed) as caught:
        d.desk.verify(request.id, d.code_of(request.id), actor="web")
    assert caught.value.outcome is CodeCheck.EXPIRED


def test_unknown_and_known_addresses_get_the_same_treatment(d: Desk) -> None:
    d.steward.give(ANA)
    known = d.submit()
    unknown = d.submit(who="email:nobody.here@example.com")
    assert known.state is unknown.state is RequestState.AWAITING_IDENTITY
    assert d.notices.kinds(known.id) == d.notices.kinds(unknown.id)


def test_paper_request_gets_its_real_receipt_date_and_month_end_deadline(d: Desk) -> None:
    received = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    request = d.submit(received_at=received, channel="post")
    assert request.due_date == date(2026, 2, 28)
    assert request.to_dict()["received_at"] == "2026-01-31"


def test_bad_input_changes_nothing(d: Desk) -> None:
    before = d.steward.counts()
    with pytest.raises(InvalidInput, match="future"):
        d.submit(received_at=d.steward.clock.now() + timedelta(days=1))
    with pytest.raises(InvalidInput, match="corrections"):
        d.submit(RequestType.RECTIFICATION)
    with pytest.raises(InvalidInput, match="no such declared field"):
        d.submit(RequestType.RECTIFICATION, details={"changes": {"shopdb.customers.nme": "X"}})
    with pytest.raises(InvalidInput, match="legitimate interest"):
        d.submit(RequestType.OBJECTION, details={"purpose": "orders"})
    assert d.steward.counts() == before
    with pytest.raises(NotFound):
        d.desk.get("not-a-request")


def test_extension_rules(d: Desk) -> None:
    request = d.verified(received_at=datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    # received 31 January, due 28 February; today (2 March) is past it
    with pytest.raises(Conflict, match="within the first period"):
        d.desk.extend(request.id, "many systems", actor=STAFF)
    fresh = d.verified()
    with pytest.raises(InvalidInput, match="reasons"):
        d.desk.extend(fresh.id, "  ", actor=STAFF)
    extended = d.desk.extend(fresh.id, "complex: eleven systems", actor=STAFF)
    assert extended.extended_due_date == date(2026, 6, 2)
    assert extended.state is RequestState.VERIFIED and extended.extended
    notice = d.notices.last(fresh.id, "extension")
    assert notice.context == {"reasons": "complex: eleven systems", "new_due_date": "2026-06-02"}
    with pytest.raises(Conflict, match="already extended"):
        d.desk.extend(fresh.id, "again", actor=STAFF)


def test_refusal_needs_a_ground_and_reasons_and_closes_the_request(d: Desk) -> None:
    request = d.verified()
    with pytest.raises(InvalidInput):
        d.desk.refuse(request.id, RefusalGround.EXCESSIVE, "", actor=STAFF)
    refused = d.desk.refuse(
        request.id, RefusalGround.EXCESSIVE, "fourth identical request this month", actor=STAFF
    )
    assert refused.state is RequestState.REFUSED and refused.closed_at is not None
    assert d.notices.last(request.id, "refusal").context["ground"] == "excessive"
    with pytest.raises(Conflict, match="closed"):
        d.desk.cancel(request.id, "", actor=STAFF)


def test_fee_is_recorded_with_its_basis(d: Desk) -> None:
    request = d.verified()
    with pytest.raises(InvalidInput):
        d.desk.charge_fee(request.id, "-5", "EUR", "copies", actor=STAFF)
    charged = d.desk.charge_fee(request.id, "15.00", "eur", "third copy in a month", actor=STAFF)
    assert "fee_charged" in charged.flags
    assert charged.details["fee"] == {
        "amount": "15.00",
        "currency": "EUR",
        "basis": "third copy in a month",
    }


def test_repeated_requests_are_flagged_never_refused(steward: Steward) -> None:
    steward.apply(MINIMAL.read_text(encoding="utf-8") + RIGHTS)
    d = make_desk(steward)
    first = d.submit()
    second = d.submit()
    other_type = d.submit(RequestType.ERASURE)
    assert "possibly_excessive" not in first.flags
    assert "possibly_excessive" in second.flags
    assert second.state is RequestState.AWAITING_IDENTITY
    assert "possibly_excessive" not in other_type.flags


def test_withdrawal_of_consent_is_applied_at_once(d: Desk) -> None:
    d.steward.give(ANA, "newsletter")
    assert d.steward.ledger.check(d.steward.identity(ANA), "newsletter").allowed
    request = d.submit(RequestType.WITHDRAW_CONSENT, channel="web")
    assert request.state is RequestState.VERIFIED  # no identity check for a withdrawal
    done = d.work.start(request.id, actor=STAFF)
    assert done.state is RequestState.COMPLETED
    assert not d.steward.ledger.check(d.steward.identity(ANA), "newsletter").allowed
    assert d.queue.enqueued == []


def test_objection_to_direct_marketing_needs_no_review(d: Desk) -> None:
    d.steward.give(ANA, "newsletter")
    request = d.submit(RequestType.OBJECTION, details={"scope": "direct_marketing"})
    done = d.work.start(request.id, actor=STAFF)
    assert done.state is RequestState.COMPLETED
    decision = d.steward.ledger.check(d.steward.identity(ANA), "newsletter")
    assert not decision.allowed
    assert "objection" in decision.reason.lower() or "21" in decision.reason


def test_erasure_runs_per_system_and_completes_truthfully(d: Desk) -> None:
    request = d.verified(RequestType.ERASURE)
    with pytest.raises(Conflict, match="identity"):
        d.work.start(d.submit(RequestType.ERASURE).id, actor=STAFF)
    started = d.work.start(request.id, actor=STAFF)
    assert started.state is RequestState.IN_PROGRESS
    tasks = d.work.tasks(request.id)
    assert [(t.system, t.kind) for t in tasks] == [("shopdb", TaskKind.CONNECTOR)]
    assert d.queue.enqueued == [tasks[0].id]
    d.runner.outcomes["shopdb"] = [
        TaskOutcome(False, {"refused": 1}, ("shopdb.customers.email: 1 value could not",))
    ]
    task = d.work.run_task(tasks[0].id, actor="worker")
    assert task.state is TaskState.NEEDS_ATTENTION
    stuck = d.desk.get(request.id)
    assert stuck.state is RequestState.NEEDS_ATTENTION
    assert "completion" not in d.notices.kinds(request.id)
    again = d.work.run_request(request.id, actor=STAFF)
    assert again.state is RequestState.COMPLETED
    assert d.notices.kinds(request.id)[-1] == "completion"
    assert d.notices.recipients == [(request.id, "erasure:courier-co")]
    assert len(d.runner.calls) == 2


def test_a_task_is_claimed_once(d: Desk) -> None:
    request = d.verified(RequestType.ERASURE)
    d.work.start(request.id, actor=STAFF)
    task = d.work.tasks(request.id)[0]
    now = "2026-03-02T09:30:00.000000Z"
    later = "2026-03-02T09:40:00.000000Z"
    with d.steward.store.transaction() as tx:
        rows = SqlRequestRows(tx.connection)
        assert rows.claim_task(task.id, now, later)
        assert not rows.claim_task(task.id, now, later)
    # a lapsed lease can be claimed again (a worker died)
    with d.steward.store.transaction() as tx:
        rows = SqlRequestRows(tx.connection)
        assert rows.claim_task(task.id, "2026-03-02T09:41:00.000000Z", "2026-03-02T09:51:00Z")


def test_manual_systems_wait_for_staff_confirmation(steward: Steward) -> None:
    steward.apply(MINIMAL.read_text(encoding="utf-8") + MANUAL_SYSTEM)
    d = make_desk(steward)
    request = d.verified(RequestType.ERASURE)
    d.work.run_request(request.id, actor=STAFF)
    waiting = d.desk.show(request.id)
    assert waiting.request.state is RequestState.IN_PROGRESS
    manual = [t for t in waiting.tasks if t.kind is TaskKind.MANUAL]
    assert len(manual) == 1 and manual[0].assignee == "logistics team"
    assert manual[0].due_date == request.due_date
    assert "parcel list" in (manual[0].instructions or "")
    with pytest.raises(InvalidInput):
        d.work.confirm_task(manual[0].id, " ", actor=STAFF)
    confirmed = d.work.confirm_task(manual[0].id, "deleted 2 consignee entries", actor="jana")
    assert confirmed.confirmed_by == "jana" and confirmed.state is TaskState.DONE
    assert d.desk.get(request.id).state is RequestState.COMPLETED
    with pytest.raises(Conflict):
        d.work.confirm_task(manual[0].id, "again", actor="jana")


def test_due_lists_overdue_and_upcoming(d: Desk) -> None:
    late = d.submit(received_at=datetime(2026, 1, 20, 9, 0, tzinfo=UTC))
    soon = d.submit(received_at=datetime(2026, 2, 5, 9, 0, tzinfo=UTC))
    later = d.submit()
    today, found = d.desk.due(IsoDuration.parse("P7D"))
    assert today == date(2026, 3, 2)
    ids = [r.id for r in found]
    assert ids == [late.id, soon.id]
    assert later.id not in ids
    d.desk.cancel(late.id, "duplicate", actor=STAFF)
    assert [r.id for r in d.desk.due(IsoDuration.parse("P7D"))[1]] == [soon.id]


def test_every_transition_is_audited(d: Desk) -> None:
    request = d.verified()
    with d.steward.store.reading() as tx:
        entries = tx.audit_entries(object_type="request", object_id=request.id, limit=50)
    actions = sorted(e.action for e in entries)
    assert actions == ["request.ask_identity", "request.received", "request.verify"]
    for entry in entries:
        assert "ana" not in str(entry.details).lower()  # no personal data in the log


def test_details_are_unreadable_once_the_subject_is_shredded(d: Desk) -> None:
    request = d.submit(
        RequestType.RECTIFICATION, details={"changes": {"shopdb.customers.full_name": "Ana O."}}
    )
    with d.steward.store.transaction() as tx:
        d.steward.directory.shred(tx, request.subject_id, actor=STAFF, reason="test")
    assert d.desk.get(request.id).details == {"shredded": True}


LEGITIMATE_INTEREST = """  - id: fraud_checks
    name: Checking orders for fraud
    legal_bases: [legitimate_interest]
    legitimate_interest: Preventing card fraud on orders.
processing_activities:"""


@pytest.mark.parametrize("uphold", [True, False])
def test_objection_on_legitimate_interest_is_decided_by_staff(
    steward: Steward, uphold: bool
) -> None:
    from tests.integration.conftest import policy_variant

    steward.apply(policy_variant(("processing_activities:", LEGITIMATE_INTEREST)))
    d = make_desk(steward)
    request = d.verified(RequestType.OBJECTION, details={"purpose": "fraud_checks"})
    waiting = d.work.start(request.id, actor=STAFF)
    assert waiting.state is RequestState.IN_PROGRESS  # reviewed, not applied at once
    with steward.store.reading() as tx:
        (pending,) = tx.objections_of(request.subject_id)
    assert pending.status.value == "pending" and pending.purpose_id == "fraud_checks"
    if not uphold:
        with pytest.raises(InvalidInput, match="compelling"):
            d.desk.decide_objection(request.id, uphold=False, grounds="", actor=STAFF)
    decided = d.desk.decide_objection(
        request.id,
        uphold=uphold,
        grounds="" if uphold else "ongoing fraud investigation on this account",
        actor=STAFF,
    )
    assert decided.state is RequestState.COMPLETED
    with steward.store.reading() as tx:
        (final,) = tx.objections_of(request.subject_id)
    assert final.status.value == ("upheld" if uphold else "rejected")
    assert d.notices.last(request.id, "objection_decision").context["upheld"] is uphold
    decision = steward.ledger.check(steward.identity(ANA), "fraud_checks")
    assert decision.allowed is (not uphold)
