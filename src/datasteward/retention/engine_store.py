"""Retention's side of the engine store (adapter): sweep progress, the
subjects a suspension keeps, and the engine's own housekeeping.

``sweep_progress`` is written as the migration made it; a unit's last key is
stored as a JSON list (integers or text). Progress and the audit event
covering it go into one transaction, so the audit log never claims work the
progress does not show, nor the other way round.

The subjects kept by ``restriction`` and ``open_request`` are read from the
``restrictions`` table (not lifted) and the ``requests`` table (not
completed, refused or cancelled); their identities are decrypted through
the subject directory, and only when a unit checks that suspension.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from datasteward.errors import KeyUnavailable
from datasteward.legaltime.instants import format_time, parse_time
from datasteward.policy.model import Suspension
from datasteward.retention.ports import AuditNote, HeldSubjects, UnitProgress
from datasteward.store.sql_store import SqlEngineStore
from datasteward.store.tables import (
    outbox,
    requests,
    restrictions,
    sweep_progress,
    verification_codes,
)
from datasteward.subjects.service import SubjectDirectory

__all__ = [
    "CLOSED_REQUEST_STATES",
    "SqlHousekeeping",
    "SqlSubjectHolds",
    "SqlSweepProgress",
]

CLOSED_REQUEST_STATES = ("completed", "refused", "cancelled")
"""Request states after which a request no longer keeps the subject's data."""

_UNFINISHED = ("pending", "running", "stopped")


def _connection(tx: Any) -> Connection:
    """The SQLAlchemy connection of an engine-store transaction."""
    connection = tx.connection
    assert isinstance(connection, Connection)
    return connection


def _audit(tx: Any, note: AuditNote) -> None:
    tx.audit(
        at=note.at,
        actor=note.actor,
        action=note.action,
        object_type=note.object_type,
        object_id=note.object_id,
        reason=note.reason,
        policy_version=note.policy_version,
        details=dict(note.details),
    )


class SqlSweepProgress:
    """The ``sweep_progress`` table."""

    def __init__(self, store: SqlEngineStore) -> None:
        self.store = store

    def unfinished(self) -> list[UnitProgress]:
        t = sweep_progress
        oldest = (
            select(t.c.run_id)
            .where(t.c.state.in_(_UNFINISHED))
            .order_by(t.c.started_at, t.c.run_id)
            .limit(1)
        )
        with self.store.reading() as tx:
            connection = _connection(tx)
            run_id = connection.execute(oldest).scalar_one_or_none()
            if run_id is None:
                return []
            rows = connection.execute(
                select(t).where(t.c.run_id == run_id).order_by(t.c.rule_id, t.c.dataset)
            ).all()
        return [_progress(r._mapping) for r in rows]

    def start(self, units: Sequence[UnitProgress]) -> None:
        if not units:
            return
        with self.store.transaction() as tx:
            _connection(tx).execute(insert(sweep_progress), [_row(u) for u in units])

    def save(self, progress: UnitProgress, audit: AuditNote | None = None) -> None:
        t = sweep_progress
        values = _row(progress)
        key = {name: values.pop(name) for name in ("run_id", "rule_id", "system", "dataset")}
        with self.store.transaction() as tx:
            _connection(tx).execute(
                update(t).where(*(t.c[name] == value for name, value in key.items())).values(values)
            )
            if audit is not None:
                _audit(tx, audit)

    def runs(self, limit: int = 20) -> list[UnitProgress]:
        """The units of the latest runs, newest first (for status displays)."""
        t = sweep_progress
        with self.store.reading() as tx:
            rows = _connection(tx).execute(
                select(t).order_by(t.c.started_at.desc(), t.c.rule_id).limit(limit)
            )
            return [_progress(r._mapping) for r in rows]


