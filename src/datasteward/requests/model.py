"""Data subject requests as values: their types, states, refusal grounds and
the record the engine keeps of each. Pure.

``Request.details`` holds what the request is about beyond its type (the
corrections asked for, the purposes objected to, the question sent back to
the person, a fee): it may hold personal data, so the store keeps it
encrypted under the subject's own data key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any

__all__ = [
    "CLOSED_STATES",
    "OPEN_STATES",
    "Flag",
    "RefusalGround",
    "Request",
    "RequestEvent",
    "RequestState",
    "RequestType",
    "Task",
    "TaskKind",
    "TaskState",
]


class RequestType(StrEnum):
    """The rights a request exercises (Art. 7(3), 15-18, 20, 21)."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    WITHDRAW_CONSENT = "withdraw_consent"

    @property
    def article(self) -> str:
        return {
            "access": "Art. 15",
            "rectification": "Art. 16",
            "erasure": "Art. 17",
            "restriction": "Art. 18",
            "portability": "Art. 20",
            "objection": "Art. 21",
            "withdraw_consent": "Art. 7(3)",
        }[self.value]


class RequestState(StrEnum):
    """Where a request stands. ``extended`` is not a state of its own: an
    extended request keeps its state and carries an extended due date."""

    RECEIVED = "received"
    AWAITING_IDENTITY = "awaiting_identity"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


CLOSED_STATES = frozenset({RequestState.COMPLETED, RequestState.REFUSED, RequestState.CANCELLED})
OPEN_STATES = frozenset(RequestState) - CLOSED_STATES


class RefusalGround(StrEnum):
    """Art. 12(5)(b) grounds, and Art. 12(6) when identity is never established."""

    MANIFESTLY_UNFOUNDED = "manifestly-unfounded"
    EXCESSIVE = "excessive"
    IDENTITY_NOT_ESTABLISHED = "identity-not-established"


class Flag(StrEnum):
    """Marks staff should see; none of them decides anything by itself."""

    POSSIBLY_EXCESSIVE = "possibly_excessive"
    """Same type, same person, within the policy's repeat window (Art. 12(5))."""
    FEE_CHARGED = "fee_charged"
    VERIFICATION_LOCKED = "verification_locked"


class TaskKind(StrEnum):
    CONNECTOR = "connector"
    """Carried out by the engine in a connected system."""
    MANUAL = "manual"
    """Done by staff in a system without a connector, then confirmed."""


class TaskState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    NEEDS_ATTENTION = "needs_attention"
    FAILED = "failed"


@dataclass(frozen=True)
class Request:
    """A request as the engine records it."""

    id: str
    type: RequestType
    state: RequestState
    subject_id: str
    identity_kind: str
    channel: str
    received_at: datetime
    due_date: date
    extended_due_date: date | None
    verified_at: datetime | None
    assurance: str
    flags: tuple[str, ...]
    details: dict[str, Any]
    created_by: str
    updated_at: datetime
    closed_at: datetime | None
    version: int

    @property
    def open(self) -> bool:
        return self.state not in CLOSED_STATES

    @property
    def extended(self) -> bool:
        return self.extended_due_date is not None

    @property
    def effective_due_date(self) -> date:
        return self.extended_due_date or self.due_date

    def to_dict(self, tz: tzinfo = UTC) -> dict[str, Any]:
        """The JSON shape of ``steward request show`` (no personal data).
        ``received_at`` is the day of receipt in ``tz`` (the controller's
        zone), the day the deadline runs from; ``received_time`` the instant."""
        return {
            "id": self.id,
            "type": self.type.value,
            "state": self.state.value,
            "extended": self.extended,
            "received_at": self.received_at.astimezone(tz).date().isoformat(),
            "received_time": self.received_at.isoformat().replace("+00:00", "Z"),
            "due_date": self.due_date.isoformat(),
            "extended_due_date": (
                self.extended_due_date.isoformat() if self.extended_due_date else None
            ),
            "verified_at": (
                self.verified_at.isoformat().replace("+00:00", "Z") if self.verified_at else None
            ),
            "assurance": self.assurance,
            "channel": self.channel,
            "identity_kind": self.identity_kind,
            "flags": list(self.flags),
            "closed_at": self.closed_at.isoformat().replace("+00:00", "Z")
            if self.closed_at
            else None,
        }


@dataclass(frozen=True)
class RequestEvent:
    """One line of a request's history."""

    at: datetime
    actor: str
    action: str
    from_state: RequestState | None
    to_state: RequestState
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "actor": self.actor,
            "action": self.action,
            "from": self.from_state.value if self.from_state else None,
            "to": self.to_state.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Task:
    """One system's part of a request."""

    id: str
    request_id: str
    system: str
    kind: TaskKind
    state: TaskState
    attempts: int
    assignee: str | None = None
    due_date: date | None = None
    instructions: str | None = None
    last_error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "system": self.system,
            "kind": self.kind.value,
            "state": self.state.value,
            "attempts": self.attempts,
            "assignee": self.assignee,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "instructions": self.instructions,
            "last_error": self.last_error,
            "result": self.result,
            "confirmed_by": self.confirmed_by,
            "confirmed_at": (
                self.confirmed_at.isoformat().replace("+00:00", "Z") if self.confirmed_at else None
            ),
        }
