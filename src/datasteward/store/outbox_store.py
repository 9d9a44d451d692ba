"""The outbox table in SQL: implements ``datasteward.notify.ports.OutboxRows``.

Claiming is safe under concurrency on both engine-store backends:

* PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks a row no other
  transaction holds, so workers never wait on each other and never share a
  row; the following UPDATE runs under that row lock.
* SQLite: every writing transaction begins ``BEGIN IMMEDIATE`` (see
  ``store.engine``), so only one claimer runs at a time.

The UPDATE also repeats the state it read (status and ``next_attempt_at``)
in its WHERE clause, so a claim that raced anyway changes nothing; the
outcome of a delivery is recorded only while the claim's lease is still the
row's, so a worker that overran its lease cannot overwrite the result of the
worker that took over. Every value is a bound parameter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from datasteward.legaltime.instants import format_time, parse_time
from datasteward.notify.ports import OutboxRow, OutboxStatus
from datasteward.store.sql_store import SqlTx
from datasteward.store.tables import outbox

__all__ = ["SqlOutboxRows", "outbox_rows"]

_CLAIMABLE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
_CLAIM_TRIES = 5


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        id=r.id,
        channel=r.channel,
        template=r.template,
        subject_id=r.subject_id,
        request_id=r.request_id,
        recipient_id=r.recipient_id,
        payload_enc=bytes(r.payload_enc),
        status=OutboxStatus(r.status),
        attempts=int(r.attempts),
        next_attempt_at=parse_time(r.next_attempt_at),
        last_error=r.last_error,
        created_at=parse_time(r.created_at),
        sent_at=parse_time(r.sent_at) if r.sent_at else None,
    )


class SqlOutboxRows:
    """The outbox table on one connection (inside the caller's transaction)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @property
    def _postgres(self) -> bool:
        return self.connection.dialect.name == "postgresql"

    def insert(self, row: OutboxRow) -> None:
        self.connection.execute(
            insert(outbox).values(
                id=row.id,
                channel=row.channel,
                template=row.template,
                subject_id=row.subject_id,
                request_id=row.request_id,
                recipient_id=row.recipient_id,
                payload_enc=row.payload_enc,
                status=row.status.value,
                attempts=row.attempts,
                next_attempt_at=format_time(row.next_attempt_at),
                last_error=row.last_error,
                created_at=format_time(row.created_at),
                sent_at=format_time(row.sent_at) if row.sent_at else None,
            )
        )

    def claim_due(
        self, *, now: datetime, lease_until: datetime, channels: Sequence[str]
    ) -> OutboxRow | None:
        if not channels:
            return None
        t = outbox
        candidate = (
            select(t)
            .where(
                t.c.status.in_(_CLAIMABLE),
                t.c.next_attempt_at <= format_time(now),
                t.c.channel.in_(list(channels)),
            )
            .order_by(t.c.next_attempt_at, t.c.created_at, t.c.id)
            .limit(1)
        )
        if self._postgres:
            candidate = candidate.with_for_update(skip_locked=True)
        lease = format_time(lease_until)
        for _ in range(_CLAIM_TRIES):
            found = self.connection.execute(candidate).first()
            if found is None:
                return None
            claimed = self.connection.execute(
                update(t)
                .where(
                    t.c.id == found.id,
                    t.c.status == found.status,
                    t.c.next_attempt_at == found.next_attempt_at,
                )
                .values(
                    status=OutboxStatus.SENDING.value,
                    attempts=t.c.attempts + 1,
                    next_attempt_at=lease,
                )
            )
            if claimed.rowcount == 1:
                row = _row(found)
                return replace(
                    row,
                    status=OutboxStatus.SENDING,
                    attempts=row.attempts + 1,
                    next_attempt_at=lease_until,
                )
        return None

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
        t = outbox
        result = self.connection.execute(
            update(t)
            .where(
                t.c.id == message_id,
                t.c.status == OutboxStatus.SENDING.value,
                t.c.next_attempt_at == format_time(lease),
            )
            .values(
                status=status.value,
                next_attempt_at=format_time(next_attempt_at),
                last_error=last_error,
                sent_at=format_time(sent_at) if sent_at else None,
            )
        )
        return bool(result.rowcount == 1)

    def get(self, message_id: str) -> OutboxRow | None:
        found = self.connection.execute(select(outbox).where(outbox.c.id == message_id)).first()
        return None if found is None else _row(found)

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
        t = outbox
        values: dict[str, Any] = {
            "status": status.value,
            "next_attempt_at": format_time(next_attempt_at),
            "last_error": last_error,
            "sent_at": format_time(sent_at) if sent_at else None,
        }
        if attempts is not None:
            values["attempts"] = attempts
        if payload_enc is not None:
            values["payload_enc"] = payload_enc
        result = self.connection.execute(
            update(t).where(t.c.id == message_id, t.c.status == expected.value).values(**values)
        )
        return bool(result.rowcount == 1)

    def listing(self, *, status: str | None, request_id: str | None, limit: int) -> list[OutboxRow]:
        t = outbox
        query = select(t).order_by(t.c.created_at.desc(), t.c.id).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status)
        if request_id is not None:
            query = query.where(t.c.request_id == request_id)
        return [_row(r) for r in self.connection.execute(query)]

    def counts(self) -> dict[tuple[str, str], int]:
        t = outbox
        rows = self.connection.execute(
            select(t.c.status, t.c.channel, func.count()).group_by(t.c.status, t.c.channel)
        )
        return {(str(status), str(channel)): int(n) for status, channel, n in rows}

    def due_counts(self, *, now: datetime) -> dict[str, int]:
        t = outbox
        rows = self.connection.execute(
            select(t.c.channel, func.count())
            .where(t.c.status.in_(_CLAIMABLE), t.c.next_attempt_at <= format_time(now))
            .group_by(t.c.channel)
        )
        return {str(channel): int(n) for channel, n in rows}

    def prune(self, *, before: datetime, statuses: Sequence[OutboxStatus]) -> int:
        t = outbox
        result = self.connection.execute(
            delete(t).where(
                t.c.status.in_([s.value for s in statuses]),
                func.coalesce(t.c.sent_at, t.c.created_at) < format_time(before),
            )
        )
        return int(result.rowcount)


def outbox_rows(tx: object) -> SqlOutboxRows:
    """The outbox table inside an engine-store transaction (``SqlTx``)."""
    if not isinstance(tx, SqlTx):
        raise TypeError(f"the SQL outbox needs an engine-store transaction, got {type(tx)!r}")
    return SqlOutboxRows(tx.connection)
