"""The engine store's first schema: policy versions, subjects and identities,
the consent ledger, the audit log, their chain heads, objections and
restrictions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = 27
HASH = 64


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(HASH), nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("applied_at", sa.String(TIME), nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
        sa.Column("source_file", sa.String(500), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("material", sa.Boolean, nullable=False),
        sa.Column("diff_json", sa.Text, nullable=False),
    )
    op.create_table(
        "purpose_states",
        sa.Column(
            "policy_version", sa.Integer, sa.ForeignKey("policy_versions.id"), primary_key=True
        ),
        sa.Column("purpose_id", sa.String(64), primary_key=True),
        sa.Column("consent_hash", sa.String(HASH), nullable=False),
        sa.Column("fingerprint", sa.String(HASH), nullable=False),
    )
    op.create_table(
        "subjects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.String(TIME), nullable=False),
        sa.Column("shredded_at", sa.String(TIME), nullable=True),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("blind_index", sa.String(HASH), nullable=False),
        sa.Column("index_kid", sa.String(32), nullable=False),
        sa.Column("value_enc", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(TIME), nullable=False),
        sa.UniqueConstraint("kind", "blind_index"),
    )
    op.create_index("ix_identities_subject_id", "identities", ["subject_id"])
    op.create_table(
        "chain_heads",
        sa.Column("chain", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(HASH), nullable=False),
    )
    op.bulk_insert(
        sa.table(
            "chain_heads",
            sa.column("chain", sa.String),
            sa.column("seq", sa.BigInteger),
            sa.column("hash", sa.String),
        ),
        [
            {"chain": "audit", "seq": 0, "hash": "0" * 64},
            {"chain": "consent", "seq": 0, "hash": "0" * 64},
        ],
    )
    op.create_table(
        "consent_events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("purpose_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.String(TIME), nullable=False),
        sa.Column("expires_at", sa.String(TIME), nullable=True),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("purpose_hash", sa.String(HASH), nullable=False),
        sa.Column("notice_hash", sa.String(HASH), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("source_enc", sa.LargeBinary, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("prev_hash", sa.String(HASH), nullable=False),
        sa.Column("hash", sa.String(HASH), nullable=False),
    )
    op.create_index(
        "ix_consent_events_subject_purpose_time",
        "consent_events",
        ["subject_id", "purpose_id", "occurred_at"],
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.String(TIME), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(HASH), nullable=False),
        sa.Column("hash", sa.String(HASH), nullable=False),
    )
    op.create_index("ix_audit_events_object", "audit_events", ["object_type", "object_id"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_table(
        "objections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("purpose_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(TIME), nullable=False),
        sa.Column("decided_at", sa.String(TIME), nullable=True),
    )
    op.create_index("ix_objections_subject_id", "objections", ["subject_id"])
    op.create_table(
        "restrictions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("since", sa.String(TIME), nullable=False),
        sa.Column("lifted_at", sa.String(TIME), nullable=True),
    )
    op.create_index("ix_restrictions_subject_id", "restrictions", ["subject_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_restrictions_subject_id", "restrictions"),
        ("ix_objections_subject_id", "objections"),
        ("ix_audit_events_action", "audit_events"),
        ("ix_audit_events_object", "audit_events"),
        ("ix_consent_events_subject_purpose_time", "consent_events"),
        ("ix_identities_subject_id", "identities"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "restrictions",
        "objections",
        "audit_events",
        "consent_events",
        "chain_heads",
        "identities",
        "subjects",
        "purpose_states",
        "policy_versions",
    ):
        op.drop_table(table)
