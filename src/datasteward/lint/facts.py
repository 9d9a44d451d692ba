"""Lookups every rule needs, computed once per policy.

Rules are written as plain functions of the policy; without a shared index
each of them would rebuild the same dictionaries, and a naive rule ("is this
purpose used by any activity?") would scan the whole policy per item. A
:class:`Facts` holds those dictionaries and sets; :func:`facts_of` builds it
once and hands the same object to every rule of one lint run, so a policy of
hundreds of purposes and thousands of fields still lints in milliseconds.

The memo holds only the most recent policy and compares by identity; the
policy model is frozen, so the cached facts can never go stale."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from datasteward.policy.model import (
    DataCategory,
    LegalBasis,
    Policy,
    Purpose,
    Recipient,
    RetentionRule,
)

__all__ = ["FIRST_PARTY", "Facts", "facts_of"]

FIRST_PARTY = "first_party"
"""The cookie provider value meaning the controller itself."""


@dataclass(frozen=True)
class Facts:
    """Indexes of one policy (ids to objects, and who uses what)."""

    purposes: dict[str, Purpose]
    categories: dict[str, DataCategory]
    recipients: dict[str, Recipient]
    retention_rules: dict[str, RetentionRule]
    consent_purposes: frozenset[str]
    """Purposes with consent among their legal bases."""
    used_purposes: frozenset[str]
    """Purposes served by at least one processing activity."""
    processed_categories: frozenset[str]
    """Data categories processed by at least one processing activity."""
    special_processed: frozenset[str]
    """Special categories (Art. 9(1)) processed by at least one activity."""
    rules_by_category: dict[str, tuple[RetentionRule, ...]]
    """Retention rules that end a data category anywhere: those listing it in
    their data_categories, and those enforced in a dataset holding a field of
    that category."""
    referenced_rules: frozenset[str]
    """Retention rules named by at least one activity's retention list."""

    def rests_on(self, purpose_id: str, *bases: LegalBasis) -> bool:
        """Whether the purpose names any of ``bases`` (False if undeclared)."""
        purpose = self.purposes.get(purpose_id)
        return purpose is not None and any(b in purpose.legal_bases for b in bases)


_lock = threading.Lock()
_last: tuple[Policy, Facts] | None = None


def facts_of(policy: Policy) -> Facts:
    """The :class:`Facts` of ``policy``, built at most once per policy object."""
    global _last
    with _lock:
        cached = _last
    if cached is not None and cached[0] is policy:
        return cached[1]
    facts = _build(policy)
    with _lock:
        _last = (policy, facts)
    return facts


def _build(policy: Policy) -> Facts:
    categories = {c.id: c for c in policy.data_categories}
    used_purposes: set[str] = set()
    processed: set[str] = set()
    referenced: set[str] = set()
    for activity in policy.processing_activities:
        used_purposes.update(activity.purposes)
        processed.update(activity.data_categories)
        referenced.update(activity.retention)
    datasets = {
        (system.id, dataset.name): dataset
        for system in policy.systems
        for dataset in system.datasets
    }
    by_category: defaultdict[str, list[RetentionRule]] = defaultdict(list)
    for rule in policy.retention_rules:
        ended = dict.fromkeys(rule.data_categories)
        for ref in rule.datasets:
            dataset = datasets.get((ref.system, ref.dataset))
            if dataset is not None:
                ended.update(dict.fromkeys(f.category for f in dataset.fields))
        for category_id in ended:
            by_category[category_id].append(rule)
    return Facts(
        purposes={p.id: p for p in policy.purposes},
        categories=categories,
        recipients={r.id: r for r in policy.recipients},
        retention_rules={r.id: r for r in policy.retention_rules},
        consent_purposes=frozenset(
            p.id for p in policy.purposes if LegalBasis.CONSENT in p.legal_bases
        ),
        used_purposes=frozenset(used_purposes),
        processed_categories=frozenset(processed),
        special_processed=frozenset(
            c for c in processed if c in categories and categories[c].special
        ),
        rules_by_category={k: tuple(v) for k, v in by_category.items()},
        referenced_rules=frozenset(referenced),
    )
