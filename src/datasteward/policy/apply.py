"""Applying a policy: the use case behind ``steward policy apply``.

A policy is stored as a new version (exact text, hash, effective date) only
when it loads and has no lint errors (unless forced). Each purpose gets a
*consent hash*: the purpose fingerprint at the last material change that
touched it. Consent records carry the consent hash they were given under, so
after a material change the hashes differ and that consent is stale until
renewed, while a mere rewording leaves consent valid."""

from __future__ import annotations

import json
from dataclasses import dataclass

from datasteward.clock import Clock
from datasteward.errors import PolicyLintFailed
from datasteward.lint import Finding, Severity, lint_policy
from datasteward.policy.diff import PolicyDiff, diff_policies, purpose_fingerprint
from datasteward.policy.loader import LoadedPolicy, parse_policy
from datasteward.ports import EngineStore

__all__ = ["ApplyResult", "apply_policy"]


@dataclass(frozen=True)
class ApplyResult:
    version: int
    previous_version: int | None
    unchanged: bool
    diff: PolicyDiff | None
    findings: tuple[Finding, ...]
    forced: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "previous_version": self.previous_version,
            "unchanged": self.unchanged,
            "forced": self.forced,
            "material": bool(self.diff and self.diff.material),
            "diff": self.diff.to_dict() if self.diff else None,
            "findings": [f.to_dict() for f in self.findings],
        }


def apply_policy(
    store: EngineStore,
    loaded: LoadedPolicy,
    *,
    actor: str,
    clock: Clock,
    force: bool = False,
) -> ApplyResult:
    """Store ``loaded`` as the active policy version; audited."""
    findings = tuple(lint_policy(loaded))
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors and not force:
        raise PolicyLintFailed(
            f"{len(errors)} lint error(s); fix them or apply with --force "
            f"(first: {errors[0].code} {errors[0].message})"
        )
    policy = loaded.policy
    now = clock.now()
    with store.transaction() as tx:
        previous = tx.active_policy()
        if previous is not None and previous.sha256 == loaded.sha256:
            return ApplyResult(previous.id, previous.id, True, None, findings, False)
        diff: PolicyDiff | None = None
        states: dict[str, tuple[str, str]] = {}
        if previous is None:
            for purpose in policy.purposes:
                fingerprint = purpose_fingerprint(policy, purpose.id)
                states[purpose.id] = (fingerprint, fingerprint)
        else:
            old_policy = parse_policy(previous.text, previous.source_file).policy
            old_states = tx.purpose_states(previous.id)
            diff = diff_policies(old_policy, policy)
            stale = set(diff.stale_purposes)
            for purpose in policy.purposes:
                fingerprint = purpose_fingerprint(policy, purpose.id)
                if purpose.id in old_states and purpose.id not in stale:
                    states[purpose.id] = (old_states[purpose.id][0], fingerprint)
                else:
                    states[purpose.id] = (fingerprint, fingerprint)
        version = tx.insert_policy_version(
            label=policy.version,
            sha256=loaded.sha256,
            effective_date=policy.effective_date,
            applied_at=now,
            applied_by=actor,
            source_file=loaded.file,
            text=loaded.text,
            material=bool(diff and diff.material),
            diff_json=json.dumps(diff.to_dict() if diff else None, sort_keys=True),
            purpose_states=states,
        )
        tx.audit(
            at=now,
            actor=actor,
            action="policy.applied",
            object_type="policy_version",
            object_id=str(version),
            reason="forced despite lint errors" if errors else "policy applied",
            policy_version=version,
            details={
                "sha256": loaded.sha256,
                "label": policy.version,
                "material": bool(diff and diff.material),
                "stale_purposes": list(diff.stale_purposes) if diff else [],
                "lint_errors": [f.code for f in errors],
            },
        )
    return ApplyResult(
        version, previous.id if previous else None, False, diff, findings, bool(errors)
    )
