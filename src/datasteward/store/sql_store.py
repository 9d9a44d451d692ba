"""The engine store on SQLAlchemy Core: implements ``datasteward.ports``.

Every statement is built with SQLAlchemy expressions, so every value is a
bound parameter. Reads that must see one consistent snapshot (verification,
listings) run in a read transaction."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    delete,
    desc,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from datasteward.audit.chain import ChainHead, ChainRow, Segment, check_segment
from datasteward.consent.model import (
    ConsentKind,
    ConsentRecord,
    Objection,
    ObjectionStatus,
    Restriction,
    SubjectFacts,
)
from datasteward.errors import StoreError
from datasteward.legaltime.instants import format_time, parse_time
from datasteward.ports import AuditEntry, StoredIdentity, StoredPolicy
from datasteward.store import chains
from datasteward.store.consent_queries import CONSENT_COLUMNS as _CONSENT_COLUMNS
from datasteward.store.consent_queries import consent_from_mapping as _consent_record
from datasteward.store.consent_queries import consent_from_tuple as _consent_tuple
from datasteward.store.consent_queries import decision_facts_from_rows
from datasteward.store.consent_queries import objection_from_tuple as _objection_tuple
from datasteward.store.consent_queries import statements as _statements
from datasteward.store.engine import READONLY, SQLITE_MMAP_BYTES
from datasteward.store.tables import (
    audit_events,
    consent_events,
    identities,
    objections,
    policy_versions,
    subjects,
)
from datasteward.store.tables import purpose_states as purpose_states_table

__all__ = ["SqlEngineStore", "SqlTx"]


class SqlTx:
    """One transaction on the engine store."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._sql = _statements(connection.dialect)

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
        rows = self._sql.policy_key.rows(self.connection, {})
        return None if not rows else (int(rows[0][0]), str(rows[0][1]))

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
        sql = self._sql
        rows = sql.find_subjects.rows(
            self.connection, {"kind": kind, "indexes": sql.list_param(blind_indexes)}
        )
        return {str(index): str(subject_id) for index, subject_id in rows}

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
        rows = self._sql.latest.rows(
            self.connection, {"sid": subject_id, "pid": purpose_id, "at": format_time(at)}
        )
        return None if not rows else _consent_tuple(rows[0])

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
        rows = self._sql.objections_of.rows(self.connection, {"sid": subject_id})
        return [_objection_tuple(r) for r in rows]

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
        """The latest event up to ``at`` per (subject, purpose), for a batch.

        Rows come in time order, so the last row per key wins; a record is
        built only for that one."""
        latest: dict[tuple[str, str], Any] = {}
        sql = self._sql
        rows = sql.latest_many.rows(
            self.connection, {"ids": sql.list_param(subject_ids), "at": format_time(at)}
        )
        for row in rows:
            latest[(row[2], row[3])] = row
        return {key: _consent_tuple(row) for key, row in latest.items()}

    def objections_for(self, subject_ids: Sequence[str]) -> dict[str, list[Objection]]:
        found: dict[str, list[Objection]] = {}
        sql = self._sql
        rows = sql.objections_for.rows(self.connection, {"ids": sql.list_param(subject_ids)})
        for r in rows:
            found.setdefault(r[1], []).append(_objection_tuple(r))
        return found

    def restrictions_for(self, subject_ids: Sequence[str]) -> dict[str, Restriction]:
        found: dict[str, Restriction] = {}
        sql = self._sql
        rows = sql.restrictions_for.rows(self.connection, {"ids": sql.list_param(subject_ids)})
        for r in rows:
            if r[1] not in found:
                found[r[1]] = Restriction(ref=r[0], since=parse_time(r[2]))
        return found

    def restriction_of(self, subject_id: str) -> Restriction | None:
        rows = self._sql.restriction_of.rows(self.connection, {"sid": subject_id})
        return None if not rows else Restriction(ref=rows[0][0], since=parse_time(rows[0][1]))


