"""May we process this person's data for this purpose, now? Pure rules.

The answer is never a bare yes or no: a :class:`Decision` carries the reason,
the legal basis it rests on and the evidence (the consent event, objection or
restriction) behind it. Rules, in order:

1. A restriction (Art. 18) stops everything but storage.
2. A direct-marketing purpose stops on any objection to direct marketing or
   to the purpose, and on a Global Privacy Control signal (Art. 21(2)-(3), (5)).
   A GPC signal also stops purposes that share data with other controllers.
3. Otherwise the purpose's bases are tried in the order the policy lists them:
   contract, legal obligation and vital interests allow; public task and
   legitimate interest allow unless an objection to the purpose was upheld
   (Art. 21(1)); consent allows only while the latest consent event up to
   that moment is "given", unexpired, and given for the current definition of
   the purpose (not stale).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from datasteward.consent.model import (
    ConsentKind,
    ObjectionScope,
    ObjectionStatus,
    PurposeRule,
    SubjectFacts,
)

__all__ = ["Decision", "decide"]

_ALWAYS_ALLOWED = {
    "contract": "processing is necessary for a contract with the data subject (Art. 6(1)(b))",
    "legal_obligation": "processing is required by law (Art. 6(1)(c))",
    "vital_interests": "processing protects vital interests (Art. 6(1)(d))",
}
_OBJECTABLE = {
    "public_task": "Art. 6(1)(e)",
    "legitimate_interest": "Art. 6(1)(f)",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """An explained answer to "may we process?"."""

    allowed: bool
    reason: str
    basis: str | None
    purpose: str
    evidence: tuple[dict[str, object], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "basis": self.basis,
            "purpose": self.purpose,
            "evidence": list(self.evidence),
        }


def decide(rule: PurposeRule, facts: SubjectFacts, at: datetime) -> Decision:
    """Apply the rules above to one subject, one purpose, one instant."""
    pid = rule.purpose_id
    restriction = facts.restriction
    if restriction is not None and restriction.since <= at:
        return Decision(
            False,
            "processing is restricted (Art. 18); only storage is allowed",
            None,
            pid,
            (restriction.evidence(),),
        )

    blocking = _blocking_objection(rule, facts, at)
    if blocking is not None:
        return blocking

    refusals: list[str] = []
    evidence: list[dict[str, object]] = []
    for basis in rule.bases:
        if basis in _ALWAYS_ALLOWED:
            return Decision(True, _ALWAYS_ALLOWED[basis], basis, pid)
        if basis in _OBJECTABLE:
            upheld = [
                o
                for o in facts.objections
                if o.status is ObjectionStatus.UPHELD
                and o.scope is ObjectionScope.PURPOSE
                and o.purpose_id == pid
                and o.at <= at
            ]
            if upheld:
                refusals.append(f"an objection to this purpose was upheld ({_OBJECTABLE[basis]})")
                evidence.extend(o.evidence() for o in upheld)
                continue
            return Decision(
                True,
                f"legitimate ground ({_OBJECTABLE[basis]}) and no upheld objection",
                basis,
                pid,
            )
        if basis == "consent":
            verdict = _consent(rule, facts, at)
            if verdict.allowed:
                return verdict
            refusals.append(verdict.reason)
            evidence.extend(verdict.evidence)
    if not rule.bases:
        refusals.append("the policy names no legal basis for this purpose")
    return Decision(False, "; ".join(refusals), None, pid, tuple(evidence))


def _blocking_objection(rule: PurposeRule, facts: SubjectFacts, at: datetime) -> Decision | None:
    for objection in facts.objections:
        if objection.at > at or objection.status is ObjectionStatus.REJECTED:
            continue
        if objection.scope is ObjectionScope.GPC and (rule.direct_marketing or rule.sharing):
            return Decision(
                False,
                "a Global Privacy Control signal objects to marketing and sharing (Art. 21(5))",
                None,
                rule.purpose_id,
                (objection.evidence(),),
            )
        if rule.direct_marketing and (
            objection.scope is ObjectionScope.DIRECT_MARKETING
            or (
                objection.scope is ObjectionScope.PURPOSE
                and objection.purpose_id == rule.purpose_id
            )
        ):
            return Decision(
                False,
                "the data subject objected to direct marketing (Art. 21(3))",
                None,
                rule.purpose_id,
                (objection.evidence(),),
            )
    return None


def _consent(rule: PurposeRule, facts: SubjectFacts, at: datetime) -> Decision:
    pid = rule.purpose_id
    record = facts.consent
    if record is None or record.occurred_at > at:
        return Decision(False, "no consent was given for this purpose", None, pid)
    cited = (record.evidence(),)
    if record.kind is not ConsentKind.GIVEN:
        return Decision(False, f"consent was {record.kind.value}", None, pid, cited)
    if record.expires_at is not None and record.expires_at <= at:
        return Decision(False, "consent has expired", None, pid, cited)
    if record.purpose_hash != rule.consent_hash:
        return Decision(
            False,
            "consent is stale: the purpose changed materially since it was given",
            None,
            pid,
            cited,
        )
    return Decision(True, "consent given and valid (Art. 6(1)(a))", "consent", pid, cited)
