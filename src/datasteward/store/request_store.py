"""Request, history, verification-code and task rows on SQLAlchemy Core
(implements ``datasteward.requests.ports.RequestRows``).

Updates of a request are optimistic: they name the version they read and
change nothing when another writer got there first, so two staff members (or
a worker and a staff member) never overwrite each other's transition. A task
is claimed by one conditional UPDATE, so two workers given the same task run
it once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from datasteward.legaltime.instants import format_time
from datasteward.store.tables import (
    objections,
    request_events,
    requests,
    restrictions,
    tasks,
    verification_codes,
)

__all__ = ["SqlRequestRows"]

CLOSED = ("completed", "refused", "cancelled")


class SqlRequestRows:
    """Request rows inside one engine transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # -- requests ----------------------------------------------------------------

    def insert_request(self, row: Mapping[str, Any]) -> None:
        self.connection.execute(insert(requests).values(**row))

    def request(self, request_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        query = select(requests).where(requests.c.id == request_id)
        if for_update and self.connection.dialect.name != "sqlite":
            query = query.with_for_update()
        row = self.connection.execute(query).mappings().first()
        return dict(row) if row is not None else None

    def update_request(self, request_id: str, version: int, values: Mapping[str, Any]) -> bool:
        result = self.connection.execute(
            update(requests)
            .where(and_(requests.c.id == request_id, requests.c.version == version))
            .values(**values, version=version + 1)
        )
        return result.rowcount == 1

    def list_requests(
        self,
        *,
        states: Collection[str] | None = None,
        extended: bool | None = None,
        due_before: date | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = select(requests)
        if states is not None:
            query = query.where(requests.c.state.in_(list(states)))
        if extended is not None:
            column = requests.c.extended_due_date
            query = query.where(column.is_not(None) if extended else column.is_(None))
        if due_before is not None:
            effective = func.coalesce(requests.c.extended_due_date, requests.c.due_date)
            query = query.where(effective <= due_before)
        query = query.order_by(
            func.coalesce(requests.c.extended_due_date, requests.c.due_date),
            requests.c.received_at,
            requests.c.id,
        ).limit(limit)
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def count_recent(self, subject_id: str, type_: str, since: datetime, *, exclude: str) -> int:
        query = (
            select(func.count())
            .select_from(requests)
            .where(
                requests.c.subject_id == subject_id,
                requests.c.type == type_,
                requests.c.received_at >= format_time(since),
                requests.c.id != exclude,
                requests.c.state != "cancelled",
            )
        )
        return int(self.connection.execute(query).scalar_one())

    def open_requests_of(self, subject_id: str) -> list[dict[str, Any]]:
        query = select(requests).where(
            requests.c.subject_id == subject_id, requests.c.state.not_in(CLOSED)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def add_event(self, row: Mapping[str, Any]) -> None:
        self.connection.execute(insert(request_events).values(**row))

    def events(self, request_id: str) -> list[dict[str, Any]]:
        query = (
            select(request_events)
            .where(request_events.c.request_id == request_id)
            .order_by(request_events.c.id)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()]

    # -- verification codes -------------------------------------------------------------

    def put_code(self, row: Mapping[str, Any]) -> None:
        table = verification_codes
        exists = self.connection.execute(
            select(table.c.request_id).where(table.c.request_id == row["request_id"])
        ).first()
        if exists is None:
            self.connection.execute(insert(table).values(**row))
        else:
            self.connection.execute(
                update(table).where(table.c.request_id == row["request_id"]).values(**row)
            )

    def code(self, request_id: str) -> dict[str, Any] | None:
        table = verification_codes
        row = (
            self.connection.execute(select(table).where(table.c.request_id == request_id))
            .mappings()
            .first()
        )
        return dict(row) if row is not None else None

    def update_code(self, request_id: str, values: Mapping[str, Any]) -> None:
        table = verification_codes
        self.connection.execute(
            update(table).where(table.c.request_id == request_id).values(**values)
        )

    # -- tasks ---------------------------------------------------------------------------

    def insert_task(self, row: Mapping[str, Any]) -> bool:
        """Insert unless the request already has a task for that system and kind."""
        try:
            with self.connection.begin_nested():
                self.connection.execute(insert(tasks).values(**row))
        except IntegrityError:
            return False
        return True

    def tasks_of(self, request_id: str) -> list[dict[str, Any]]:
        query = (
            select(tasks)
            .where(tasks.c.request_id == request_id)
            .order_by(tasks.c.kind, tasks.c.system)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def task(self, task_id: str) -> dict[str, Any] | None:
        row = self.connection.execute(select(tasks).where(tasks.c.id == task_id)).mappings().first()
        return dict(row) if row is not None else None

    def claim_task(self, task_id: str, now: str, lease_until: str) -> bool:
        """pending (or running with a lapsed lease) -> running, for one caller only."""
        result = self.connection.execute(
            update(tasks)
            .where(
                tasks.c.id == task_id,
                or_(
                    tasks.c.state == "pending",
                    and_(tasks.c.state == "running", tasks.c.lease_until < now),
                ),
            )
            .values(
                state="running",
                lease_until=lease_until,
                attempts=tasks.c.attempts + 1,
                updated_at=now,
            )
        )
        return result.rowcount == 1

    def update_task(self, task_id: str, values: Mapping[str, Any]) -> None:
        self.connection.execute(update(tasks).where(tasks.c.id == task_id).values(**values))

    # -- restriction and objection records ------------------------------------------------

    def insert_restriction(self, restriction_id: str, subject_id: str, since: str) -> None:
        self.connection.execute(
            insert(restrictions).values(id=restriction_id, subject_id=subject_id, since=since)
        )

    def lift_restriction(self, subject_id: str, at: str) -> int:
        result = self.connection.execute(
            update(restrictions)
            .where(restrictions.c.subject_id == subject_id, restrictions.c.lifted_at.is_(None))
            .values(lifted_at=at)
        )
        return int(result.rowcount)

    def set_objection_status(self, objection_id: str, status: str, at: str) -> bool:
        result = self.connection.execute(
            update(objections)
            .where(objections.c.id == objection_id, objections.c.status == "pending")
            .values(status=status, decided_at=at)
        )
        return result.rowcount == 1
