"""Consent events and the facts a decision is made from (pure values).

Names follow ISO/IEC TS 27560 where it has one: an *event* changes the state
of a consent record (given, withdrawn, refused, expired); each event is bound
to the policy version and to the hash of the purpose definition it was given
under, so a later material change makes it stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from datasteward.legaltime.instants import format_time

__all__ = [
    "Channel",
    "ConsentKind",
    "ConsentRecord",
    "Objection",
    "ObjectionScope",
    "ObjectionStatus",
    "PurposeRule",
    "Restriction",
    "SubjectFacts",
]


class ConsentKind(StrEnum):
    """What happened to a consent."""

    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    EXPIRED = "expired"


class Channel(StrEnum):
    """Where the event came from; withdrawal is accepted on every one of them."""

    BANNER = "banner"
    FORM = "form"
    EMAIL = "email"
    API = "api"
    IMPORT = "import"
    PRIVACY_CENTER = "privacy_center"
    STAFF = "staff"


class ObjectionScope(StrEnum):
    """What an objection covers."""

    PURPOSE = "purpose"
    DIRECT_MARKETING = "direct_marketing"
    GPC = "gpc"


class ObjectionStatus(StrEnum):
    """Art. 21(1) objections are reviewed; direct marketing ones are upheld at once."""

    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent event as stored in the ledger."""

    seq: int
    event_id: str
    subject_id: str
    purpose_id: str
    kind: ConsentKind
    occurred_at: datetime
    expires_at: datetime | None
    policy_version: int
    purpose_hash: str
    notice_hash: str | None
    channel: str
    actor: str

    def evidence(self) -> dict[str, object]:
        """How a decision cites this event."""
        return {
            "type": "consent_event",
            "seq": self.seq,
            "event_id": self.event_id,
            "kind": self.kind.value,
            "at": format_time(self.occurred_at),
            "policy_version": self.policy_version,
            "channel": self.channel,
        }


@dataclass(frozen=True, slots=True)
class Objection:
    """An objection (Art. 21) or a Global Privacy Control signal (Art. 21(5))."""

    ref: str
    scope: ObjectionScope
    purpose_id: str | None
    status: ObjectionStatus
    at: datetime

    def evidence(self) -> dict[str, object]:
        return {
            "type": "objection",
            "id": self.ref,
            "scope": self.scope.value,
            "purpose": self.purpose_id,
            "status": self.status.value,
            "at": format_time(self.at),
        }


@dataclass(frozen=True, slots=True)
class Restriction:
    """Processing restricted under Art. 18 since ``since`` (until lifted)."""

    ref: str
    since: datetime

    def evidence(self) -> dict[str, object]:
        return {"type": "restriction", "id": self.ref, "since": format_time(self.since)}


@dataclass(frozen=True, slots=True)
class PurposeRule:
    """What the active policy says about one purpose, compiled for decisions."""

    purpose_id: str
    bases: tuple[str, ...]
    direct_marketing: bool
    sharing: bool
    consent_hash: str
    policy_version: int


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """Everything about one subject that bears on one purpose at one time."""

    consent: ConsentRecord | None = None
    objections: tuple[Objection, ...] = ()
    restriction: Restriction | None = None
