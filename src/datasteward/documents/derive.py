"""From a policy to the facts its documents state (:mod:`.facts`).

The derivations that matter legally are made once, here, for the notice and
the record of processing alike:

* the recipients of an activity are the ones it names plus the operators of
  the systems it uses;
* a transfer is any recipient or system located in a third country
  (:func:`~datasteward.policy.geography.is_third_country`); the notice may say
  that no data leaves the EEA only when there is none and no recipient's
  location is unknown (authorities and successors aside), unless the controller
  declares that there are no transfers;
* the legal holds of an activity are those its retention rules name and those
  keeping a data category it processes (named, or of a field of a kept dataset);
* an activity is portable when the policy says so, or by default when one of
  its purposes rests on consent or contract (Art. 20(1)(a));
* a purpose resting only on consent is voluntary to provide (Art. 13(2)(e));
* without declared request channels, the controller's email and phone are
  the channels.

Lookups are tolerant of references the loader does not check (recipients,
system operators, cookie providers): an unknown id is shown as the id itself
rather than dropped, so nothing the policy says disappears from the documents.
Pure: no I/O.
"""

from __future__ import annotations

from datasteward.documents.facts import (
    ActivityFact,
    AutomatedFact,
    BasisFact,
    CategoryFact,
    ChannelFact,
    ChildrenFact,
    ConsentFact,
    CookieFact,
    DocumentFacts,
    HoldFact,
    ObjectionFact,
    PurposeFact,
    RecipientFact,
    RecipientGroup,
    RetentionFact,
    RightsFact,
    SourceFact,
    SubjectFact,
    TransferFact,
)
from datasteward.policy.geography import is_third_country
from datasteward.policy.model import (
    AutomatedDecision,
    DataCategory,
    LegalBasis,
    LegalHold,
    Policy,
    ProcessingActivity,
    Purpose,
    Recipient,
    RecipientRole,
    RequirementKind,
    RetentionRule,
    SourceKind,
    SpecialCategoryCondition,
)

__all__ = ["derive_facts"]

_BASIS_LETTERS = {
    LegalBasis.CONSENT: "a",
    LegalBasis.CONTRACT: "b",
    LegalBasis.LEGAL_OBLIGATION: "c",
    LegalBasis.VITAL_INTERESTS: "d",
    LegalBasis.PUBLIC_TASK: "e",
    LegalBasis.LEGITIMATE_INTEREST: "f",
}
_OBJECTABLE_BASES = frozenset({LegalBasis.LEGITIMATE_INTEREST, LegalBasis.PUBLIC_TASK})
_PORTABLE_BASES = frozenset({LegalBasis.CONSENT, LegalBasis.CONTRACT})
# Authorities act where the controller is; a successor is only a possibility.
_LOCAL_ROLES = frozenset({RecipientRole.PUBLIC_AUTHORITY, RecipientRole.SUCCESSOR})
_ROLE_ORDER = (
    RecipientRole.PROCESSOR,
    RecipientRole.JOINT_CONTROLLER,
    RecipientRole.CONTROLLER,
    RecipientRole.PUBLIC_AUTHORITY,
    RecipientRole.SUCCESSOR,
)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


class _Index:
    """Tolerant lookups by id over one policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.purposes = {p.id: p for p in policy.purposes}
        self.categories = {c.id: c for c in policy.data_categories}
        self.subjects = {s.id: s for s in policy.data_subjects}
        self.recipients = {r.id: r for r in policy.recipients}
        self.systems = {s.id: s for s in policy.systems}
        self.rules = {r.id: r for r in policy.retention_rules}
        self.holds = {h.id: h for h in policy.legal_holds}

    def category_name(self, cid: str) -> str:
        found = self.categories.get(cid)
        return found.name if found else cid

    def subject_name(self, sid: str) -> str:
        found = self.subjects.get(sid)
        return found.name if found else sid

    def purpose_name(self, pid: str) -> str:
        found = self.purposes.get(pid)
        return found.name if found else pid

    def system_name(self, sid: str) -> str:
        found = self.systems.get(sid)
        return found.name if found else sid

    def recipient_ids(self, act: ProcessingActivity) -> list[str]:
        """Named recipients first, then the operators of the activity's systems."""
        ids = list(act.recipients)
        for sid in act.systems:
            system = self.systems.get(sid)
            if system is not None and system.operator is not None:
                ids.append(system.operator)
        return list(dict.fromkeys(ids))

    def dataset_categories(self, system_id: str, dataset: str) -> list[str]:
        system = self.systems.get(system_id)
        if system is None:
            return []
        return [f.category for d in system.datasets if d.name == dataset for f in d.fields]