def _row(progress: UnitProgress) -> dict[str, Any]:
    return {
        "run_id": progress.run_id,
        "rule_id": progress.rule_id,
        "system": progress.system,
        "dataset": progress.dataset,
        "cutoff": format_time(progress.cutoff),
        "last_key": None if progress.last_key is None else json.dumps(list(progress.last_key)),
        "rows_done": progress.rows_done,
        "rows_held": progress.rows_held,
        "batches": progress.batches,
        "state": progress.state,
        "started_at": format_time(progress.started_at),
        "updated_at": format_time(progress.updated_at),
        "finished_at": None if progress.finished_at is None else format_time(progress.finished_at),
    }


def _progress(row: Any) -> UnitProgress:
    return UnitProgress(
        run_id=row["run_id"],
        rule_id=row["rule_id"],
        system=row["system"],
        dataset=row["dataset"],
        cutoff=parse_time(row["cutoff"]),
        last_key=None if row["last_key"] is None else tuple(json.loads(row["last_key"])),
        rows_done=int(row["rows_done"]),
        rows_held=int(row["rows_held"]),
        batches=int(row["batches"]),
        state=row["state"],
        started_at=parse_time(row["started_at"]),
        updated_at=parse_time(row["updated_at"]),
        finished_at=None if row["finished_at"] is None else parse_time(row["finished_at"]),
    )


class SqlSubjectHolds:
    """Restricted subjects and subjects with open requests, by identity."""

    def __init__(self, store: SqlEngineStore, directory: SubjectDirectory) -> None:
        self.store = store
        self.directory = directory

    def held(self, suspensions: frozenset[Suspension], at: datetime) -> HeldSubjects:
        queries = {
            Suspension.RESTRICTION: select(restrictions.c.subject_id)
            .where(
                restrictions.c.lifted_at.is_(None),
                restrictions.c.since <= format_time(at.astimezone(UTC)),
            )
            .distinct(),
            Suspension.OPEN_REQUEST: select(requests.c.subject_id)
            .where(requests.c.state.not_in(CLOSED_REQUEST_STATES))
            .distinct(),
        }
        identities: dict[Suspension, dict[str, list[str]]] = {}
        counts: dict[Suspension, int] = {}
        with self.store.reading() as tx:
            connection = _connection(tx)
            for suspension in sorted(suspensions & set(queries)):
                ids = sorted(connection.execute(queries[suspension]).scalars())
                merged: dict[str, list[str]] = {}
                for subject_id in ids:
                    try:
                        found = self.directory.reveal(tx, subject_id)
                    except KeyUnavailable:  # shredded: nothing left to match
                        continue
                    for identity in found:
                        values = merged.setdefault(identity.kind, [])
                        if identity.value not in values:
                            values.append(identity.value)
                identities[suspension] = merged
                counts[suspension] = len(ids)
        return HeldSubjects(identities, counts)


class SqlHousekeeping:
    """The engine's own expired records (never the audit chain)."""

    def __init__(self, store: SqlEngineStore) -> None:
        self.store = store

    def purge(self, *, codes_before: datetime, sent_before: datetime) -> tuple[int, int]:
        """Delete verification codes used or expired before ``codes_before``
        and messages sent before ``sent_before``; (codes, messages)."""
        codes_limit = format_time(codes_before)
        sent_limit = format_time(sent_before)
        v = verification_codes
        with self.store.transaction() as tx:
            connection = _connection(tx)
            codes = connection.execute(
                delete(v).where(
                    or_(
                        and_(v.c.used_at.is_not(None), v.c.used_at < codes_limit),
                        v.c.expires_at < codes_limit,
                    )
                )
            ).rowcount
            sent = connection.execute(
                delete(outbox).where(
                    outbox.c.status == "sent",
                    func.coalesce(outbox.c.sent_at, outbox.c.created_at) < sent_limit,
                )
            ).rowcount
        return int(codes), int(sent)

    def audit(self, note: AuditNote) -> None:
        with self.store.transaction() as tx:
            _audit(tx, note)
