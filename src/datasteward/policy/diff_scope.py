"""What a consent to one purpose covers, and the fingerprint of it.

A person who consents to a purpose agrees to what they were told at that
moment: which data, which recipients, which transfers out of the EEA, for how
long (Art. 4(11), Art. 13). The policy does not state that per purpose; it
follows from the processing activities serving the purpose. A
:class:`Scope` gathers it once:

* data categories of every activity serving the purpose;
* recipients of those activities, the operators of their systems and the
  providers of the purpose's cookies;
* systems those activities keep data in (where they are hosted);
* transfers: any of those recipients or systems outside the EEA, with the
  safeguard that makes them lawful;
* per data category, the retention rules that end it and the longest period
  among them (``None``: no period, only criteria, i.e. unbounded);
* the cookies that serve the purpose.

The fingerprint is the SHA-256 of a canonical JSON of the scope. It ignores
everything a consent does not cover (other purposes, the controller's address,
security measures, ids of activities and retention rules), so unrelated edits
keep it, and it changes with any edit to what the consent covers, including
narrowing and rewording. The diff decides which of those changes are
material; an unchanged fingerprint means no change can be.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from datasteward.errors import NotFound
from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.geography import is_third_country
from datasteward.policy.model import (
    Cookie,
    DataCategory,
    LegalBasis,
    Policy,
    ProcessingActivity,
    Purpose,
    Recipient,
    RetentionRule,
    SafeguardKind,
    SpecialCategoryCondition,
    System,
)
from datasteward.policy.references import did_you_mean

__all__ = [
    "FINGERPRINT_FORMAT",
    "FIRST_PARTY",
    "PolicyIndex",
    "Retention",
    "Scope",
    "Transfer",
    "cookie_lasts_longer",
    "is_consent_purpose",
    "longer",
    "purpose_fingerprint",
]

T = TypeVar("T")

FIRST_PARTY = "first_party"
"""The cookie provider value meaning the controller itself."""

FINGERPRINT_FORMAT = 1
"""Part of the hashed text, so a future change of what is hashed is visible."""


def is_consent_purpose(purpose: Purpose) -> bool:
    """Whether the purpose rests on consent (Art. 6(1)(a) or Art. 9(2)(a))."""
    return (
        LegalBasis.CONSENT in purpose.legal_bases
        or purpose.special_category_condition is SpecialCategoryCondition.EXPLICIT_CONSENT
    )


def longer(old: IsoDuration | None, new: IsoDuration | None) -> bool:
    """Whether ``new`` keeps data longer than ``old``; ``None`` is unbounded."""
    if new is None:
        return old is not None
    return old is not None and new > old


def cookie_lasts_longer(old: Cookie, new: Cookie) -> bool:
    """Whether ``new`` stays on the device longer than ``old``.

    A session cookie is the shortest; a cookie with neither a duration nor
    ``session`` has no stated lifetime and counts as unbounded, like a
    retention period replaced by criteria."""
    if new.session and new.duration is None:
        return False
    if old.session and old.duration is None:
        return True
    return longer(old.duration, new.duration)


@dataclass(frozen=True)
class Transfer:
    """Data of the purpose reaching a third country through a recipient or system."""

    via: str
    """``recipient`` or ``system``."""
    ident: str
    country: str
    safeguard: SafeguardKind | None


@dataclass(frozen=True)
class Retention:
    """How long one data category of the purpose is kept."""

    longest: IsoDuration | None
    """The longest period of the rules that end it; ``None`` when unbounded."""
    rules: tuple[RetentionRule, ...]


@dataclass(frozen=True)
class Scope:
    """Everything a consent to ``purpose`` covers, keyed by id."""

    purpose: Purpose
    categories: dict[str, DataCategory | None]
    recipients: dict[str, Recipient | None]
    systems: dict[str, System | None]
    transfers: dict[tuple[str, str], Transfer]
    retention: dict[str, Retention]
    retention_criteria: frozenset[str]
    cookies: dict[str, Cookie]

    def canonical(self) -> dict[str, object]:
        """Plain, ordered values of the scope; wording of linked items left out."""
        return {
            "fingerprint": FINGERPRINT_FORMAT,
            "purpose": self.purpose.model_dump(mode="json", exclude_defaults=True),
            "data_categories": [_category(k, v) for k, v in sorted(self.categories.items())],
            "recipients": [_recipient(k, v) for k, v in sorted(self.recipients.items())],
            "systems": [_system(k, v) for k, v in sorted(self.systems.items())],
            "transfers": [
                {
                    "via": t.via,
                    "id": t.ident,
                    "country": t.country,
                    "safeguard": t.safeguard.value if t.safeguard else None,
                }
                for _, t in sorted(self.transfers.items())
            ],
            "retention": [
                {
                    "category": category,
                    "longest": str(r.longest) if r.longest is not None else None,
                    "rules": _rule_facts(r.rules),
                }
                for category, r in sorted(self.retention.items())
            ],
            "retention_criteria": sorted(self.retention_criteria),
            "cookies": [
                {
                    "name": c.name,
                    "provider": c.provider,
                    "duration": str(c.duration) if c.duration is not None else None,
                    "session": c.session,
                    "strictly_necessary": c.strictly_necessary,
                }
                for _, c in sorted(self.cookies.items())
            ],
        }

    def fingerprint(self) -> str:
        text = json.dumps(
            self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _category(ident: str, category: DataCategory | None) -> dict[str, object]:
    if category is None:
        return {"id": ident, "declared": False}
    return {
        "id": ident,
        "name": category.name,
        "special": category.special,
        "criminal": category.criminal,
    }


def _recipient(ident: str, recipient: Recipient | None) -> dict[str, object]:
    if recipient is None:
        return {"id": ident, "declared": False}
    safeguard = recipient.safeguard
    return {
        "id": ident,
        "name": recipient.name,
        "role": recipient.role.value,
        "is_category": recipient.is_category,
        "country": recipient.country,
        "written_agreement": recipient.written_agreement,
        "safeguard": (
            {"kind": safeguard.kind.value, "reference": safeguard.reference} if safeguard else None
        ),
    }


def _system(ident: str, system: System | None) -> dict[str, object]:
    if system is None:
        return {"id": ident, "declared": False}
    return {"id": ident, "country": system.country, "operator": system.operator}


def _rule_facts(rules: Iterable[RetentionRule]) -> list[dict[str, str | None]]:
    """What the rules promise, without their ids, distinct and in a stable order."""
    facts = {
        (
            str(r.period) if r.period is not None else None,
            r.criteria,
            r.anchor.event.value,
            r.action.value,
        )
        for r in rules
    }
    ordered = sorted(facts, key=lambda f: tuple(x or "" for x in f))
    keys = ("period", "criteria", "anchor", "action")
    return [dict(zip(keys, f, strict=True)) for f in ordered]


@dataclass
class PolicyIndex:
    """Lookups of one policy, built once, and the scopes computed from them."""

    policy: Policy
    purposes: dict[str, Purpose] = field(init=False)
    categories: dict[str, DataCategory] = field(init=False)
    recipients: dict[str, Recipient] = field(init=False)
    systems: dict[str, System] = field(init=False)
    rules: dict[str, RetentionRule] = field(init=False)
    activities: dict[str, ProcessingActivity] = field(init=False)
    activities_by_purpose: dict[str, list[ProcessingActivity]] = field(init=False)
    cookies_by_purpose: dict[str, list[Cookie]] = field(init=False)
    rule_ends: dict[str, frozenset[str]] = field(init=False)
    """Data categories each rule names, directly or through its datasets."""
    rules_by_category: dict[str, list[RetentionRule]] = field(init=False)
    _scopes: dict[str, Scope] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        p = self.policy
        self.purposes = _first_by(p.purposes, lambda x: x.id)
        self.categories = _first_by(p.data_categories, lambda x: x.id)
        self.recipients = _first_by(p.recipients, lambda x: x.id)
        self.systems = _first_by(p.systems, lambda x: x.id)
        self.rules = _first_by(p.retention_rules, lambda x: x.id)
        self.activities = _first_by(p.processing_activities, lambda x: x.id)
        by_purpose: defaultdict[str, list[ProcessingActivity]] = defaultdict(list)
        for activity in self.activities.values():
            for purpose_id in dict.fromkeys(activity.purposes):
                by_purpose[purpose_id].append(activity)
        self.activities_by_purpose = dict(by_purpose)
        cookies: defaultdict[str, list[Cookie]] = defaultdict(list)
        for cookie in p.cookies:
            cookies[cookie.purpose].append(cookie)
        self.cookies_by_purpose = dict(cookies)
        dataset_categories = {
            (system.id, dataset.name): frozenset(f.category for f in dataset.fields)
            for system in p.systems
            for dataset in system.datasets
        }
        self.rule_ends = {}
        by_category: defaultdict[str, list[RetentionRule]] = defaultdict(list)
        for rule in self.rules.values():
            ends = set(rule.data_categories)
            for ref in rule.datasets:
                ends |= dataset_categories.get((ref.system, ref.dataset), frozenset())
            self.rule_ends[rule.id] = frozenset(ends)
            for category_id in sorted(ends):
                by_category[category_id].append(rule)
        self.rules_by_category = dict(by_category)

    def scope(self, purpose_id: str) -> Scope:
        """The scope of a declared purpose (memoised)."""
        cached = self._scopes.get(purpose_id)
        if cached is None:
            cached = self._build_scope(self.purposes[purpose_id])
            self._scopes[purpose_id] = cached
        return cached

    def _build_scope(self, purpose: Purpose) -> Scope:
        categories: dict[str, DataCategory | None] = {}
        recipients: dict[str, Recipient | None] = {}
        systems: dict[str, System | None] = {}
        bounds: dict[str, list[IsoDuration | None]] = defaultdict(list)
        rules: dict[str, dict[str, RetentionRule]] = defaultdict(dict)
        criteria: set[str] = set()
        for activity in self.activities_by_purpose.get(purpose.id, []):
            for category_id in activity.data_categories:
                categories[category_id] = self.categories.get(category_id)
                covering = self._covering(activity, category_id)
                rules[category_id].update((r.id, r) for r in covering)
                bounds[category_id].append(_longest(covering))
            for recipient_id in activity.recipients:
                recipients[recipient_id] = self.recipients.get(recipient_id)
            for system_id in activity.systems:
                system = self.systems.get(system_id)
                systems[system_id] = system
                if system is not None and system.operator is not None:
                    recipients[system.operator] = self.recipients.get(system.operator)
            if activity.retention_criteria:
                criteria.add(activity.retention_criteria)
        cookies = {c.name: c for c in self.cookies_by_purpose.get(purpose.id, [])}
        for cookie in cookies.values():
            if cookie.provider != FIRST_PARTY:
                recipients[cookie.provider] = self.recipients.get(cookie.provider)
        return Scope(
            purpose=purpose,
            categories=categories,
            recipients=recipients,
            systems=systems,
            transfers=self._transfers(recipients, systems),
            retention={
                category_id: Retention(
                    longest=_longest_bound(bounds[category_id]),
                    rules=tuple(rules[category_id][k] for k in sorted(rules[category_id])),
                )
                for category_id in categories
            },
            retention_criteria=frozenset(criteria),
            cookies=cookies,
        )

    def _covering(self, activity: ProcessingActivity, category_id: str) -> list[RetentionRule]:
        """Rules ending ``category_id`` for ``activity``: those it names that end
        the category (or name no category at all); failing that, every rule of
        the policy that ends the category."""
        named = [self.rules[r] for r in activity.retention if r in self.rules]
        covering = [r for r in named if category_id in self.rule_ends[r.id]]
        covering += [r for r in named if not self.rule_ends[r.id]]
        return covering or self.rules_by_category.get(category_id, [])

    def _transfers(
        self, recipients: dict[str, Recipient | None], systems: dict[str, System | None]
    ) -> dict[tuple[str, str], Transfer]:
        found: dict[tuple[str, str], Transfer] = {}
        for ident, recipient in recipients.items():
            if recipient is not None and recipient.country and is_third_country(recipient.country):
                safeguard = recipient.safeguard.kind if recipient.safeguard else None
                found[("recipient", ident)] = Transfer(
                    "recipient", ident, recipient.country, safeguard
                )
        for ident, system in systems.items():
            if system is not None and system.country and is_third_country(system.country):
                operator = self.recipients.get(system.operator or "")
                safeguard = operator.safeguard.kind if operator and operator.safeguard else None
                found[("system", ident)] = Transfer("system", ident, system.country, safeguard)
        return found


def _first_by(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    """Index by key; a duplicate (refused by the loader) keeps the first."""
    found: dict[str, T] = {}
    for item in items:
        found.setdefault(key(item), item)
    return found


def _longest(rules: list[RetentionRule]) -> IsoDuration | None:
    """Longest period of ``rules``; unbounded when there is none or one has no period."""
    if not rules:
        return None
    periods = [r.period for r in rules]
    bounded = [p for p in periods if p is not None]
    if len(bounded) < len(periods):
        return None
    return max(bounded, key=lambda p: p.approximate_days)


def _longest_bound(bounds: list[IsoDuration | None]) -> IsoDuration | None:
    if not bounds or any(b is None for b in bounds):
        return None
    bounded = [b for b in bounds if b is not None]
    return max(bounded, key=lambda p: p.approximate_days)


def purpose_fingerprint(policy: Policy, purpose_id: str) -> str:
    """SHA-256 (hex) of what a consent to ``purpose_id`` covers under ``policy``.

    Raises :class:`~datasteward.errors.NotFound` for an undeclared purpose."""
    index = PolicyIndex(policy)
    if purpose_id not in index.purposes:
        raise NotFound("purpose", purpose_id, did_you_mean(purpose_id, index.purposes))
    return index.scope(purpose_id).fingerprint()
