"""An engine store for erasure checkpoints in tests: migrated, with the one
request row the ``dataset_checkpoints`` foreign key needs (and its subject),
inserted with plain SQL the way the request workflow would have."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Engine, insert

from datasteward.legaltime.instants import format_time
from datasteward.store import migrate
from datasteward.store.tables import requests, subjects

__all__ = ["add_request", "migrated"]

RECEIVED = datetime(2026, 10, 30, 8, 0, tzinfo=UTC)


def migrated(engine: Engine) -> Engine:
    migrate.upgrade(engine)
    return engine


def add_request(engine: Engine) -> str:
    """A new erasure request row (and its subject); its id."""
    subject_id, request_id = str(uuid.uuid4()), str(uuid.uuid4())
    at = format_time(RECEIVED)
    with engine.begin() as connection:
        connection.execute(insert(subjects).values(id=subject_id, created_at=at))
        connection.execute(
            insert(requests).values(
                id=request_id,
                type="erasure",
                state="in_progress",
                subject_id=subject_id,
                identity_kind="email",
                channel="email",
                received_at=at,
                due_date=date(2026, 11, 30),
                assurance="email_code",
                flags="[]",
                created_by="test:dpo",
                updated_at=at,
                version=1,
            )
        )
    return request_id