class SqlEngineStore:
    """Transactions on an SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._decision_facts = _statements(engine.dialect).decision_facts

    @contextmanager
    def _statement_connection(self) -> Iterator[Any]:
        """A pooled driver connection in autocommit mode: each statement is
        its own transaction and snapshot, with no BEGIN or COMMIT round trip.
        Only for single statements that read."""
        pooled = self.engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            if self._postgres:
                driver.autocommit = True
            try:
                yield driver
            finally:
                if self._postgres and not driver.closed:
                    driver.autocommit = False
        except DBAPIError as exc:
            if exc.connection_invalidated:
                pooled.invalidate()  # a lost connection never goes back into the pool
            if isinstance(exc, (OperationalError, ProgrammingError)):
                raise _store_error(exc) from None
            raise
        finally:
            pooled.close()

    def decision_facts(
        self, subject_id: str, purpose_id: str, at: datetime
    ) -> tuple[tuple[int, str] | None, SubjectFacts]:
        """The active policy's key (version, sha256) and one subject's facts
        for one purpose at ``at``, read in one statement: what a cold
        decision needs, in one round trip."""
        values = {"sid": subject_id, "pid": purpose_id, "at": format_time(at)}
        with self._statement_connection() as driver:
            rows = self._decision_facts.rows_on(driver, values)
        return decision_facts_from_rows(rows)

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

    @contextmanager
    def chain_material(
        self, chain: str
    ) -> Iterator[
        tuple[
            ChainHead,
            Iterator[tuple[Any, Any, Any, Any]],
            Callable[[int], Sequence[Any] | None],
        ]
    ]:
        """A chain as ``(seq, prev_hash, hash, material)`` rows whose hashed
        text the database builds (see ``audit.service.MaterialChainSource``),
        with the head and a reader of one row's fields, in one snapshot."""
        spec = chains.CHAINS[chain]
        with self.reading() as tx, _no_memory_map(tx.connection):
            head = chains.read_head(tx.connection, spec)
            with chains.MaterialReader(tx.connection, spec) as reader:
                rows = reader.rows()
                try:
                    yield head, rows, reader.fields_of
                finally:
                    rows.close()

    @contextmanager
    def chain_segments(
        self, chain: str, anchor_seq: int | None = None
    ) -> Iterator[
        tuple[
            ChainHead,
            list[Segment],
            Iterator[tuple[Any, Any, Any, Any]],
            Callable[[int], Sequence[Any] | None],
        ]
        | None
    ]:
        """Verify a long chain in stretches checked side by side (see
        ``audit.service.SegmentedChainSource``), up to the head read here;
        whatever follows the head (normally nothing) is read afterwards in
        this snapshot. On SQLite each stretch is checked by a worker process
        of its own (the work is Python's and SQLite's, in this process
        otherwise); on PostgreSQL by a thread with a connection of its own
        that shares this transaction's snapshot (``pg_export_snapshot``), so
        the server builds the stretches' material on several cores. Yields
        None for a short chain or an in-memory database: one pass is
        cheaper there."""
        spec = chains.CHAINS[chain]
        with self.reading() as tx, _no_memory_map(tx.connection):
            head = chains.read_head(tx.connection, spec)
            database = _sqlite_file(self.engine)
            if head.seq < PARALLEL_VERIFY_MIN_ROWS or (database is None and not self._postgres):
                yield None
                return
            parts = max(2, os.cpu_count() or 1)
            bounds = [head.seq * i // parts for i in range(parts + 1)]
            watched = tuple(s for s in (head.seq, anchor_seq) if s is not None)
            ranges = [(low + 1, high) for low, high in itertools.pairwise(bounds)]
            if database is not None:
                segments = chains.check_ranges(database, chain, ranges, watched)
            else:
                snapshot = str(
                    tx.connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                )
                with ThreadPoolExecutor(len(ranges), thread_name_prefix="steward-verify") as pool:
                    segments = list(
                        pool.map(
                            lambda r: self._segment_in_snapshot(snapshot, spec, r, watched),
                            ranges,
                        )
                    )
            with chains.MaterialReader(tx.connection, spec) as reader:
                tail = reader.rows(after=head.seq)
                try:
                    yield head, segments, tail, reader.fields_of
                finally:
                    tail.close()

    def _segment_in_snapshot(
        self, snapshot: str, spec: chains.Chain, bounds: tuple[int, int], watched: tuple[int, ...]
    ) -> Segment:
        """One stretch of a PostgreSQL chain, read in the exported snapshot."""
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise StoreError(f"unexpected snapshot id from the server: {snapshot!r}")
        low, high = bounds
        with self.reading() as tx:
            # must come first in the transaction; an id is no bindable value
            tx.connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            with chains.MaterialReader(tx.connection, spec, upto=high) as reader:
                rows = reader.rows(after=low - 1)
                try:
                    return check_segment(rows, fields_of=reader.fields_of, watched=watched)
                finally:
                    rows.close()

    def count(self, table_name: str) -> int:
        table = {"audit_events": audit_events, "consent_events": consent_events}[table_name]
        with self.reading() as tx:
            return int(tx.connection.execute(select(func.count()).select_from(table)).scalar_one())


@contextmanager
def _no_memory_map(connection: Connection) -> Iterator[None]:
    """Read a whole chain without SQLite's memory map: a scan would map the
    entire file into this process (page cache, but counted as its resident
    memory), and sequential reads gain nothing from it."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver: Any = connection.connection.driver_connection
    driver.execute("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")


PARALLEL_VERIFY_MIN_ROWS = 200_000
"""Below this many rows a chain is verified in one pass: starting worker
processes costs about a second."""

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9A-F]+)?")


def _sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):
        return None  # URI forms (shared memory and the like) stay in one process
    return database


def _store_error(exc: Exception) -> StoreError:
    text = (str(getattr(exc, "orig", exc)).splitlines() or [type(exc).__name__])[0]
    if "no such table" in text or "does not exist" in text:
        return StoreError("the engine store is not initialised: run `steward init`")
    return StoreError(f"engine store error: {text}")
