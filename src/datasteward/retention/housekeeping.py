"""The engine's own retention (use case): what the engine keeps about
requests and people ends too.

* verification codes, a day after they were used or expired (long enough to
  answer "my code did not work", too short to be a second identity record);
* outbox messages, 30 days after they were sent (their text is encrypted,
  but a delivered notice has done its work);
* stored access and portability packages, once expired, and plaintext left
  in the staging directory by a crash.

Finished request and task records belong to the request workflow, and the
audit and consent chains are never touched: they are the proof. One audit
event records the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from datasteward.clock import Clock
from datasteward.packages.vault import purge_expired, purge_staging
from datasteward.retention.ports import AuditNote

__all__ = [
    "CODE_GRACE",
    "SENT_MESSAGES_KEPT",
    "HousekeepingReport",
    "HousekeepingStore",
    "housekeeping",
]

CODE_GRACE = timedelta(days=1)
"""How long a used or expired verification code is kept."""

SENT_MESSAGES_KEPT = timedelta(days=30)
"""How long a delivered outbox message is kept."""


class HousekeepingStore(Protocol):
    def purge(self, *, codes_before: datetime, sent_before: datetime) -> tuple[int, int]: ...
    def audit(self, note: AuditNote) -> None: ...


@dataclass(frozen=True)
class HousekeepingReport:
    at: datetime
    verification_codes: int
    outbox_messages: int
    packages: tuple[str, ...]
    staging_files: int

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "verification_codes": self.verification_codes,
            "outbox_messages": self.outbox_messages,
            "packages": list(self.packages),
            "staging_files": self.staging_files,
        }


def housekeeping(
    store: HousekeepingStore, *, home: Path, clock: Clock, actor: str
) -> HousekeepingReport:
    """Delete the engine's expired records now; audited with counts."""
    now = clock.now()
    codes, messages = store.purge(
        codes_before=now - CODE_GRACE, sent_before=now - SENT_MESSAGES_KEPT
    )
    packages = purge_expired(home, now)
    staging = purge_staging(home, now)
    report = HousekeepingReport(now, codes, messages, packages, len(staging))
    store.audit(
        AuditNote(
            at=now,
            actor=actor,
            action="retention.housekeeping",
            object_type="engine",
            object_id="housekeeping",
            reason="the engine's own expired records",
            policy_version=None,
            details={
                "verification_codes": codes,
                "outbox_messages": messages,
                "packages": len(packages),
                "staging_files": len(staging),
            },
        )
    )
    return report
