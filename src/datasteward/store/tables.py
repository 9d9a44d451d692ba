"""The engine's own tables (SQLAlchemy Core). Migrations create them; this
module is what queries are written against.

Instants are fixed-width UTC text (see ``legaltime.instants``) so that the
exact stored text is what the hash chains cover, on every database. Personal
data never appears in clear: identities and consent source details are
ciphertexts under the subject's own data key, found by a keyed blind index."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "KEYSTORE_METADATA",
    "METADATA",
    "audit_events",
    "chain_heads",
    "consent_events",
    "dataset_checkpoints",
    "identities",
    "objections",
    "outbox",
    "policy_versions",
    "purpose_states",
    "request_events",
    "requests",
    "restrictions",
    "subject_keys",
    "subjects",
    "sweep_progress",
    "tasks",
    "verification_codes",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = MetaData(naming_convention=NAMING)

TIME = 27  # len("2026-01-31T09:00:00.000000Z")
HASH = 64

policy_versions = Table(
    "policy_versions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(200), nullable=False),
    Column("sha256", String(HASH), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("applied_at", String(TIME), nullable=False),
    Column("applied_by", String(200), nullable=False),
    Column("source_file", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("material", Boolean, nullable=False),
    Column("diff_json", Text, nullable=False),
)

purpose_states = Table(
    "purpose_states",
    METADATA,
    Column("policy_version", Integer, ForeignKey("policy_versions.id"), primary_key=True),
    Column("purpose_id", String(64), primary_key=True),
    Column("consent_hash", String(HASH), nullable=False),
    Column("fingerprint", String(HASH), nullable=False),
)

subjects = Table(
    "subjects",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("created_at", String(TIME), nullable=False),
    Column("shredded_at", String(TIME), nullable=True),
)

identities = Table(
    "identities",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("blind_index", String(HASH), nullable=False),
    Column("index_kid", String(32), nullable=False),
    Column("value_enc", LargeBinary, nullable=False),
    Column("created_at", String(TIME), nullable=False),
    UniqueConstraint("kind", "blind_index"),
)

chain_heads = Table(
    "chain_heads",
    METADATA,
    Column("chain", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(HASH), nullable=False),
)

consent_events = Table(
    "consent_events",
    METADATA,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False),
    Column("purpose_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("occurred_at", String(TIME), nullable=False),
    Column("expires_at", String(TIME), nullable=True),
    Column("policy_version", Integer, nullable=False),
    Column("purpose_hash", String(HASH), nullable=False),
    Column("notice_hash", String(HASH), nullable=True),
    Column("channel", String(32), nullable=False),
    Column("source_enc", LargeBinary, nullable=True),
    Column("actor", String(200), nullable=False),
    Column("prev_hash", String(HASH), nullable=False),
    Column("hash", String(HASH), nullable=False),
    Index("ix_consent_events_subject_purpose_time", "subject_id", "purpose_id", "occurred_at"),
)

audit_events = Table(
    "audit_events",
    METADATA,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("occurred_at", String(TIME), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("policy_version", Integer, nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(HASH), nullable=False),
    Column("hash", String(HASH), nullable=False),
    Index("ix_audit_events_object", "object_type", "object_id"),
    Index("ix_audit_events_action", "action"),
)

objections = Table(
    "objections",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("scope", String(32), nullable=False),
    Column("purpose_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", String(TIME), nullable=False),
    Column("decided_at", String(TIME), nullable=True),
)

restrictions = Table(
    "restrictions",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("since", String(TIME), nullable=False),
    Column("lifted_at", String(TIME), nullable=True),
)

# -- data subject requests -------------------------------------------------

requests = Table(
    "requests",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("state", String(24), nullable=False),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False),
    Column("identity_kind", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("received_at", String(TIME), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("extended_due_date", Date, nullable=True),
    Column("verified_at", String(TIME), nullable=True),
    Column("assurance", String(32), nullable=False),
    Column("flags", Text, nullable=False),
    Column("details_enc", LargeBinary, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", String(TIME), nullable=False),
    Column("closed_at", String(TIME), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_requests_state_due", "state", "due_date"),
    Index("ix_requests_subject_type", "subject_id", "type"),
)

request_events = Table(
    "request_events",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("at", String(TIME), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(24), nullable=True),
    Column("to_state", String(24), nullable=False),
    Column("reason", Text, nullable=False),
)

verification_codes = Table(
    "verification_codes",
    METADATA,
    Column("request_id", String(36), ForeignKey("requests.id"), primary_key=True),
    Column("code_hash", String(HASH), nullable=False),
    Column("index_kid", String(32), nullable=False),
    Column("issued_at", String(TIME), nullable=False),
    Column("expires_at", String(TIME), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("locked_at", String(TIME), nullable=True),
    Column("used_at", String(TIME), nullable=True),
)

tasks = Table(
    "tasks",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("system", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(24), nullable=False),
    Column("assignee", String(200), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("instructions", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_until", String(TIME), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", Text, nullable=True),
    Column("confirmed_by", String(200), nullable=True),
    Column("confirmed_at", String(TIME), nullable=True),
    Column("updated_at", String(TIME), nullable=False),
    UniqueConstraint("request_id", "system", "kind"),
    Index("ix_tasks_state", "state"),
)

dataset_checkpoints = Table(
    "dataset_checkpoints",
    METADATA,
    Column("request_id", String(36), ForeignKey("requests.id"), primary_key=True),
    Column("system", String(64), primary_key=True),
    Column("dataset", String(128), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("result", Text, nullable=False),
    Column("at", String(TIME), nullable=False),
)

# -- notifications ------------------------------------------------------------

outbox = Table(
    "outbox",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("template", String(64), nullable=False),
    Column("subject_id", String(36), nullable=True),
    Column("request_id", String(36), nullable=True, index=True),
    Column("recipient_id", String(64), nullable=True),
    Column("payload_enc", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(TIME), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", String(TIME), nullable=False),
    Column("sent_at", String(TIME), nullable=True),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
)

# -- retention sweeps ---------------------------------------------------------

sweep_progress = Table(
    "sweep_progress",
    METADATA,
    Column("run_id", String(36), primary_key=True),
    Column("rule_id", String(64), primary_key=True),
    Column("system", String(64), primary_key=True),
    Column("dataset", String(128), primary_key=True),
    Column("cutoff", String(TIME), nullable=False),
    Column("last_key", Text, nullable=True),
    Column("rows_done", BigInteger, nullable=False),
    Column("rows_held", BigInteger, nullable=False),
    Column("batches", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", String(TIME), nullable=False),
    Column("updated_at", String(TIME), nullable=False),
    Column("finished_at", String(TIME), nullable=True),
)

# -- the key store: a separate database, so engine backups never hold keys --

KEYSTORE_METADATA = MetaData(naming_convention=NAMING)

subject_keys = Table(
    "subject_keys",
    KEYSTORE_METADATA,
    Column("subject_id", String(36), primary_key=True),
    Column("kid", String(32), nullable=False),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", String(TIME), nullable=False),
    Column("destroyed_at", String(TIME), nullable=True),
)
