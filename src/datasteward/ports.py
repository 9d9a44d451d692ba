"""The seams between use cases and adapters.

Use cases (``consent.service``, ``policy.apply``, ``subjects.service``,
``audit.service``) are written against these protocols; the engine store in
``datasteward.store`` implements them on SQLAlchemy, and tests may hand in
anything with the same methods. Nothing here does I/O."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from datasteward.audit.chain import ChainHead, ChainRow
from datasteward.consent.model import ConsentRecord, Objection, Restriction

__all__ = [
    "AuditEntry",
    "ConnectorFactory",
    "EngineStore",
    "EngineTx",
    "ErasureOutcome",
    "FieldsOutcome",
    "KeyStore",
    "StoredIdentity",
    "StoredPolicy",
    "StoredSubjectKey",
    "SystemConnector",
]


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """An applied policy version as the store keeps it."""

    id: int
    label: str
    sha256: str
    effective_date: date
    applied_at: datetime
    applied_by: str
    source_file: str
    text: str
    material: bool


@dataclass(frozen=True, slots=True)
class StoredIdentity:
    subject_id: str
    kind: str
    blind_index: str
    index_kid: str
    value_enc: bytes


@dataclass(frozen=True, slots=True)
class StoredSubjectKey:
    subject_id: str
    kid: str
    wrapped: bytes | None
    destroyed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit event, as listed by ``steward audit show``."""

    seq: int
    occurred_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    reason: str
    policy_version: int | None
    details: Mapping[str, Any]


class EngineTx(Protocol):
    """One transaction on the engine store: everything inside commits together."""

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
    ) -> int: ...

    # policy versions
    def active_policy(self) -> StoredPolicy | None: ...
    def active_policy_key(self) -> tuple[int, str] | None: ...
    def purpose_states(self, policy_version: int) -> dict[str, tuple[str, str]]: ...
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
    ) -> int: ...

    # subjects and identities
    def find_subject(self, kind: str, blind_indexes: Sequence[str]) -> str | None: ...
    def find_subjects(self, kind: str, blind_indexes: Sequence[str]) -> dict[str, str]: ...
    def create_subject(self, subject_id: str, at: datetime) -> None: ...
    def claim_subject(self, subject_id: str, identity: StoredIdentity, at: datetime) -> str: ...
    def add_identity(self, identity: StoredIdentity, at: datetime) -> None: ...
    def identities_of(self, subject_id: str) -> list[StoredIdentity]: ...
    def all_identities(self) -> Iterator[StoredIdentity]: ...
    def reindex_identity(
        self, subject_id: str, kind: str, old_index: str, new_index: str, kid: str
    ) -> None: ...
    def mark_shredded(self, subject_id: str, at: datetime) -> None: ...
    def delete_identities(self, subject_id: str) -> int: ...
    def subject_exists(self, subject_id: str) -> bool: ...

    # consent ledger
    def append_consent(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]: ...
    def consent_events(
        self, subject_id: str, purpose_id: str | None = None
    ) -> list[ConsentRecord]: ...
    def latest_consent(
        self, subject_id: str, purpose_id: str, at: datetime
    ) -> ConsentRecord | None: ...
    def consent_source(self, seq: int) -> bytes | None: ...
    def lapsed_consents(self, at: datetime, limit: int) -> list[ConsentRecord]: ...
    def objections_of(self, subject_id: str) -> list[Objection]: ...
    def insert_objection(self, objection: Objection, subject_id: str) -> None: ...
    def restriction_of(self, subject_id: str) -> Restriction | None: ...
    def latest_consents(
        self, subject_ids: Sequence[str], at: datetime
    ) -> dict[tuple[str, str], ConsentRecord]: ...
    def objections_for(self, subject_ids: Sequence[str]) -> dict[str, list[Objection]]: ...
    def restrictions_for(self, subject_ids: Sequence[str]) -> dict[str, Restriction]: ...

    # audit log
    def audit_entries(
        self,
        *,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]: ...


class EngineStore(Protocol):
    """The engine store: hands out transactions and reads chains."""

    def transaction(self) -> AbstractContextManager[EngineTx]: ...
    def reading(self) -> AbstractContextManager[EngineTx]: ...
    def chain_rows(
        self, chain: str
    ) -> AbstractContextManager[tuple[ChainHead, Iterator[ChainRow]]]: ...


class ErasureOutcome(Protocol):
    """What erasing one dataset did (the connector's result)."""

    @property
    def rows_matched(self) -> int: ...
    @property
    def rows_deleted(self) -> int: ...
    @property
    def changed(self) -> Mapping[str, int]: ...
    @property
    def refused(self) -> Mapping[str, int]: ...
    @property
    def held(self) -> Sequence[Any]:
        """Per legal hold split by rows (``fulfilment.report.HeldRows``)."""
        ...


class FieldsOutcome(Protocol):
    """What writing new values into one dataset did (rectification, restriction)."""

    @property
    def rows_matched(self) -> int: ...
    @property
    def changed(self) -> Mapping[str, int]: ...


class SystemConnector(Protocol):
    """A connection to one company system (``datasteward.connectors.SqlConnector``).

    ``connect`` yields an opaque connection that the other methods take; all
    work done with it commits or rolls back together."""

    def connect(self, *, readonly: bool = False) -> AbstractContextManager[Any]: ...
    def columns(self, dataset: str) -> Mapping[str, Any]: ...
    def reflection(self) -> Any: ...
    def count_rows(self, conn: Any, scope: Any, identities: Any) -> Mapping[str, int]: ...
    def stream_rows(
        self, conn: Any, scope: Any, dataset: str, identities: Any, columns: Sequence[str]
    ) -> Iterator[dict[str, Any]]: ...
    def apply_erasure(
        self,
        conn: Any,
        scope: Any,
        dataset: str,
        identities: Any,
        actions: Any,
        *,
        holds: Sequence[Any] = (),
    ) -> ErasureOutcome: ...
    def update_fields(
        self, conn: Any, scope: Any, identities: Any, values: Mapping[str, Sequence[Any]]
    ) -> Mapping[str, FieldsOutcome]: ...
    def close(self) -> None: ...


class ConnectorFactory(Protocol):
    """Builds the connector of a system, or returns None when the system has
    no connection configured (its URL variable is unset)."""

    def __call__(self, system: Any, /) -> SystemConnector | None: ...


class KeyStore(Protocol):
    """Where subjects' wrapped data keys live, apart from the engine store."""

    def put(self, subject_id: str, kid: str, wrapped: bytes, at: datetime) -> None: ...
    def get(self, subject_id: str) -> StoredSubjectKey | None: ...
    def destroy(self, subject_id: str, at: datetime) -> bool: ...
    def all_keys(self) -> list[StoredSubjectKey]: ...
    def rewrap(self, subject_id: str, kid: str, wrapped: bytes) -> None: ...
    def discard(self, subject_id: str) -> None: ...
