"""Rules on purposes and their legal bases: Art. 6(1) bases, legitimate
interests, consent withdrawal, Art. 9(2) conditions for special categories,
objection, automated decisions, and whether providing data is required."""

from __future__ import annotations

from datasteward.lint.facts import facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import Problems, Rule
from datasteward.lint.rules._text import blank, quoted
from datasteward.policy.model import (
    LegalBasis,
    Policy,
    RequirementKind,
    SpecialCategoryCondition,
)

__all__ = ["RULES"]

_OBJECTABLE = (LegalBasis.LEGITIMATE_INTEREST, LegalBasis.PUBLIC_TASK)
"""Art. 21(1) gives a right to object to processing on these bases."""


def _no_basis(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        if not purpose.legal_bases:
            yield (
                ("purposes", i, "legal_bases"),
                f"purpose '{purpose.id}' names no legal basis",
            )


def _interest_not_stated(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        if LegalBasis.LEGITIMATE_INTEREST in purpose.legal_bases and blank(
            purpose.legitimate_interest
        ):
            yield (
                ("purposes", i, "legal_bases"),
                f"purpose '{purpose.id}' rests on legitimate_interest but states no "
                "legitimate interest",
            )


def _no_withdrawal(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        if LegalBasis.CONSENT not in purpose.legal_bases:
            continue
        if purpose.consent is None:
            yield (
                ("purposes", i, "legal_bases"),
                f"purpose '{purpose.id}' rests on consent but has no consent settings, so "
                "no way to withdraw consent is declared",
            )
        elif not purpose.consent.withdrawal_channels:
            yield (
                ("purposes", i, "consent", "withdrawal_channels"),
                f"purpose '{purpose.id}' rests on consent but lists no withdrawal_channels",
            )


def _special_without_condition(policy: Policy) -> Problems:
    facts = facts_of(policy)
    for i, activity in enumerate(policy.processing_activities):
        special = [c for c in activity.data_categories if c in facts.special_processed]
        if not special:
            continue
        for j, purpose_id in enumerate(activity.purposes):
            purpose = facts.purposes.get(purpose_id)
            if purpose is not None and purpose.special_category_condition is None:
                yield (
                    ("processing_activities", i, "purposes", j),
                    f"activity '{activity.id}' processes special category {quoted(special)} "
                    f"for purpose '{purpose_id}', which names no special_category_condition",
                )


def _special_consent_not_explicit(policy: Policy) -> Problems:
    facts = facts_of(policy)
    index = {p.id: i for i, p in enumerate(policy.purposes)}
    seen: set[str] = set()
    for activity in policy.processing_activities:
        special = [c for c in activity.data_categories if c in facts.special_processed]
        if not special:
            continue
        for purpose_id in activity.purposes:
            purpose = facts.purposes.get(purpose_id)
            if purpose is None or purpose_id in seen:
                continue
            condition = purpose.special_category_condition
            on_consent = condition is SpecialCategoryCondition.EXPLICIT_CONSENT or (
                condition is None and LegalBasis.CONSENT in purpose.legal_bases
            )
            if on_consent and not (purpose.consent is not None and purpose.consent.explicit):
                seen.add(purpose_id)
                yield (
                    ("purposes", index[purpose_id], "consent"),
                    f"purpose '{purpose_id}' relies on consent for special category "
                    f"{quoted(special)} (activity '{activity.id}') but its consent is not "
                    "explicit (consent.explicit: true)",
                )


def _purpose_unused(policy: Policy) -> Problems:
    used = facts_of(policy).used_purposes
    for i, purpose in enumerate(policy.purposes):
        if purpose.id not in used:
            yield (
                ("purposes", i, "id"),
                f"purpose '{purpose.id}' is served by no processing activity",
            )


def _activity_without_purpose(policy: Policy) -> Problems:
    for i, activity in enumerate(policy.processing_activities):
        if not activity.purposes:
            yield (
                ("processing_activities", i, "purposes"),
                f"activity '{activity.id}' serves no purpose",
            )


def _objection_unexplained(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        objection = purpose.objection
        bases = [b.value for b in purpose.legal_bases if b in _OBJECTABLE]
        if bases and not objection.allowed and blank(objection.reason_if_not):
            yield (
                ("purposes", i, "objection"),
                f"purpose '{purpose.id}' rests on {' and '.join(bases)} and does not allow "
                "objection, but gives no reason_if_not",
            )


def _marketing_objection(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        if purpose.direct_marketing and not purpose.objection.allowed:
            yield (
                ("purposes", i, "objection", "allowed"),
                f"purpose '{purpose.id}' is direct marketing but does not allow objection",
            )


def _automated_logic(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        decision = purpose.automated_decision
        if not decision.exists:
            continue
        missing = [
            name
            for name, value in (("logic", decision.logic), ("significance", decision.significance))
            if blank(value)
        ]
        if missing:
            yield (
                ("purposes", i, "automated_decision"),
                f"purpose '{purpose.id}' makes automated decisions but does not explain "
                f"their {' or '.join(missing)}",
            )


def _requirement(policy: Policy) -> Problems:
    for i, purpose in enumerate(policy.purposes):
        requirement = purpose.requirement
        if requirement is None:
            bases = [
                b.value
                for b in purpose.legal_bases
                if b in (LegalBasis.CONTRACT, LegalBasis.LEGAL_OBLIGATION)
            ]
            if bases:
                yield (
                    ("purposes", i, "requirement"),
                    f"purpose '{purpose.id}' rests on {' and '.join(bases)} but does not say "
                    "whether providing the data is required (requirement)",
                )
        elif requirement.kind is not RequirementKind.VOLUNTARY and blank(requirement.consequence):
            yield (
                ("purposes", i, "requirement"),
                f"purpose '{purpose.id}' makes providing data {requirement.kind.value} but "
                "gives no consequence of not providing it",
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS201",
        "Purpose without legal basis",
        Severity.ERROR,
        "Art. 6(1) GDPR",
        "Processing is lawful only on one of the six bases of Art. 6(1).",
        _no_basis,
    ),
    Rule(
        "DS202",
        "Legitimate interest not stated",
        Severity.ERROR,
        "Art. 13(1)(d) GDPR",
        "Where processing rests on Art. 6(1)(f), the notice must say which interest is pursued.",
        _interest_not_stated,
    ),
    Rule(
        "DS203",
        "Consent cannot be withdrawn",
        Severity.ERROR,
        "Art. 7(3) GDPR",
        "Withdrawing consent must be as easy as giving it, so every consent purpose needs at "
        "least one withdrawal channel.",
        _no_withdrawal,
    ),
    Rule(
        "DS204",
        "Special category without Art. 9(2) condition",
        Severity.ERROR,
        "Art. 9(2) GDPR",
        "Special categories may only be processed under one of the conditions of Art. 9(2), "
        "in addition to an Art. 6(1) basis.",
        _special_without_condition,
    ),
    Rule(
        "DS205",
        "Special category consent not explicit",
        Severity.WARNING,
        "Art. 9(2)(a) GDPR",
        "Consent lifts the ban on special categories only when it is explicit.",
        _special_consent_not_explicit,
    ),
    Rule(
        "DS206",
        "Purpose served by no activity",
        Severity.WARNING,
        "Art. 30(1)(b) GDPR",
        "A purpose no activity serves is missing from the record of processing, or is left "
        "over in the notice from processing that stopped.",
        _purpose_unused,
    ),
    Rule(
        "DS207",
        "Activity without purpose",
        Severity.ERROR,
        "Art. 5(1)(b) GDPR",
        "Personal data may only be collected for specified, explicit purposes.",
        _activity_without_purpose,
    ),
    Rule(
        "DS208",
        "Objection refused without reason",
        Severity.WARNING,
        "Art. 21(1), 21(4) GDPR",
        "Processing on legitimate interest or public task can be objected to; where the "
        "policy rules that out, the notice must explain why.",
        _objection_unexplained,
    ),
    Rule(
        "DS209",
        "Direct marketing without objection",
        Severity.ERROR,
        "Art. 21(2)-(3) GDPR",
        "A data subject may object to direct marketing at any time, and the objection always "
        "ends it.",
        _marketing_objection,
    ),
    Rule(
        "DS210",
        "Automated decision not explained",
        Severity.ERROR,
        "Art. 13(2)(f) GDPR",
        "Automated decisions need meaningful information about the logic involved and their "
        "significance and consequences for the data subject.",
        _automated_logic,
    ),
    Rule(
        "DS211",
        "Requirement to provide data not explained",
        Severity.WARNING,
        "Art. 13(2)(e) GDPR",
        "The notice must say whether providing data is a statutory or contractual "
        "requirement and what happens if the data subject does not provide it.",
        _requirement,
    ),
)
