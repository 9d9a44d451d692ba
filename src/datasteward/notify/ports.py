"""The outbox's seam to its table: the rows as plain values and the few
operations the service needs. ``datasteward.store.outbox_store`` implements
them in SQL; the service never sees a statement.

Statuses::

    pending ──claim──> sending ──sent──> sent
       ^                  │ transient failure, attempts left
       └──────────────────┤
                          └ permanent failure / attempts used up ──> dead ──retry──> pending
    manual ──confirm──> confirmed

A ``sending`` row's ``next_attempt_at`` is its lease: the moment after which
another worker may take it over (the first one is presumed dead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

__all__ = ["OutboxRow", "OutboxRows", "OutboxRowsFactory", "OutboxStatus"]


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    MANUAL = "manual"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class OutboxRow:
    """One row of the ``outbox`` table; ``template`` holds the message kind."""

    id: str
    channel: str
    template: str
    subject_id: str | None
    request_id: str | None
    recipient_id: str | None
    payload_enc: bytes
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    def __repr__(self) -> str:  # the payload is ciphertext, but keep reprs short
        return f"OutboxRow(id={self.id!r}, channel={self.channel!r}, status={self.status.value!r})"


class OutboxRows(Protocol):
    """The outbox table inside one engine-store transaction."""

    def insert(self, row: OutboxRow) -> None: ...

    def claim_due(
        self, *, now: datetime, lease_until: datetime, channels: Sequence[str]
    ) -> OutboxRow | None:
        """Take the most overdue ``pending`` (or lease-expired ``sending``) row
        of ``channels``: mark it ``sending`` until ``lease_until``, count the
        attempt, and return it as it now is. No two callers get the same row."""
        ...

    def release(
        self,
        message_id: str,
        *,
        lease: datetime,
        status: OutboxStatus,
        next_attempt_at: datetime,
        last_error: str | None,
        sent_at: datetime | None,
    ) -> bool:
        """Record the outcome of a claimed row, only if the claim (``lease``)
        is still ours; False when the lease ran out and someone took over."""
        ...

    def get(self, message_id: str) -> OutboxRow | None: ...

    def transition(
        self,
        message_id: str,
        *,
        expected: OutboxStatus,
        status: OutboxStatus,
        next_attempt_at: datetime,
        attempts: int | None = None,
        last_error: str | None = None,
        sent_at: datetime | None = None,
        payload_enc: bytes | None = None,
    ) -> bool:
        """Move a row from ``expected`` to ``status``; False if it was not in
        ``expected`` (someone else moved it first)."""
        ...

    def listing(
        self, *, status: str | None, request_id: str | None, limit: int
    ) -> list[OutboxRow]: ...

    def counts(self) -> dict[tuple[str, str], int]:
        """(status, channel) -> number of rows."""
        ...

    def due_counts(self, *, now: datetime) -> dict[str, int]:
        """channel -> rows waiting to be sent now (pending, or lease expired)."""
        ...

    def prune(self, *, before: datetime, statuses: Sequence[OutboxStatus]) -> int:
        """Delete rows in ``statuses`` finished (sent_at) before ``before``."""
        ...


OutboxRowsFactory = Callable[[Any], OutboxRows]
"""Builds the rows accessor for one engine-store transaction."""
