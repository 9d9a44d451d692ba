"""Subjects' wrapped data keys, in a database of their own.

Keeping them apart from the engine store means a backup or copy of the engine
database never holds the keys that open what it says about people: once a
subject's key is destroyed here, every copy of the engine database, old
backups included, keeps only ciphertext for them. Destroying overwrites the
wrapped key with NULL and records when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from datasteward.legaltime.instants import format_time, parse_time
from datasteward.ports import StoredSubjectKey
from datasteward.store.tables import subject_keys

__all__ = ["SqlKeyStore"]


class SqlKeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, subject_id: str, kid: str, wrapped: bytes, at: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(subject_keys).values(
                    subject_id=subject_id, kid=kid, wrapped=wrapped, created_at=format_time(at)
                )
            )

    def get(self, subject_id: str) -> StoredSubjectKey | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(subject_keys).where(subject_keys.c.subject_id == subject_id)
            ).first()
        if row is None:
            return None
        return StoredSubjectKey(
            subject_id=row.subject_id,
            kid=row.kid,
            wrapped=bytes(row.wrapped) if row.wrapped is not None else None,
            destroyed_at=parse_time(row.destroyed_at) if row.destroyed_at else None,
        )

    def destroy(self, subject_id: str, at: datetime) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(subject_keys)
                .where(subject_keys.c.subject_id == subject_id, subject_keys.c.wrapped.is_not(None))
                .values(wrapped=None, destroyed_at=format_time(at))
            )
        if self.engine.dialect.name == "sqlite":
            self._checkpoint()
        return bool(result.rowcount)

    def _checkpoint(self) -> None:
        """Move the WAL into the file and empty it, so the old key bytes are
        overwritten (secure_delete) rather than left in the log. Runs outside
        any transaction: SQLite refuses a checkpoint inside one."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()

    def all_keys(self) -> list[StoredSubjectKey]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(subject_keys).order_by(subject_keys.c.subject_id))
            return [
                StoredSubjectKey(
                    subject_id=r.subject_id,
                    kid=r.kid,
                    wrapped=bytes(r.wrapped) if r.wrapped is not None else None,
                    destroyed_at=parse_time(r.destroyed_at) if r.destroyed_at else None,
                )
                for r in rows
            ]

    def discard(self, subject_id: str) -> None:
        """Remove a key that was never used (its subject lost a creation race)."""
        with self.engine.begin() as connection:
            connection.execute(delete(subject_keys).where(subject_keys.c.subject_id == subject_id))

    def rewrap(self, subject_id: str, kid: str, wrapped: bytes) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(subject_keys)
                .where(subject_keys.c.subject_id == subject_id)
                .values(kid=kid, wrapped=wrapped)
            )
