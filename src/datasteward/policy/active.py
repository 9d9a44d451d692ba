"""The active policy version as the engine's use cases see it."""

from __future__ import annotations

from dataclasses import dataclass

from datasteward.consent.model import PurposeRule
from datasteward.consent.rules import compile_purpose_rules
from datasteward.errors import NotFound, StoreError
from datasteward.policy.loader import parse_policy
from datasteward.policy.model import Policy, Purpose
from datasteward.policy.references import did_you_mean
from datasteward.ports import EngineTx

__all__ = ["ActivePolicy", "ActivePolicyCache", "load_active_policy"]


@dataclass(frozen=True)
class ActivePolicy:
    version: int
    sha256: str
    policy: Policy
    rules: dict[str, PurposeRule]

    def purpose(self, purpose_id: str) -> Purpose:
        """The purpose, or :class:`NotFound` with a suggestion."""
        for purpose in self.policy.purposes:
            if purpose.id == purpose_id:
                return purpose
        ids = [p.id for p in self.policy.purposes]
        hint = did_you_mean(purpose_id, ids) or f" (declared: {', '.join(ids)})"
        raise NotFound("purpose", purpose_id, hint)


_PARSED: dict[str, Policy] = {}


class ActivePolicyCache:
    """Keeps the compiled active policy of one store between calls; each use
    costs one small query to notice a newly applied version."""

    def __init__(self) -> None:
        self._current: ActivePolicy | None = None

    def get(self, tx: EngineTx) -> ActivePolicy:
        key = tx.active_policy_key()
        current = self._current
        if current is not None and key == (current.version, current.sha256):
            return current
        self._current = load_active_policy(tx)
        return self._current


def load_active_policy(tx: EngineTx) -> ActivePolicy:
    """The latest applied version; the text is parsed once per process."""
    stored = tx.active_policy()
    if stored is None:
        raise StoreError("no policy has been applied yet: run `steward policy apply PATH`")
    policy = _PARSED.get(stored.sha256)
    if policy is None:
        policy = parse_policy(stored.text, stored.source_file).policy
        _PARSED[stored.sha256] = policy
    states = tx.purpose_states(stored.id)
    return ActivePolicy(
        version=stored.id,
        sha256=stored.sha256,
        policy=policy,
        rules=compile_purpose_rules(
            policy, {pid: state[0] for pid, state in states.items()}, stored.id
        ),
    )
