"""Data subject requests, their history, verification codes, per-system tasks
and per-dataset checkpoints; the notification outbox; retention sweep
progress.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIME = 27
HASH = 64


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("identity_kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("received_at", sa.String(TIME), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("extended_due_date", sa.Date, nullable=True),
        sa.Column("verified_at", sa.String(TIME), nullable=True),
        sa.Column("assurance", sa.String(32), nullable=False),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("details_enc", sa.LargeBinary, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.String(TIME), nullable=False),
        sa.Column("closed_at", sa.String(TIME), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_requests_state_due", "requests", ["state", "due_date"])
    op.create_index("ix_requests_subject_type", "requests", ["subject_id", "type"])
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("at", sa.String(TIME), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(24), nullable=True),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_request_events_request_id", "request_events", ["request_id"])
    op.create_table(
        "verification_codes",
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("code_hash", sa.String(HASH), nullable=False),
        sa.Column("index_kid", sa.String(32), nullable=False),
        sa.Column("issued_at", sa.String(TIME), nullable=False),
        sa.Column("expires_at", sa.String(TIME), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("locked_at", sa.String(TIME), nullable=True),
        sa.Column("used_at", sa.String(TIME), nullable=True),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("instructions", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.String(TIME), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("confirmed_by", sa.String(200), nullable=True),
        sa.Column("confirmed_at", sa.String(TIME), nullable=True),
        sa.Column("updated_at", sa.String(TIME), nullable=False),
        sa.UniqueConstraint("request_id", "system", "kind"),
    )
    op.create_index("ix_tasks_state", "tasks", ["state"])
    op.create_table(
        "dataset_checkpoints",
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), primary_key=True),
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("at", sa.String(TIME), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(36), nullable=True),
        sa.Column("recipient_id", sa.String(64), nullable=True),
        sa.Column("payload_enc", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.String(TIME), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(TIME), nullable=False),
        sa.Column("sent_at", sa.String(TIME), nullable=True),
    )
    op.create_index("ix_outbox_request_id", "outbox", ["request_id"])
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "sweep_progress",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("rule_id", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("cutoff", sa.String(TIME), nullable=False),
        sa.Column("last_key", sa.Text, nullable=True),
        sa.Column("rows_done", sa.BigInteger, nullable=False),
        sa.Column("rows_held", sa.BigInteger, nullable=False),
        sa.Column("batches", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(TIME), nullable=False),
        sa.Column("updated_at", sa.String(TIME), nullable=False),
        sa.Column("finished_at", sa.String(TIME), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sweep_progress")
    op.drop_index("ix_outbox_status_next", table_name="outbox")
    op.drop_index("ix_outbox_request_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("dataset_checkpoints")
    op.drop_index("ix_tasks_state", table_name="tasks")
    op.drop_table("tasks")
    op.drop_table("verification_codes")
    op.drop_index("ix_request_events_request_id", table_name="request_events")
    op.drop_table("request_events")
    op.drop_index("ix_requests_subject_type", table_name="requests")
    op.drop_index("ix_requests_state_due", table_name="requests")
    op.drop_table("requests")
