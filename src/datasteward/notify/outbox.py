"""The outbox: every message the engine sends goes through one table, so
nothing is lost while an SMTP server or a recipient's endpoint is down.

``add`` writes the rendered, encrypted message inside the caller's engine
transaction: a request's state change and the message about it commit (or
roll back) together. ``deliver_due`` later claims due rows one at a time
(see ``notify.ports`` for the states), sends each outside any transaction,
and records the outcome; failures are retried with exponential backoff until
the attempts are used up, then the message is ``dead`` and stays visible.
Manual messages wait in ``manual`` until staff confirm them.

Delivery is at least once: a worker that dies after sending but before
recording leaves a row whose lease runs out and is sent again. Each message
carries its outbox id (``Message-ID``, ``X-Steward-Delivery``) so the
receiving side can recognise the repeat.

Payloads (addresses, codes, links: personal data) are encrypted with the
engine keyring, bound to the row id. Listings, audit events and stored
errors hold no personal data: addresses are masked, errors are status codes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from datasteward.clock import Clock
from datasteward.crypto import Keyring
from datasteward.errors import Conflict, CryptoError, DecryptionFailed, NotFound, UsageError
from datasteward.identity.masking import mask
from datasteward.legaltime.instants import format_time
from datasteward.notify.art19 import MANUAL_TO, RecipientNotice
from datasteward.notify.messages import Channel, Message
from datasteward.notify.ports import OutboxRow, OutboxRows, OutboxRowsFactory, OutboxStatus
from datasteward.notify.render import render
from datasteward.notify.senders import Delivery, DeliveryFailed, Senders
from datasteward.ports import EngineStore, EngineTx

__all__ = [
    "DEFAULT_ACTOR",
    "DeliveryReport",
    "DeliveryResult",
    "Outbox",
    "OutboxEntry",
    "OutboxMessage",
    "RetryPolicy",
]

DEFAULT_ACTOR = "system:outbox"
PAYLOAD_VERSION = 1
LEASE = timedelta(minutes=10)
"""How long a claimed row belongs to its worker: far longer than one send
(SMTP and webhook time-outs are 30 s and 10 s), since an overrun lease means
another worker may send the same message again."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base`` after the first failure, doubling, at
    most ``cap``; after ``max_attempts`` attempts the message is dead.

    With the defaults (1 min, 6 h, 10) the retries come 1, 2, 4, ... 256
    minutes after each failure: about 8.5 hours from the first attempt to
    the tenth."""

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 10

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based)."""
        if attempts < 1:
            return self.base
        return min(self.cap, self.base * (1 << min(attempts - 1, 32)))


