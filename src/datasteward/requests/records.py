"""Turning stored request rows into values and back, with the request's
details sealed under the subject's own data key (so crypto-shredding a
subject also makes what their requests said unreadable)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from datasteward.crypto import open_sealed, seal
from datasteward.legaltime.instants import parse_time
from datasteward.requests.model import (
    Request,
    RequestEvent,
    RequestState,
    RequestType,
    Task,
    TaskKind,
    TaskState,
)

__all__ = ["event_from_row", "open_details", "request_from_row", "seal_details", "task_from_row"]


def _aad(request_id: str) -> bytes:
    return f"request-details:{request_id}".encode()


def seal_details(data_key: bytes, request_id: str, details: Mapping[str, Any]) -> bytes:
    return seal(data_key, json.dumps(dict(details), sort_keys=True).encode(), aad=_aad(request_id))


def open_details(data_key: bytes | None, request_id: str, sealed: bytes | None) -> dict[str, Any]:
    """The details, or ``{"shredded": True}`` once the subject's key is gone."""
    if sealed is None:
        return {}
    if data_key is None:
        return {"shredded": True}
    opened = json.loads(open_sealed(data_key, sealed, aad=_aad(request_id)))
    assert isinstance(opened, dict)
    return opened


def request_from_row(row: Mapping[str, Any], details: dict[str, Any]) -> Request:
    return Request(
        id=row["id"],
        type=RequestType(row["type"]),
        state=RequestState(row["state"]),
        subject_id=row["subject_id"],
        identity_kind=row["identity_kind"],
        channel=row["channel"],
        received_at=parse_time(row["received_at"]),
        due_date=row["due_date"],
        extended_due_date=row["extended_due_date"],
        verified_at=parse_time(row["verified_at"]) if row["verified_at"] else None,
        assurance=row["assurance"],
        flags=tuple(json.loads(row["flags"])),
        details=details,
        created_by=row["created_by"],
        updated_at=parse_time(row["updated_at"]),
        closed_at=parse_time(row["closed_at"]) if row["closed_at"] else None,
        version=int(row["version"]),
    )


def event_from_row(row: Mapping[str, Any]) -> RequestEvent:
    return RequestEvent(
        at=parse_time(row["at"]),
        actor=row["actor"],
        action=row["action"],
        from_state=RequestState(row["from_state"]) if row["from_state"] else None,
        to_state=RequestState(row["to_state"]),
        reason=row["reason"],
    )


def task_from_row(row: Mapping[str, Any]) -> Task:
    return Task(
        id=row["id"],
        request_id=row["request_id"],
        system=row["system"],
        kind=TaskKind(row["kind"]),
        state=TaskState(row["state"]),
        attempts=int(row["attempts"]),
        assignee=row["assignee"],
        due_date=row["due_date"],
        instructions=row["instructions"],
        last_error=row["last_error"],
        result=json.loads(row["result"]) if row["result"] else {},
        confirmed_by=row["confirmed_by"],
        confirmed_at=parse_time(row["confirmed_at"]) if row["confirmed_at"] else None,
    )