def _condition_letter(condition: SpecialCategoryCondition | None) -> str | None:
    if condition is None:
        return None
    return "abcdefghij"[list(SpecialCategoryCondition).index(condition)]


def _purpose_fact(purpose: Purpose, idx: _Index) -> PurposeFact:
    acts = [a for a in idx.policy.processing_activities if purpose.id in a.purposes]
    requirement = purpose.requirement.kind if purpose.requirement else None
    if requirement is None and set(purpose.legal_bases) == {LegalBasis.CONSENT}:
        requirement = RequirementKind.VOLUNTARY
    return PurposeFact(
        id=purpose.id,
        name=purpose.name,
        description=purpose.description,
        bases=tuple(BasisFact(b, _BASIS_LETTERS[b]) for b in purpose.legal_bases),
        legitimate_interest=purpose.legitimate_interest,
        special_condition=purpose.special_category_condition,
        special_condition_letter=_condition_letter(purpose.special_category_condition),
        activities=_unique([a.name for a in acts]),
        categories=_unique([idx.category_name(c) for a in acts for c in a.data_categories]),
        requirement=requirement,
        consequence=purpose.requirement.consequence if purpose.requirement else None,
        direct_marketing=purpose.direct_marketing,
    )


def _category_fact(category: DataCategory, idx: _Index) -> CategoryFact:
    acts = [a for a in idx.policy.processing_activities if category.id in a.data_categories]
    return CategoryFact(
        id=category.id,
        name=category.name,
        description=category.description,
        special=category.special,
        criminal=category.criminal,
        subjects=_unique([idx.subject_name(s) for a in acts for s in a.data_subjects]),
        activities=_unique([a.name for a in acts]),
    )


def _recipient_fact(rid: str, idx: _Index) -> RecipientFact:
    acts = [a.name for a in idx.policy.processing_activities if rid in idx.recipient_ids(a)]
    found: Recipient | None = idx.recipients.get(rid)
    if found is None:
        return RecipientFact(rid, rid, None, False, None, False, None, _unique(acts))
    return RecipientFact(
        id=found.id,
        name=found.name,
        role=found.role,
        is_category=found.is_category,
        country=found.country,
        third_country=is_third_country(found.country),
        privacy_policy_url=found.privacy_policy_url,
        activities=_unique(acts),
    )


def _transfers(idx: _Index, acts: list[ProcessingActivity]) -> tuple[TransferFact, ...]:
    """Third-country recipients, then third-country systems not already covered
    by their operator's transfer to the same country."""
    found: list[TransferFact] = []
    covered: set[tuple[str, str]] = set()
    for recipient in idx.policy.recipients:
        if recipient.country is None or not is_third_country(recipient.country):
            continue
        used = [a.name for a in acts if recipient.id in idx.recipient_ids(a)]
        found.append(_transfer(recipient, None, recipient.country, used))
        covered.add((recipient.id, recipient.country))
    for system in idx.policy.systems:
        if system.country is None or not is_third_country(system.country):
            continue
        operator = idx.recipients.get(system.operator) if system.operator else None
        if operator is not None and (operator.id, system.country) in covered:
            continue
        used = [a.name for a in acts if system.id in a.systems]
        found.append(_transfer(operator, system.name, system.country, used))
    return tuple(found)


def _transfer(
    recipient: Recipient | None, system: str | None, country: str, activities: list[str]
) -> TransferFact:
    safeguard = recipient.safeguard if recipient else None
    return TransferFact(
        recipient=recipient.name if recipient else (system or ""),
        system=system,
        country=country,
        safeguard=safeguard.kind if safeguard else None,
        safeguard_reference=safeguard.reference if safeguard else None,
        copy_available_at=safeguard.copy_available_at if safeguard else None,
        activities=_unique(activities),
    )


def _hold_categories(hold: LegalHold, idx: _Index) -> list[str]:
    """Category ids a hold keeps: named ones and those of its datasets' fields."""
    cats = list(hold.data_categories)
    for ref in hold.datasets:
        cats += idx.dataset_categories(ref.system, ref.dataset)
    return list(dict.fromkeys(cats))


def _hold_fact(hold: LegalHold, idx: _Index) -> HoldFact:
    return HoldFact(
        id=hold.id,
        law=hold.law,
        reference=hold.reference,
        ground=hold.ground,
        period=hold.period,
        anchor=hold.anchor.event,
        anchor_name=hold.anchor.name,
        categories=_unique([idx.category_name(c) for c in _hold_categories(hold, idx)]),
    )


