"""The engine store on SQLAlchemy Core: implements ``datasteward.ports``.

Every statement is built with SQLAlchemy expressions, so every value is a
bound parameter. Reads that must see one consistent snapshot (verification,
listings) run in a read transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, desc, func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from datasteward.audit.chain import ChainHead, ChainRow
from datasteward.consent.model import (
    ConsentKind,
    ConsentRecord,
    Objection,
    ObjectionScope,
    ObjectionStatus,
    Restriction,
)
from datasteward.errors import StoreError
from datasteward.legaltime.instants import format_time, parse_time
from datasteward.ports import AuditEntry, StoredIdentity, StoredPolicy
from datasteward.store import chains
from datasteward.store.engine import READONLY
from datasteward.store.tables import (
    audit_events,
    consent_events,
    identities,
    objections,
    policy_versions,
    restrictions,
    subjects,
)
from datasteward.store.tables import purpose_states as purpose_states_table

__all__ = ["SqlEngineStore", "SqlTx"]

_CONSENT_COLUMNS = (
    consent_events.c.seq,
    consent_events.c.event_id,
    consent_events.c.subject_id,
    consent_events.c.purpose_id,
    consent_events.c.kind,
    consent_events.c.occurred_at,
    consent_events.c.expires_at,
    consent_events.c.policy_version,
    consent_events.c.purpose_hash,
    consent_events.c.notice_hash,
    consent_events.c.channel,
    consent_events.c.actor,
)


def _consent_record(row: Any) -> ConsentRecord:
    return ConsentRecord(
        seq=int(row.seq),
        event_id=row.event_id,
        subject_id=row.subject_id,
        purpose_id=row.purpose_id,
        kind=ConsentKind(row.kind),
        occurred_at=parse_time(row.occurred_at),
        expires_at=parse_time(row.expires_at) if row.expires_at else None,
        policy_version=int(row.policy_version),
        purpose_hash=row.purpose_hash,
        notice_hash=row.notice_hash,
        channel=row.channel,
        actor=row.actor,
    )


def _objection(r: Any) -> Objection:
    return Objection(
        ref=r.id,
        scope=ObjectionScope(r.scope),
        purpose_id=r.purpose_id,
        status=ObjectionStatus(r.status),
        at=parse_time(r.created_at),
    )


class SqlTx:
    """One transaction on the engine store."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # -- audit -------------------------------------------------------------

    def audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        reason: str,
        policy_version: int | None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        row = {
            "occurred_at": format_time(at),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "reason": reason,
            "policy_version": policy_version,
            "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
        }
        return int(chains.append_rows(self.connection, chains.AUDIT, [row])[0]["seq"])

    def audit_entries(
        self,
        *,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        t = audit_events
        query = select(t).order_by(desc(t.c.seq)).limit(limit)
        if action:
            query = query.where(t.c.action == action)
        if object_type:
            query = query.where(t.c.object_type == object_type)
        if object_id:
            query = query.where(t.c.object_id == object_id)
        if since:
            query = query.where(t.c.occurred_at >= format_time(since))
        return [
            AuditEntry(
                seq=int(r.seq),
                occurred_at=parse_time(r.occurred_at),
                actor=r.actor,
                action=r.action,
                object_type=r.object_type,
                object_id=r.object_id,
                reason=r.reason,
                policy_version=r.policy_version,
                details=json.loads(r.details),
            )
            for r in self.connection.execute(query)
        ]

    # -- policy versions ---------------------------------------------------

    def active_policy(self) -> StoredPolicy | None:
        row = self.connection.execute(
            select(policy_versions).order_by(desc(policy_versions.c.id)).limit(1)
        ).first()
        if row is None:
            return None
        return StoredPolicy(
            id=int(row.id),
            label=row.label,
            sha256=row.sha256,
            effective_date=row.effective_date,
            applied_at=parse_time(row.applied_at),
            applied_by=row.applied_by,
            source_file=row.source_file,
            text=row.text,
            material=bool(row.material),
        )

    def active_policy_key(self) -> tuple[int, str] | None:
        """(version id, sha256) of the active policy: a cheap freshness check."""
        row = self.connection.execute(
            select(policy_versions.c.id, policy_versions.c.sha256)
            .order_by(desc(policy_versions.c.id))
            .limit(1)
        ).first()
        return None if row is None else (int(row.id), str(row.sha256))

    def purpose_states(self, policy_version: int) -> dict[str, tuple[str, str]]:
        rows = self.connection.execute(
            select(
                purpose_states_table.c.purpose_id,
                purpose_states_table.c.consent_hash,
                purpose_states_table.c.fingerprint,
            ).where(purpose_states_table.c.policy_version == policy_version)
        )
        return {r.purpose_id: (r.consent_hash, r.fingerprint) for r in rows}

    def insert_policy_version(
        self,
        *,
        label: str,
        sha256: str,
        effective_date: date,
        applied_at: datetime,
        applied_by: str,
        source_file: str,
        text: str,
        material: bool,
        diff_json: str,
        purpose_states: Mapping[str, tuple[str, str]],
    ) -> int:
        result = self.connection.execute(
            insert(policy_versions).values(
                label=label,
                sha256=sha256,
                effective_date=effective_date,
                applied_at=format_time(applied_at),
                applied_by=applied_by,
                source_file=source_file,
                text=text,
                material=material,
                diff_json=diff_json,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        version = int(key[0])
        if purpose_states:
            self.connection.execute(
                insert(purpose_states_table),
                [
                    {
                        "policy_version": version,
                        "purpose_id": pid,
                        "consent_hash": consent_hash,
                        "fingerprint": fingerprint,
                    }
                    for pid, (consent_hash, fingerprint) in purpose_states.items()
                ],
            )
        return version

    # -- subjects and identities --------------------------------------------

    def find_subject(self, kind: str, blind_indexes: Sequence[str]) -> str | None:
        row = self.connection.execute(
            select(identities.c.subject_id)
            .where(identities.c.kind == kind, identities.c.blind_index.in_(list(blind_indexes)))
            .limit(1)
        ).first()
        return None if row is None else str(row.subject_id)

    def find_subjects(self, kind: str, blind_indexes: Sequence[str]) -> dict[str, str]:
        """Blind index -> subject id for those of ``blind_indexes`` that are known."""
        if not blind_indexes:
            return {}
        rows = self.connection.execute(
            select(identities.c.blind_index, identities.c.subject_id).where(
                identities.c.kind == kind, identities.c.blind_index.in_(list(blind_indexes))
            )
        )
        return {str(r.blind_index): str(r.subject_id) for r in rows}

    def create_subject(self, subject_id: str, at: datetime) -> None:
        self.connection.execute(
            insert(subjects).values(id=subject_id, created_at=format_time(at), shredded_at=None)
        )

    def claim_subject(self, subject_id: str, identity: StoredIdentity, at: datetime) -> str:
        """Create the subject with its first identity, unless a concurrent
        transaction created that identity first: then return that subject.

        The insert runs in a savepoint, so losing the race (a unique
        violation on the blind index) leaves the outer transaction usable."""
        try:
            with self.connection.begin_nested():
                self.create_subject(subject_id, at)
                self.add_identity(identity, at)
            return subject_id
        except IntegrityError:
            existing = self.find_subject(identity.kind, [identity.blind_index])
            if existing is None:
                raise
            return existing

    def subject_exists(self, subject_id: str) -> bool:
        return (
            self.connection.execute(
                select(subjects.c.id).where(subjects.c.id == subject_id)
            ).first()
            is not None
        )

    def add_identity(self, identity: StoredIdentity, at: datetime) -> None:
        self.connection.execute(
            insert(identities).values(
                subject_id=identity.subject_id,
                kind=identity.kind,
                blind_index=identity.blind_index,
                index_kid=identity.index_kid,
                value_enc=identity.value_enc,
                created_at=format_time(at),
            )
        )

    def identities_of(self, subject_id: str) -> list[StoredIdentity]:
        rows = self.connection.execute(
            select(identities)
            .where(identities.c.subject_id == subject_id)
            .order_by(identities.c.id)
        )
        return [self._identity(r) for r in rows]

    def all_identities(self) -> Iterator[StoredIdentity]:
        last = 0
        while True:
            rows = self.connection.execute(
                select(identities)
                .where(identities.c.id > last)
                .order_by(identities.c.id)
                .limit(5000)
            ).all()
            if not rows:
                return
            for r in rows:
                yield self._identity(r)
            last = int(rows[-1].id)

    @staticmethod
    def _identity(r: Row[Any]) -> StoredIdentity:
        return StoredIdentity(
            subject_id=r.subject_id,
            kind=r.kind,
            blind_index=r.blind_index,
            index_kid=r.index_kid,
            value_enc=bytes(r.value_enc),
        )

    def reindex_identity(
        self, subject_id: str, kind: str, old_index: str, new_index: str, kid: str
    ) -> None:
        self.connection.execute(
            update(identities)
            .where(
                identities.c.subject_id == subject_id,
                identities.c.kind == kind,
                identities.c.blind_index == old_index,
            )
            .values(blind_index=new_index, index_kid=kid)
        )

    def delete_identities(self, subject_id: str) -> int:
        result = self.connection.execute(
            delete(identities).where(identities.c.subject_id == subject_id)
        )
        return int(result.rowcount)

    def mark_shredded(self, subject_id: str, at: datetime) -> None:
        self.connection.execute(
            update(subjects).where(subjects.c.id == subject_id).values(shredded_at=format_time(at))
        )

    # -- consent ledger ----------------------------------------------------

    def append_consent(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return chains.append_rows(self.connection, chains.CONSENT, rows)

    def consent_events(self, subject_id: str, purpose_id: str | None = None) -> list[ConsentRecord]:
        query = (
            select(*_CONSENT_COLUMNS)
            .where(consent_events.c.subject_id == subject_id)
            .order_by(consent_events.c.occurred_at, consent_events.c.seq)
        )
        if purpose_id is not None:
            query = query.where(consent_events.c.purpose_id == purpose_id)
        return [_consent_record(r) for r in self.connection.execute(query)]

    def latest_consent(
        self, subject_id: str, purpose_id: str, at: datetime
    ) -> ConsentRecord | None:
        row = self.connection.execute(
            select(*_CONSENT_COLUMNS)
            .where(
                consent_events.c.subject_id == subject_id,
                consent_events.c.purpose_id == purpose_id,
                consent_events.c.occurred_at <= format_time(at),
            )
            .order_by(desc(consent_events.c.occurred_at), desc(consent_events.c.seq))
            .limit(1)
        ).first()
        return None if row is None else _consent_record(row)

    def lapsed_consents(self, at: datetime, limit: int) -> list[ConsentRecord]:
        """Consents still "given" as their latest event whose expiry has passed."""
        later = consent_events.alias("later")
        newer_exists = (
            select(later.c.seq)
            .where(
                later.c.subject_id == consent_events.c.subject_id,
                later.c.purpose_id == consent_events.c.purpose_id,
                later.c.occurred_at >= consent_events.c.occurred_at,
                later.c.seq > consent_events.c.seq,
            )
            .exists()
        )
        rows = self.connection.execute(
            select(*_CONSENT_COLUMNS)
            .where(
                consent_events.c.kind == ConsentKind.GIVEN.value,
                consent_events.c.expires_at.is_not(None),
                consent_events.c.expires_at <= format_time(at),
                ~newer_exists,
            )
            .order_by(consent_events.c.seq)
            .limit(limit)
        )
        return [_consent_record(r) for r in rows]

    def consent_source(self, seq: int) -> bytes | None:
        row = self.connection.execute(
            select(consent_events.c.source_enc).where(consent_events.c.seq == seq)
        ).first()
        return None if row is None or row.source_enc is None else bytes(row.source_enc)

    def objections_of(self, subject_id: str) -> list[Objection]:
        rows = self.connection.execute(
            select(objections)
            .where(objections.c.subject_id == subject_id)
            .order_by(objections.c.created_at, objections.c.id)
        )
        return [_objection(r) for r in rows]

    def insert_objection(self, objection: Objection, subject_id: str) -> None:
        self.connection.execute(
            insert(objections).values(
                id=objection.ref,
                subject_id=subject_id,
                scope=objection.scope.value,
                purpose_id=objection.purpose_id,
                status=objection.status.value,
                created_at=format_time(objection.at),
                decided_at=format_time(objection.at)
                if objection.status is not ObjectionStatus.PENDING
                else None,
            )
        )

    def latest_consents(
        self, subject_ids: Sequence[str], at: datetime
    ) -> dict[tuple[str, str], ConsentRecord]:
        """The latest event up to ``at`` per (subject, purpose), for a batch."""
        found: dict[tuple[str, str], ConsentRecord] = {}
        rows = self.connection.execute(
            select(*_CONSENT_COLUMNS)
            .where(
                consent_events.c.subject_id.in_(list(subject_ids)),
                consent_events.c.occurred_at <= format_time(at),
            )
            .order_by(consent_events.c.occurred_at, consent_events.c.seq)
        )
        for row in rows:
            found[(row.subject_id, row.purpose_id)] = _consent_record(row)
        return found

    def objections_for(self, subject_ids: Sequence[str]) -> dict[str, list[Objection]]:
        found: dict[str, list[Objection]] = {}
        rows = self.connection.execute(
            select(objections)
            .where(objections.c.subject_id.in_(list(subject_ids)))
            .order_by(objections.c.created_at, objections.c.id)
        )
        for r in rows:
            found.setdefault(r.subject_id, []).append(_objection(r))
        return found

    def restrictions_for(self, subject_ids: Sequence[str]) -> dict[str, Restriction]:
        found: dict[str, Restriction] = {}
        rows = self.connection.execute(
            select(restrictions)
            .where(
                restrictions.c.subject_id.in_(list(subject_ids)), restrictions.c.lifted_at.is_(None)
            )
            .order_by(restrictions.c.since, restrictions.c.id)  # the earliest, as restriction_of
        )
        for r in rows:
            found.setdefault(r.subject_id, Restriction(ref=r.id, since=parse_time(r.since)))
        return found

    def restriction_of(self, subject_id: str) -> Restriction | None:
        row = self.connection.execute(
            select(restrictions)
            .where(
                and_(restrictions.c.subject_id == subject_id, restrictions.c.lifted_at.is_(None))
            )
            .order_by(restrictions.c.since, restrictions.c.id)
            .limit(1)
        ).first()
        return None if row is None else Restriction(ref=row.id, since=parse_time(row.since))


class SqlEngineStore:
    """Transactions on an SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        try:
            with self.engine.begin() as connection:
                yield SqlTx(connection)
        except (OperationalError, ProgrammingError) as exc:
            raise _store_error(exc) from None

    @contextmanager
    def reading(self) -> Iterator[SqlTx]:
        try:
            with self.engine.connect() as connection:
                options: dict[str, Any] = dict(READONLY)
                if connection.dialect.name != "sqlite":
                    # One snapshot for every statement: PostgreSQL's default READ
                    # COMMITTED would let a chain's rows run past the head read first.
                    options["isolation_level"] = "REPEATABLE READ"
                connection = connection.execution_options(**options)
                with connection.begin():
                    yield SqlTx(connection)
        except (OperationalError, ProgrammingError) as exc:
            raise _store_error(exc) from None

    @contextmanager
    def chain_rows(self, chain: str) -> Iterator[tuple[ChainHead, Iterator[ChainRow]]]:
        spec = chains.CHAINS[chain]
        with self.reading() as tx:
            head = chains.read_head(tx.connection, spec)
            yield head, chains.iter_chain_rows(tx.connection, spec)

    def count(self, table_name: str) -> int:
        table = {"audit_events": audit_events, "consent_events": consent_events}[table_name]
        with self.reading() as tx:
            return int(tx.connection.execute(select(func.count()).select_from(table)).scalar_one())


def _store_error(exc: Exception) -> StoreError:
    text = str(getattr(exc, "orig", exc)).splitlines()[0]
    if "no such table" in text or "does not exist" in text:
        return StoreError("the engine store is not initialised: run `steward init`")
    return StoreError(f"engine store error: {text}")
