"""The outbox service on a real engine store (SQLite, and PostgreSQL when
configured): queued with the caller's transaction, encrypted, delivered with
backoff, dead when it must be, confirmed by hand, listed without personal
data, and audited without it."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from tests.integration.conftest import START, Steward

from datasteward.errors import Conflict, DecryptionFailed, InvalidInput, NotFound, UsageError
from datasteward.legaltime.instants import format_time, parse_time
from datasteward.notify import messages
from datasteward.notify.art19 import recipients_to_notify
from datasteward.notify.fake import RecordingSender
from datasteward.notify.messages import Channel, Message, MessageKind
from datasteward.notify.outbox import Outbox, RetryPolicy
from datasteward.policy.loader import parse_policy
from datasteward.policy.model import Policy
from datasteward.store.tables import audit_events, outbox

ANA = "anna.liepina@example.lv"
CODE = "739 204"


@pytest.fixture
def policy(steward: Steward) -> Policy:
    from tests.integration.conftest import MINIMAL

    return parse_policy(MINIMAL.read_text(encoding="utf-8"), str(MINIMAL)).policy


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def box(steward: Steward, sender: RecordingSender) -> Outbox:
    return Outbox(
        steward.store,
        steward.keyring,
        steward.clock,
        {"email": sender, "webhook": sender},
    )


def code_message(policy: Policy, to: str = ANA) -> Message:
    return messages.verification_code(
        policy, to=to, request_id="req-1", code=CODE, expires_at=START + timedelta(hours=1)
    )


def queue(steward: Steward, box: Outbox, message: Message, **ids: str) -> str:
    with steward.store.transaction() as tx:
        return box.add(tx, message, **ids)


def row(steward: Steward, message_id: str) -> dict[str, object]:
    with steward.engine.connect() as connection:
        found = connection.execute(select(outbox).where(outbox.c.id == message_id)).one()
    return dict(found._mapping)


def audit_rows(steward: Steward) -> list[dict[str, object]]:
    with steward.engine.connect() as connection:
        result = connection.execute(
            select(audit_events)
            .where(audit_events.c.object_type == "outbox")
            .order_by(audit_events.c.seq)
        )
        return [dict(r._mapping) for r in result]


# -- queueing ------------------------------------------------------------------


def test_message_commits_with_the_callers_transaction(
    steward: Steward, box: Outbox, policy: Policy
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), steward.store.transaction() as tx:
        box.add(tx, code_message(policy), request_id="req-1")
        raise Boom
    assert steward.count("outbox") == 0

    message_id = queue(steward, box, code_message(policy), request_id="req-1", subject_id="s-1")
    stored = row(steward, message_id)
    assert stored["status"] == "pending"
    assert stored["attempts"] == 0
    assert stored["channel"] == "email"
    assert stored["template"] == "verification_code"
    assert (stored["request_id"], stored["subject_id"]) == ("req-1", "s-1")
    assert stored["next_attempt_at"] == stored["created_at"] == format_time(START)


def test_payload_is_encrypted_and_bound_to_its_row(
    steward: Steward, box: Outbox, policy: Policy
) -> None:
    first = queue(steward, box, code_message(policy))
    second = queue(steward, box, code_message(policy, "otto.kalnins@example.lv"))
    payload = bytes(row(steward, first)["payload_enc"])  # type: ignore[call-overload]
    for secret in (ANA.encode(), CODE.encode(), b"verification"):
        assert secret not in payload
    # the ciphertext of one row does not open as another's
    with steward.engine.begin() as connection:
        connection.execute(update(outbox).where(outbox.c.id == second).values(payload_enc=payload))
    with pytest.raises(DecryptionFailed):
        steward.keyring.decrypt(payload, aad=f"outbox:{second}".encode())
    box.deliver_due()
    assert row(steward, second)["status"] == "dead"
    assert row(steward, second)["last_error"] == "the stored message cannot be decrypted"
    assert row(steward, first)["status"] == "sent"


def test_template_errors_leave_nothing_behind(steward: Steward, box: Outbox) -> None:
    broken = Message(Channel.EMAIL, MessageKind.REFUSAL, ANA, {"controller": {}})
    with (
        pytest.raises(InvalidInput, match=r"refusal message cannot be rendered: .* 'name'"),
        steward.store.transaction() as tx,
    ):
        box.add(tx, broken)
    assert steward.count("outbox") == 0


# -- delivery --------------------------------------------------------------------


def test_delivery_hands_the_rendered_message_to_its_sender(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    message_id = queue(steward, box, code_message(policy), request_id="req-1")
    report = box.deliver_due()
    assert (report.sent, report.retrying, report.dead) == (1, 0, 0)
    assert [r.id for r in report.results] == [message_id]
    (delivery,) = sender.delivered
    assert delivery.id == message_id
    assert delivery.to == ANA
    assert CODE in delivery.text and CODE in delivery.html
    assert "verification code" in delivery.subject
    assert delivery.body is None
    stored = row(steward, message_id)
    assert stored["status"] == "sent"
    assert stored["sent_at"] == format_time(START)
    assert stored["attempts"] == 1
    # nothing more to send: a second run sends nothing again
    assert box.deliver_due().results == ()
    assert sender.ids() == [message_id]


def test_transient_failures_back_off_then_deliver(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    message_id = queue(steward, box, code_message(policy))
    sender.fail_next("SMTP server unreachable (ConnectionRefusedError)")
    sender.fail_next("SMTP 451 4.3.0")
    report = box.deliver_due()
    assert report.retrying == 1
    assert report.results[0].next_attempt_at == START + timedelta(minutes=1)
    stored = row(steward, message_id)
    assert stored["status"] == "pending"
    assert stored["attempts"] == 1
    assert stored["last_error"] == "SMTP server unreachable (ConnectionRefusedError)"
    assert stored["next_attempt_at"] == format_time(START + timedelta(minutes=1))

    assert box.deliver_due().results == ()  # not due yet
    steward.clock.advance(timedelta(minutes=1))
    report = box.deliver_due()
    assert report.retrying == 1
    assert row(steward, message_id)["next_attempt_at"] == format_time(
        START + timedelta(minutes=1 + 2)
    )
    steward.clock.advance(timedelta(minutes=2))
    assert box.deliver_due().sent == 1
    stored = row(steward, message_id)
    assert (stored["status"], stored["attempts"]) == ("sent", 3)
    assert sender.ids() == [message_id]
    actions = [a["action"] for a in audit_rows(steward)]
    assert actions == ["outbox.retrying", "outbox.retrying", "outbox.sent"]


def test_attempts_used_up_make_the_message_dead(
    steward: Steward, sender: RecordingSender, policy: Policy
) -> None:
    box = Outbox(
        steward.store,
        steward.keyring,
        steward.clock,
        {"email": sender},
        retry=RetryPolicy(max_attempts=3),
    )
    message_id = queue(steward, box, code_message(policy))
    for _ in range(3):
        sender.fail_next("SMTP 421")
    outcomes = []
    for _ in range(3):
        outcomes += [r.outcome for r in box.deliver_due().results]
        steward.clock.advance(timedelta(hours=6))
    assert outcomes == ["retrying", "retrying", "dead"]
    stored = row(steward, message_id)
    assert stored["status"] == "dead"
    assert stored["last_error"] == "SMTP 421 (gave up after 3 attempts)"
    assert box.deliver_due().results == ()
    assert box.entries(status="dead")[0].id == message_id


def test_permanent_failure_is_dead_at_once_and_can_be_retried(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    message_id = queue(steward, box, code_message(policy))
    sender.fail_next("SMTP 550 5.1.1: recipient refused", transient=False)
    report = box.deliver_due()
    assert report.dead == 1 and report.results[0].error == "SMTP 550 5.1.1: recipient refused"
    with pytest.raises(Conflict, match="only manual"):
        box.confirm(message_id, "test:dpo")
    entry = box.retry(message_id, "test:dpo")
    assert (entry.status, entry.attempts) == ("pending", 0)
    with pytest.raises(Conflict, match="only dead"):
        box.retry(message_id, "test:dpo")
    assert box.deliver_due().sent == 1
    assert sender.ids() == [message_id]


def test_a_sender_crash_is_a_transient_failure(
    steward: Steward, policy: Policy, sender: RecordingSender
) -> None:
    class Broken:
        def send(self, delivery: object) -> None:
            raise RuntimeError("bug")

    box = Outbox(
        steward.store, steward.keyring, steward.clock, {"email": Broken(), "webhook": sender}
    )
    failing = queue(steward, box, code_message(policy))
    notice = recipients_to_notify(
        webhook_policy(), categories=["email"], action="erasure", identities={"email": ANA}
    )[0]
    hook = queue(steward, box, notice.message)
    report = box.deliver_due()
    assert {r.id: r.outcome for r in report.results} == {failing: "retrying", hook: "sent"}
    assert row(steward, failing)["last_error"] == "sender error (RuntimeError)"


def test_channels_without_a_sender_wait_and_are_reported(
    steward: Steward, sender: RecordingSender, policy: Policy
) -> None:
    box = Outbox(steward.store, steward.keyring, steward.clock, {"webhook": sender})
    message_id = queue(steward, box, code_message(policy))
    report = box.deliver_due()
    assert report.results == ()
    assert report.waiting_without_sender == {"email": 1}
    assert row(steward, message_id)["status"] == "pending"
    assert box.pending_count() == 1


def test_an_abandoned_claim_is_taken_over_after_its_lease(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    message_id = queue(steward, box, code_message(policy))
    with steward.store.transaction() as tx:
        from datasteward.store.outbox_store import outbox_rows

        claimed = outbox_rows(tx).claim_due(
            now=START, lease_until=START + timedelta(minutes=10), channels=["email"]
        )
    assert claimed is not None and claimed.attempts == 1
    # the worker that claimed it died: before the lease ends nobody sends it
    assert box.deliver_due().results == ()
    assert row(steward, message_id)["status"] == "sending"
    steward.clock.advance(timedelta(minutes=10))
    assert box.deliver_due().sent == 1
    assert row(steward, message_id)["attempts"] == 2
    # the first worker comes back: its lease is gone, so it records nothing
    with steward.store.transaction() as tx:
        from datasteward.notify.ports import OutboxStatus
        from datasteward.store.outbox_store import outbox_rows

        kept = outbox_rows(tx).release(
            message_id,
            lease=claimed.next_attempt_at,
            status=OutboxStatus.DEAD,
            next_attempt_at=START,
            last_error="late",
            sent_at=None,
        )
    assert kept is False
    assert row(steward, message_id)["status"] == "sent"


def test_limit_bounds_one_run(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    ids = [queue(steward, box, code_message(policy)) for _ in range(5)]
    assert box.deliver_due(limit=2).sent == 2
    assert box.pending_count() == 3
    assert box.deliver_due(limit=10).sent == 3
    assert sorted(sender.ids()) == sorted(ids)
    with pytest.raises(UsageError):
        box.deliver_due(limit=-1)


# -- manual messages --------------------------------------------------------------


def test_manual_messages_wait_for_confirmation(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    notices = recipients_to_notify(
        _with_recipients(policy), categories=None, action="restriction", identities={"email": ANA}
    )
    with steward.store.transaction() as tx:
        ids = box.add_notices(tx, notices, subject_id="s-1", request_id="req-1")
    assert len(ids) == 1
    (message_id,) = ids
    assert box.deliver_due().results == ()
    assert sender.attempts == []
    (entry,) = box.entries(status="manual")
    assert (entry.id, entry.to, entry.recipient_id) == (message_id, "staff", "mailhouse")
    assert entry.next_attempt_at is None

    shown = box.show(message_id, "test:dpo")
    assert "no notification channel is declared" in shown.text
    assert ANA in shown.text and shown.confirmation is None

    confirmed = box.confirm(message_id, "test:dpo", note="Phoned Ilze Ozola at the mail house")
    assert confirmed.status == "confirmed"
    assert confirmed.sent_at == START
    with pytest.raises(Conflict):
        box.confirm(message_id, "test:dpo")
    shown = box.show(message_id, "test:dpo")
    assert shown.confirmation == {
        "by": "test:dpo",
        "at": format_time(START),
        "note": "Phoned Ilze Ozola at the mail house",
    }
    # the note stays encrypted: not in the row, not in the audit log
    everything = json.dumps(audit_rows(steward), default=str) + repr(row(steward, message_id))
    assert "Ilze" not in everything
    with pytest.raises(NotFound, match="unknown outbox message 'nope'"):
        box.confirm("nope", "test:dpo")


def _with_recipients(policy: Policy) -> Policy:
    text = policy.model_dump(mode="json", exclude_none=True)
    text["recipients"] = [{"id": "mailhouse", "name": "SIA Pasta Nams", "role": "processor"}]
    text["processing_activities"][1]["recipients"] = ["mailhouse"]
    return Policy.model_validate(text)


def webhook_policy() -> Policy:
    from tests.integration.conftest import MINIMAL

    text = parse_policy(MINIMAL.read_text(encoding="utf-8"), "p.yaml").policy
    data = text.model_dump(mode="json", exclude_none=True)
    data["recipients"] = [
        {
            "id": "crm",
            "name": "SIA Klientu Serviss",
            "role": "processor",
            "notify": {"kind": "webhook", "url_env": "CRM_WEBHOOK_URL"},
        }
    ]
    data["processing_activities"][0]["recipients"] = ["crm"]
    return Policy.model_validate(data)


# -- listing and audit --------------------------------------------------------------


def test_listing_masks_addresses_and_filters(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    first = queue(steward, box, code_message(policy), request_id="req-1")
    steward.clock.advance(timedelta(seconds=1))
    ack = messages.acknowledgment(
        policy, to=ANA, request_id="req-2", request_type="access", due_date=date(2026, 4, 2)
    )
    second = queue(steward, box, ack, request_id="req-2")
    steward.clock.advance(timedelta(seconds=1))
    notice = recipients_to_notify(
        webhook_policy(), categories=["email"], action="erasure", identities={"email": ANA}
    )[0]
    third = queue(steward, box, notice.message, request_id="req-2", recipient_id="crm")

    entries = box.entries()
    assert [e.id for e in entries] == [third, second, first]  # newest first
    assert [e.to for e in entries] == ["$CRM_WEBHOOK_URL", "a***@example.lv", "a***@example.lv"]
    assert [e.id for e in box.entries(request_id="req-2")] == [third, second]
    assert box.entries(status="sent") == []
    with pytest.raises(UsageError, match="unknown outbox status 'lost'"):
        box.entries(status="lost")
    assert box.counts()["pending"] == 3 and box.pending_count() == 3
    assert ANA not in json.dumps([e.to_dict() for e in entries])

    box.deliver_due()
    assert box.counts() == {
        "pending": 0,
        "sending": 0,
        "sent": 3,
        "dead": 0,
        "manual": 0,
        "confirmed": 0,
    }
    events = audit_rows(steward)
    assert [e["action"] for e in events] == ["outbox.sent"] * 3
    assert {e["object_id"] for e in events} == {first, second, third}
    details = json.loads(str(events[-1]["details"]))
    assert details["channel"] in {"email", "webhook"}
    dumped = json.dumps(events, default=str)
    assert ANA not in dumped and CODE not in dumped


def test_prune_removes_old_finished_messages_only(
    steward: Steward, box: Outbox, sender: RecordingSender, policy: Policy
) -> None:
    sent = queue(steward, box, code_message(policy))
    steward.clock.advance(timedelta(seconds=1))
    dead = queue(steward, box, code_message(policy))
    box.deliver_due(limit=1)  # the oldest first
    sender.fail_next("no", transient=False)
    box.deliver_due()
    waiting = queue(steward, box, code_message(policy))
    assert row(steward, dead)["status"] == "dead"
    assert box.prune(timedelta(days=30)) == 0
    steward.clock.advance(timedelta(days=31))
    assert box.prune(timedelta(days=30)) == 1
    assert {e.id for e in box.entries()} == {dead, waiting}
    assert sent not in {e.id for e in box.entries()}
    assert parse_time(str(row(steward, waiting)["created_at"])) == START + timedelta(seconds=1)