def _aad(message_id: str) -> bytes:
    return b"outbox:" + message_id.encode("ascii")


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one claimed message (no personal data)."""

    id: str
    channel: str
    kind: str
    outcome: str
    """``sent``, ``retrying``, ``dead``, or ``lost`` (the lease ran out and
    another worker took the message over; it decides the outcome)."""
    attempts: int
    error: str | None = None
    next_attempt_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "outcome": self.outcome,
            "attempts": self.attempts,
            "error": self.error,
            "next_attempt_at": format_time(self.next_attempt_at) if self.next_attempt_at else None,
        }


@dataclass(frozen=True)
class DeliveryReport:
    """One ``deliver_due`` run: each message tried, and what is due but has no
    sender configured (e.g. email without ``STEWARD_SMTP_URL``)."""

    results: tuple[DeliveryResult, ...] = ()
    waiting_without_sender: Mapping[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def sent(self) -> int:
        return self.count("sent")

    @property
    def retrying(self) -> int:
        return self.count("retrying")

    @property
    def dead(self) -> int:
        return self.count("dead")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "dead": self.dead,
            "lost": self.count("lost"),
            "waiting_without_sender": dict(self.waiting_without_sender),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class OutboxEntry:
    """A row as listings show it: the addressee masked, nothing readable."""

    id: str
    channel: str
    kind: str
    to: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    subject_id: str | None
    request_id: str | None
    recipient_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "to": self.to,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": format_time(self.next_attempt_at) if self.next_attempt_at else None,
            "last_error": self.last_error,
            "created_at": format_time(self.created_at),
            "sent_at": format_time(self.sent_at) if self.sent_at else None,
            "subject_id": self.subject_id,
            "request_id": self.request_id,
            "recipient_id": self.recipient_id,
        }


@dataclass(frozen=True)
class OutboxMessage:
    """A message in full, for staff who must act on it (manual messages).
    Holds personal data: show it, never log it."""

    entry: OutboxEntry
    to: str
    subject: str
    text: str
    confirmation: Mapping[str, Any] | None

    def __repr__(self) -> str:
        return f"OutboxMessage(id={self.entry.id!r}, status={self.entry.status!r})"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.entry.to_dict(),
            "to": self.to,
            "subject": self.subject,
            "text": self.text,
            "confirmation": dict(self.confirmation) if self.confirmation else None,
        }


def _default_rows(tx: Any) -> OutboxRows:
    from datasteward.store.outbox_store import outbox_rows  # the SQL lives in the store

    return outbox_rows(tx)


class Outbox:
    """Queue, deliver, list and confirm messages."""

    def __init__(
        self,
        store: EngineStore,
        keyring: Keyring,
        clock: Clock,
        senders: Senders,
        *,
        rows: OutboxRowsFactory | None = None,
        retry: RetryPolicy | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock
        self._senders = dict(senders)
        self._rows: OutboxRowsFactory = rows or _default_rows
        self.retry_policy = retry or RetryPolicy()
        self._lease = lease

    @property
    def channels(self) -> tuple[str, ...]:
        """Channels this outbox can deliver (those with a sender)."""
        return tuple(sorted(c for c in self._senders if c != Channel.MANUAL))

    # -- queueing --------------------------------------------------------------

    def add(
        self,
        tx: EngineTx,
        message: Message,
        *,
        subject_id: str | None = None,
        request_id: str | None = None,
        recipient_id: str | None = None,
    ) -> str:
        """Render ``message``, encrypt it and insert it in ``tx``; its id.

        Nothing is sent here: the row commits with the caller's transaction,
        and ``deliver_due`` sends it. Manual messages start as ``manual``."""
        message_id = str(uuid.uuid4())
        now = self._clock.now()
        rendered = render(message, message_id=message_id, created_at=now)
        payload = {
            "v": PAYLOAD_VERSION,
            "to": message.to,
            "kind": message.kind.value,
            "language": message.language,
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
            "body": rendered.body,
        }
        manual = message.channel is Channel.MANUAL
        self._rows(tx).insert(
            OutboxRow(
                id=message_id,
                channel=message.channel.value,
                template=message.kind.value,
                subject_id=subject_id,
                request_id=request_id,
                recipient_id=recipient_id,
                payload_enc=self._seal(message_id, payload),
                status=OutboxStatus.MANUAL if manual else OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                created_at=now,
                sent_at=None,
            )
        )
        return message_id

    def add_notices(
        self,
        tx: EngineTx,
        notices: Iterable[RecipientNotice],
        *,
        subject_id: str | None = None,
        request_id: str | None = None,
    ) -> list[str]:
        """Queue each Art. 19 notice (from ``recipients_to_notify``) in ``tx``."""
        return [
            self.add(
                tx,
                notice.message,
                subject_id=subject_id,
                request_id=request_id,
                recipient_id=notice.recipient_id,
            )
            for notice in notices
        ]

    def _seal(self, message_id: str, payload: Mapping[str, Any]) -> bytes:
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return self._keyring.encrypt(text.encode("utf-8"), aad=_aad(message_id))

    def _open(self, row: OutboxRow) -> dict[str, Any]:
        data = json.loads(self._keyring.decrypt(row.payload_enc, aad=_aad(row.id)))
        if not isinstance(data, dict) or data.get("v") != PAYLOAD_VERSION:
            raise DecryptionFailed(f"outbox message {row.id} has an unknown payload format")
        return data

    # -- delivery --------------------------------------------------------------

    def deliver_due(self, limit: int = 100, *, actor: str = DEFAULT_ACTOR) -> DeliveryReport:
        """Send up to ``limit`` messages that are due now, most overdue first.

        Safe to run from any number of processes at once: each row is
        claimed by exactly one of them."""
        if limit < 0:
            raise UsageError("the delivery limit cannot be negative")
        results: list[DeliveryResult] = []
        channels = self.channels
        while channels and len(results) < limit:
            now = self._clock.now()
            with self._store.transaction() as tx:
                row = self._rows(tx).claim_due(
                    now=now, lease_until=now + self._lease, channels=channels
                )
            if row is None:
                break
            results.append(self._attempt(row, actor))
        with self._store.reading() as tx:
            due = self._rows(tx).due_counts(now=self._clock.now())
        waiting = {c: n for c, n in sorted(due.items()) if c not in channels}
        return DeliveryReport(results=tuple(results), waiting_without_sender=waiting)

    def _attempt(self, row: OutboxRow, actor: str) -> DeliveryResult:
        failure: DeliveryFailed | None = None
        try:
            payload = self._open(row)
        except DecryptionFailed:
            failure = DeliveryFailed("the stored message cannot be decrypted", transient=False)
        except CryptoError:  # the key is not loaded here: configuration, fixable
            failure = DeliveryFailed("the key of the stored message is unavailable", transient=True)
        else:
            delivery = Delivery(
                id=row.id,
                channel=row.channel,
                kind=row.template,
                to=str(payload["to"]),
                subject=str(payload["subject"]),
                text=str(payload["text"]),
                html=str(payload["html"]),
                body=payload.get("body"),
            )
            try:
                self._senders[row.channel].send(delivery)
            except DeliveryFailed as exc:
                failure = exc
            except Exception as exc:  # a sender bug must not stop the other messages
                failure = DeliveryFailed(f"sender error ({type(exc).__name__})", transient=True)
        return self._record(row, failure, actor)

    def _record(self, row: OutboxRow, failure: DeliveryFailed | None, actor: str) -> DeliveryResult:
        now = self._clock.now()
        retry_at: datetime | None = None
        if failure is None:
            outcome, status, error = "sent", OutboxStatus.SENT, None
        elif failure.transient and row.attempts < self.retry_policy.max_attempts:
            outcome, status, error = "retrying", OutboxStatus.PENDING, failure.reason
            retry_at = now + self.retry_policy.delay(row.attempts)
        else:
            outcome, status, error = "dead", OutboxStatus.DEAD, failure.reason
            if failure.transient:
                error = f"{failure.reason} (gave up after {row.attempts} attempts)"
        with self._store.transaction() as tx:
            kept = self._rows(tx).release(
                row.id,
                lease=row.next_attempt_at,
                status=status,
                next_attempt_at=retry_at or now,
                last_error=error,
                sent_at=now if status is OutboxStatus.SENT else None,
            )
            if kept:
                reason = {
                    "sent": f"{row.channel} message delivered",
                    "retrying": f"delivery failed: {error}; next attempt "
                    f"{format_time(retry_at) if retry_at else ''}",
                    "dead": f"delivery abandoned: {error}",
                }[outcome]
                self._audit(tx, row, f"outbox.{outcome}", reason, actor, attempt=row.attempts)
        if not kept:
            return DeliveryResult(row.id, row.channel, row.template, "lost", row.attempts, error)
        return DeliveryResult(
            row.id, row.channel, row.template, outcome, row.attempts, error, retry_at
        )

    def _audit(
        self, tx: EngineTx, row: OutboxRow, action: str, reason: str, actor: str, **extra: Any
    ) -> None:
        tx.audit(
            at=self._clock.now(),
            actor=actor,
            action=action,
            object_type="outbox",
            object_id=row.id,
            reason=reason,
            policy_version=None,
            details={
                "channel": row.channel,
                "kind": row.template,
                "request_id": row.request_id,
                "recipient_id": row.recipient_id,
                **extra,
            },
        )

    # -- staff actions -------------------------------------------------------------

    def _require(self, tx: EngineTx, message_id: str) -> OutboxRow:
        row = self._rows(tx).get(message_id)
        if row is None:
            raise NotFound("outbox message", message_id)
        return row

    def confirm(self, message_id: str, actor: str, note: str | None = None) -> OutboxEntry:
        """Record that staff carried out a manual message. The note is kept
        encrypted with the message (it may name people); the audit log says
        who confirmed and when."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            row = self._require(tx, message_id)
            if row.status is not OutboxStatus.MANUAL:
                raise Conflict(
                    f"outbox message {message_id} is {row.status.value}; only manual "
                    "messages are confirmed by hand"
                )
            payload = self._open(row)
            payload["confirmation"] = {"by": actor, "at": format_time(now), "note": note}
            moved = self._rows(tx).transition(
                message_id,
                expected=OutboxStatus.MANUAL,
                status=OutboxStatus.CONFIRMED,
                next_attempt_at=now,
                sent_at=now,
                payload_enc=self._seal(message_id, payload),
            )
            if not moved:
                raise Conflict(f"outbox message {message_id} was changed meanwhile; try again")
            self._audit(
                tx, row, "outbox.confirmed", "manual message carried out", actor, note=bool(note)
            )
            confirmed = self._require(tx, message_id)
        return self._entry(confirmed)

    def retry(self, message_id: str, actor: str) -> OutboxEntry:
        """Give a dead message a fresh schedule (attempts back to 0), due now."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            row = self._require(tx, message_id)
            if row.status is not OutboxStatus.DEAD:
                raise Conflict(
                    f"outbox message {message_id} is {row.status.value}; only dead "
                    "messages are retried by hand"
                )
            moved = self._rows(tx).transition(
                message_id,
                expected=OutboxStatus.DEAD,
                status=OutboxStatus.PENDING,
                next_attempt_at=now,
                attempts=0,
                last_error=row.last_error,
            )
            if not moved:
                raise Conflict(f"outbox message {message_id} was changed meanwhile; try again")
            self._audit(
                tx,
                row,
                "outbox.requeued",
                "dead message queued again",
                actor,
                previous_attempts=row.attempts,
            )
            requeued = self._require(tx, message_id)
        return self._entry(requeued)

    def show(self, message_id: str, actor: str) -> OutboxMessage:
        """The full message, for staff acting on it; the viewing is audited."""
        with self._store.transaction() as tx:
            row = self._require(tx, message_id)
            payload = self._open(row)
            self._audit(tx, row, "outbox.revealed", "message shown to staff", actor)
        confirmation = payload.get("confirmation")
        return OutboxMessage(
            entry=self._entry(row, payload),
            to=str(payload["to"]),
            subject=str(payload["subject"]),
            text=str(payload["text"]),
            confirmation=confirmation if isinstance(confirmation, dict) else None,
        )

    def prune(self, older_than: timedelta, actor: str = DEFAULT_ACTOR) -> int:
        """Delete delivered and confirmed messages finished more than
        ``older_than`` ago (their payloads hold personal data; the audit log
        keeps the proof of sending). Dead and waiting messages stay."""
        before = self._clock.now() - older_than
        with self._store.transaction() as tx:
            removed = self._rows(tx).prune(
                before=before, statuses=(OutboxStatus.SENT, OutboxStatus.CONFIRMED)
            )
            if removed:
                tx.audit(
                    at=self._clock.now(),
                    actor=actor,
                    action="outbox.pruned",
                    object_type="outbox",
                    object_id="*",
                    reason=f"finished messages before {format_time(before)} deleted",
                    policy_version=None,
                    details={"removed": removed},
                )
        return removed

    # -- listing ---------------------------------------------------------------------

    def entries(
        self, status: str | None = None, request_id: str | None = None, limit: int = 100
    ) -> list[OutboxEntry]:
        """Newest first, without personal data (addressees masked)."""
        if status is not None and status not in {s.value for s in OutboxStatus}:
            known = ", ".join(s.value for s in OutboxStatus)
            raise UsageError(f"unknown outbox status '{status}' (known: {known})")
        with self._store.reading() as tx:
            rows = self._rows(tx).listing(status=status, request_id=request_id, limit=limit)
        return [self._entry(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Status -> number of messages (every status listed, zeros included)."""
        with self._store.reading() as tx:
            raw = self._rows(tx).counts()
        totals = {s.value: 0 for s in OutboxStatus}
        for (status, _channel), n in raw.items():
            totals[status] = totals.get(status, 0) + n
        return totals

    def pending_count(self) -> int:
        """Messages not yet delivered that the outbox will still try to send."""
        totals = self.counts()
        return totals[OutboxStatus.PENDING] + totals[OutboxStatus.SENDING]

    def _entry(self, row: OutboxRow, payload: Mapping[str, Any] | None = None) -> OutboxEntry:
        if payload is None:
            try:
                payload = self._open(row)
            except CryptoError:
                payload = {}
        waiting = row.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
        return OutboxEntry(
            id=row.id,
            channel=row.channel,
            kind=row.template,
            to=_masked(row.channel, payload.get("to")),
            status=row.status.value,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if waiting else None,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            subject_id=row.subject_id,
            request_id=row.request_id,
            recipient_id=row.recipient_id,
        )


def _masked(channel: str, to: object) -> str:
    """The addressee as listings show it: never a whole address."""
    if not isinstance(to, str):
        return "[unreadable]"
    if channel == Channel.EMAIL:
        return mask("email", to)
    if channel == Channel.WEBHOOK:
        return f"${to}"  # the name of the variable holding the URL, not the URL
    if to == MANUAL_TO:
        return MANUAL_TO
    return mask("text", to)
