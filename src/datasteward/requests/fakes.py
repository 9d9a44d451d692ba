"""Fakes of the request workflow's seams, shipped beside them for tests and
for trying the workflow without a mail server."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datasteward.ports import EngineTx
from datasteward.requests.model import Request

__all__ = ["RecordingNotices", "RecordingQueue", "SentNotice"]


@dataclass(frozen=True)
class SentNotice:
    request_id: str
    kind: str
    context: dict[str, Any]


@dataclass
class RecordingNotices:
    """Remembers every notice instead of sending it."""

    sent: list[SentNotice] = field(default_factory=list)
    recipients: list[tuple[str, str]] = field(default_factory=list)
    recipient_ids: tuple[str, ...] = ()

    def to_subject(
        self, tx: EngineTx, request: Request, kind: str, context: Mapping[str, Any]
    ) -> None:
        self.sent.append(SentNotice(request.id, kind, dict(context)))

    def to_recipients(
        self,
        tx: EngineTx,
        request: Request,
        *,
        action: str,
        categories: Collection[str] | None,
    ) -> list[str]:
        for recipient_id in self.recipient_ids:
            self.recipients.append((request.id, f"{action}:{recipient_id}"))
        return list(self.recipient_ids)

    def kinds(self, request_id: str) -> list[str]:
        return [n.kind for n in self.sent if n.request_id == request_id]

    def last(self, request_id: str, kind: str) -> SentNotice:
        return [n for n in self.sent if n.request_id == request_id and n.kind == kind][-1]


@dataclass
class RecordingQueue:
    """A job queue that only remembers what was enqueued."""

    enqueued: list[str] = field(default_factory=list)

    def enqueue_tasks(self, task_ids: Sequence[str]) -> None:
        self.enqueued.extend(task_ids)