def _retention_fact(rule: RetentionRule, idx: _Index) -> RetentionFact:
    cats = list(rule.data_categories)
    if not cats:
        for ref in rule.datasets:
            cats += idx.dataset_categories(ref.system, ref.dataset)
    return RetentionFact(
        categories=_unique([idx.category_name(c) for c in cats]),
        period=rule.period,
        immediate=rule.period is not None and rule.period.approximate_days == 0,
        anchor=rule.anchor.event,
        anchor_name=rule.anchor.name,
        criteria=rule.criteria,
        action=rule.action,
        description=rule.description,
    )


def _holds_of(act: ProcessingActivity, idx: _Index) -> list[LegalHold]:
    """Holds named by the activity's rules, or keeping data categories it processes."""
    named = {h for rid in act.retention if rid in idx.rules for h in idx.rules[rid].legal_holds}
    cats = set(act.data_categories)
    return [
        h
        for h in idx.policy.legal_holds
        if h.id in named or cats.intersection(_hold_categories(h, idx))
    ]


def _portable(act: ProcessingActivity, idx: _Index) -> bool:
    if act.portable is not None:
        return act.portable
    return any(
        _PORTABLE_BASES.intersection(idx.purposes[p].legal_bases)
        for p in act.purposes
        if p in idx.purposes
    )


def _sources(acts: list[ProcessingActivity]) -> tuple[SourceFact, ...]:
    groups: dict[tuple[SourceKind, str | None], list[str]] = {}
    for act in acts:
        for source in act.sources:
            groups.setdefault((source.kind, source.description), []).append(act.name)
    return tuple(SourceFact(k, d, _unique(names)) for (k, d), names in groups.items())


def _activity_fact(
    act: ProcessingActivity,
    idx: _Index,
    purposes: dict[str, PurposeFact],
    categories: dict[str, CategoryFact],
    recipients: dict[str, RecipientFact],
    transfers: tuple[TransferFact, ...],
) -> ActivityFact:
    mine = [recipients[r] for r in idx.recipient_ids(act)]
    return ActivityFact(
        id=act.id,
        name=act.name,
        description=act.description,
        purposes=tuple(purposes[p] for p in act.purposes if p in purposes),
        subjects=_unique([idx.subject_name(s) for s in act.data_subjects]),
        categories=tuple(categories[c] for c in act.data_categories if c in categories),
        sources=tuple(SourceFact(s.kind, s.description, (act.name,)) for s in act.sources),
        systems=_unique([idx.system_name(s) for s in act.systems]),
        recipients=tuple(mine),
        joint_controllers=tuple(r for r in mine if r.role is RecipientRole.JOINT_CONTROLLER),
        transfers=tuple(t for t in transfers if act.name in t.activities),
        retention=tuple(
            _retention_fact(idx.rules[r], idx) for r in act.retention if r in idx.rules
        ),
        retention_criteria=act.retention_criteria,
        holds=tuple(_hold_fact(h, idx) for h in _holds_of(act, idx)),
        portable=_portable(act, idx),
    )


def _withdrawal(channel: str) -> ChannelFact:
    kind, sep, value = channel.partition(":")
    if sep and kind.strip() == "email":
        return ChannelFact("email", address=value.strip())
    return ChannelFact(channel.strip())


def _consents(policy: Policy) -> tuple[ConsentFact, ...]:
    found = []
    for p in policy.purposes:
        explicit_condition = (
            p.special_category_condition is SpecialCategoryCondition.EXPLICIT_CONSENT
        )
        if LegalBasis.CONSENT not in p.legal_bases and p.consent is None and not explicit_condition:
            continue
        settings = p.consent
        found.append(
            ConsentFact(
                purpose=p.name,
                mechanism=settings.mechanism if settings else None,
                explicit=(settings.explicit if settings else False) or explicit_condition,
                expires_after=settings.expires_after if settings else None,
                withdrawal=tuple(_withdrawal(c) for c in settings.withdrawal_channels)
                if settings
                else (),
            )
        )
    return tuple(found)


