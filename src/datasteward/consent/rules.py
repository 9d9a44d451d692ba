"""Compile the active policy into the small per-purpose facts decisions need.

Done once per policy version, so a decision is a dictionary lookup and a few
comparisons."""

from __future__ import annotations

from collections.abc import Mapping

from datasteward.consent.model import PurposeRule
from datasteward.policy.model import Policy, RecipientRole

__all__ = ["compile_purpose_rules", "sharing_purposes"]

_OTHER_CONTROLLERS = {RecipientRole.CONTROLLER, RecipientRole.JOINT_CONTROLLER}


def sharing_purposes(policy: Policy) -> set[str]:
    """Purposes whose activities disclose data to other controllers: what a
    Global Privacy Control signal objects to besides direct marketing."""
    roles = {r.id: r.role for r in policy.recipients}
    found: set[str] = set()
    for activity in policy.processing_activities:
        if any(roles.get(rid) in _OTHER_CONTROLLERS for rid in activity.recipients):
            found.update(activity.purposes)
    return found


def compile_purpose_rules(
    policy: Policy, consent_hashes: Mapping[str, str], policy_version: int
) -> dict[str, PurposeRule]:
    """One :class:`PurposeRule` per purpose of ``policy``."""
    sharing = sharing_purposes(policy)
    return {
        p.id: PurposeRule(
            purpose_id=p.id,
            bases=tuple(b.value for b in p.legal_bases),
            direct_marketing=p.direct_marketing,
            sharing=p.id in sharing,
            consent_hash=consent_hashes[p.id],
            policy_version=policy_version,
        )
        for p in policy.purposes
    }
