"""What the request service needs from its collaborators, as protocols: the
rows of the engine store that hold requests, a way to send notices, and a way
to hand work to the job queue. The store adapter is
``datasteward.store.request_store``; the notices bridge and the queue live in
the adapters; tests may pass fakes with the same methods."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from datasteward.ports import EngineTx
from datasteward.requests.model import Request

__all__ = ["JobQueue", "Notices", "RequestRows"]


class RequestRows(Protocol):
    """Request, history, code and task rows inside one engine transaction.
    Rows are plain mappings with the column names of ``store.tables``."""

    def insert_request(self, row: Mapping[str, Any]) -> None: ...
    def request(self, request_id: str, *, for_update: bool = False) -> dict[str, Any] | None: ...
    def update_request(self, request_id: str, version: int, values: Mapping[str, Any]) -> bool: ...
    def list_requests(
        self,
        *,
        states: Collection[str] | None = None,
        extended: bool | None = None,
        due_before: date | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]: ...
    def count_recent(
        self, subject_id: str, type_: str, since: datetime, *, exclude: str
    ) -> int: ...
    def open_requests_of(self, subject_id: str) -> list[dict[str, Any]]: ...
    def add_event(self, row: Mapping[str, Any]) -> None: ...
    def events(self, request_id: str) -> list[dict[str, Any]]: ...

    def put_code(self, row: Mapping[str, Any]) -> None: ...
    def code(self, request_id: str) -> dict[str, Any] | None: ...
    def update_code(self, request_id: str, values: Mapping[str, Any]) -> None: ...

    def insert_task(self, row: Mapping[str, Any]) -> bool: ...
    def tasks_of(self, request_id: str) -> list[dict[str, Any]]: ...
    def task(self, task_id: str) -> dict[str, Any] | None: ...
    def claim_task(self, task_id: str, now: str, lease_until: str) -> bool: ...
    def update_task(self, task_id: str, values: Mapping[str, Any]) -> None: ...

    def insert_restriction(self, restriction_id: str, subject_id: str, since: str) -> None: ...
    def lift_restriction(self, subject_id: str, at: str) -> int: ...
    def set_objection_status(self, objection_id: str, status: str, at: str) -> bool: ...


class Notices(Protocol):
    """Sends what the request workflow must tell people and recipients. Each
    call adds to the outbox inside ``tx``, so the notice commits with the
    state change that caused it."""

    def to_subject(
        self, tx: EngineTx, request: Request, kind: str, context: Mapping[str, Any]
    ) -> None: ...

    def to_recipients(
        self,
        tx: EngineTx,
        request: Request,
        *,
        action: str,
        categories: Collection[str] | None,
    ) -> list[str]: ...


class JobQueue(Protocol):
    """Hands a task to the workers. Called after the transaction that created
    the task committed; a lost enqueue is recovered by ``requests resume``."""

    def enqueue_tasks(self, task_ids: Sequence[str]) -> None: ...