def _objections(policy: Policy) -> tuple[tuple[ObjectionFact, ...], tuple[ObjectionFact, ...]]:
    """Art. 21(1) objections for purposes on (e) or (f), and the Art. 21(2)
    objection to direct marketing, which is always available."""
    general = []
    marketing = []
    for p in policy.purposes:
        if _OBJECTABLE_BASES.intersection(p.legal_bases):
            general.append(
                ObjectionFact(
                    p.name, p.objection.allowed, p.objection.reason_if_not, p.objection.how
                )
            )
        if p.direct_marketing:
            marketing.append(ObjectionFact(p.name, True, None, p.objection.how))
    return tuple(general), tuple(marketing)


def _automated(purpose: Purpose) -> AutomatedFact | None:
    decision: AutomatedDecision = purpose.automated_decision
    if not (decision.exists or decision.profiling):
        return None
    return AutomatedFact(
        purpose.name, decision.exists, decision.profiling, decision.logic, decision.significance
    )


def _channels(policy: Policy) -> tuple[ChannelFact, ...]:
    if policy.rights.channels:
        return tuple(ChannelFact(c.kind, c.address, c.url) for c in policy.rights.channels)
    controller = policy.controller
    fallback = []
    if controller.contact_email:
        fallback.append(ChannelFact("email", address=str(controller.contact_email)))
    if controller.contact_phone:
        fallback.append(ChannelFact("phone", address=controller.contact_phone))
    return tuple(fallback)


def _cookie_provider(provider: str, idx: _Index) -> str | None:
    if provider == "first_party":
        return None
    found = idx.recipients.get(provider)
    return found.name if found else provider


def _recipient_groups(recipients: dict[str, RecipientFact]) -> tuple[RecipientGroup, ...]:
    roles: list[RecipientRole | None] = [*_ROLE_ORDER, None]
    groups = []
    for role in roles:
        members = tuple(r for r in recipients.values() if r.role is role)
        if members:
            groups.append(RecipientGroup(role, members))
    return tuple(groups)


def derive_facts(policy: Policy) -> DocumentFacts:
    """Everything the notice and the record of processing state about ``policy``."""
    idx = _Index(policy)
    acts = list(policy.processing_activities)
    purposes = {p.id: _purpose_fact(p, idx) for p in policy.purposes}
    categories = {c.id: _category_fact(c, idx) for c in policy.data_categories}
    # Declared recipients, then ids used by activities but never declared.
    rids = [r.id for r in policy.recipients] + [r for a in acts for r in idx.recipient_ids(a)]
    recipients = {rid: _recipient_fact(rid, idx) for rid in _unique(rids)}
    transfers = _transfers(idx, acts)
    activities = tuple(
        _activity_fact(a, idx, purposes, categories, recipients, transfers) for a in acts
    )
    objections, marketing = _objections(policy)
    rights = policy.rights
    return DocumentFacts(
        version=policy.version,
        effective_date=policy.effective_date,
        controller=policy.controller,
        name=policy.display_name,
        declarations=policy.controller.declarations,
        subjects=tuple(SubjectFact(s.name, s.description) for s in policy.data_subjects),
        categories=tuple(categories.values()),
        purposes=tuple(purposes.values()),
        activities=activities,
        sources=_sources(acts),
        recipient_groups=_recipient_groups(recipients),
        transfers=transfers,
        unlocated=tuple(
            r.name for r in recipients.values() if r.country is None and r.role not in _LOCAL_ROLES
        ),
        holds=tuple(_hold_fact(h, idx) for h in policy.legal_holds),
        rights=RightsFact(
            offered=tuple(rights.offered),
            channels=_channels(policy),
            response_period=rights.response_period,
            extension=rights.extension,
            clock_starts=rights.clock_starts,
            fee_policy=rights.fee_policy,
            may_refuse=rights.may_refuse_unfounded_or_excessive,
            portable_activities=tuple(a.name for a in activities if a.portable),
        ),
        consents=_consents(policy),
        objections=objections,
        direct_marketing=marketing,
        requirements=tuple(p for p in purposes.values() if p.requirement is not None),
        automated=tuple(f for f in (_automated(p) for p in policy.purposes) if f is not None),
        cookies=tuple(
            CookieFact(
                name=c.name,
                provider=_cookie_provider(c.provider, idx),
                purpose=idx.purpose_name(c.purpose),
                duration=c.duration,
                session=c.session,
                strictly_necessary=c.strictly_necessary,
                description=c.description,
            )
            for c in policy.cookies
        ),
        security=tuple(m.description for m in policy.security),
        children=tuple(
            ChildrenFact(s.name, s.minimum_age, s.may_include_children, s.minors_on_discovery)
            for s in policy.data_subjects
            if s.may_include_children or s.minimum_age is not None or s.minors_on_discovery
        ),
    )
