"""One-time codes that establish a requester's identity (Art. 12(6)). Pure.

A code is six digits, sent by email, valid for 15 minutes and good for at
most 5 attempts; the fifth wrong attempt locks it and staff must issue a new
one. Only a keyed hash of the code is stored (bound to the request id, so a
hash cannot be replayed against another request), and codes are compared in
constant time.

What the person is told never depends on whether their address was already
known to the engine: every request gets the same acknowledgment and the same
code email."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "CODE_LIFETIME",
    "MAX_ATTEMPTS",
    "Assurance",
    "CodeCheck",
    "CodeState",
    "check_code",
    "new_code",
]

CODE_LIFETIME = timedelta(minutes=15)
MAX_ATTEMPTS = 5


class Assurance(StrEnum):
    """How a request's identity must be established before anything runs."""

    EMAIL_CODE = "email_code"
    """A code sent to the email the request names, typed back."""
    ACCOUNT = "account"
    """The person is logged in to the controller's account (the caller vouches)."""
    STAFF = "staff"
    """Staff establish identity by other means (documents) and record how."""
    NONE = "none"
    """No verification (e.g. withdrawing consent or objecting to marketing)."""

    @classmethod
    def from_policy(cls, method: str) -> Assurance:
        aliases = {"document": cls.STAFF, "manual": cls.STAFF, "login": cls.ACCOUNT}
        try:
            return aliases.get(method) or cls(method)
        except ValueError:
            return cls.STAFF  # an unknown method is checked by a person, never skipped


def new_code() -> str:
    """Six random digits."""
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class CodeState:
    """A stored code, as the check needs it."""

    code_hash: str
    expires_at: datetime
    attempts: int
    locked: bool
    used: bool


class CodeCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"
    USED = "used"


def check_code(state: CodeState, offered_hash: str, now: datetime) -> CodeCheck:
    """Judge an attempt. The caller counts every non-OK attempt except those
    on a code already locked, used or expired."""
    if state.used:
        return CodeCheck.USED
    if state.locked or state.attempts >= MAX_ATTEMPTS:
        return CodeCheck.LOCKED
    if now >= state.expires_at:
        return CodeCheck.EXPIRED
    if hmac.compare_digest(state.code_hash, offered_hash):
        return CodeCheck.OK
    return CodeCheck.WRONG
