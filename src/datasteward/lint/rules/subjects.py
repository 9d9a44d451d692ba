"""Rules on data subjects and their rights: children (Art. 8), portability
(Art. 20(1)), the ways and deadlines for requests (Art. 12) and the rights
the notice must explain (Art. 13(2)(b)-(d))."""

from __future__ import annotations

from datasteward.legaltime.duration import IsoDuration
from datasteward.lint.facts import facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import Problems, Rule
from datasteward.policy.model import LegalBasis, Policy, RightKind

__all__ = ["RULES"]

MAX_RESPONSE_PERIOD = IsoDuration(months=1)
MAX_EXTENSION = IsoDuration(months=2)

_ALWAYS = (
    RightKind.ACCESS,
    RightKind.RECTIFICATION,
    RightKind.ERASURE,
    RightKind.RESTRICTION,
    RightKind.COMPLAINT,
)


def _children_without_age(policy: Policy) -> Problems:
    for i, subject in enumerate(policy.data_subjects):
        if subject.may_include_children and subject.minimum_age is None:
            yield (
                ("data_subjects", i, "may_include_children"),
                f"data subject '{subject.id}' may include children but states no minimum_age",
            )


def _portable_without_basis(policy: Policy) -> Problems:
    facts = facts_of(policy)
    for i, activity in enumerate(policy.processing_activities):
        if activity.portable is not True:
            continue
        if not any(
            facts.rests_on(p, LegalBasis.CONSENT, LegalBasis.CONTRACT) for p in activity.purposes
        ):
            yield (
                ("processing_activities", i, "portable"),
                f"activity '{activity.id}' is marked portable, but none of its purposes rests "
                "on consent or contract",
            )


def _no_channel(policy: Policy) -> Problems:
    if not policy.rights.channels:
        yield (
            ("rights", "channels"),
            "rights.channels lists no way to submit a data subject request",
        )


def _right_missing(policy: Policy) -> Problems:
    offered = set(policy.rights.offered)
    bases = {basis for purpose in policy.purposes for basis in purpose.legal_bases}
    needed: dict[RightKind, str] = {right: "always" for right in _ALWAYS}
    if bases & {LegalBasis.CONSENT, LegalBasis.CONTRACT}:
        needed[RightKind.PORTABILITY] = "some purposes rest on consent or contract"
    if bases & {LegalBasis.LEGITIMATE_INTEREST, LegalBasis.PUBLIC_TASK} or any(
        p.direct_marketing for p in policy.purposes
    ):
        needed[RightKind.OBJECTION] = (
            "some purposes rest on legitimate interest or public task, or are direct marketing"
        )
    if LegalBasis.CONSENT in bases:
        needed[RightKind.WITHDRAW_CONSENT] = "some purposes rest on consent"
    for right, why in needed.items():
        if right not in offered:
            reason = "" if why == "always" else f" ({why})"
            yield (
                ("rights", "offered"),
                f"rights.offered leaves out the right '{right.value}', which data subjects "
                f"have{reason}",
            )


def _deadline_too_long(policy: Policy) -> Problems:
    rights = policy.rights
    if rights.response_period > MAX_RESPONSE_PERIOD:
        yield (
            ("rights", "response_period"),
            f"rights.response_period {rights.response_period} is longer than the one month "
            "the law allows",
        )
    if rights.extension > MAX_EXTENSION:
        yield (
            ("rights", "extension"),
            f"rights.extension {rights.extension} is longer than the two further months the "
            "law allows",
        )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS701",
        "Children without minimum age",
        Severity.ERROR,
        "Art. 8(1) GDPR",
        "Where children may use the service, the policy must say from which age they may "
        "consent themselves, or that the service is not offered to them.",
        _children_without_age,
    ),
    Rule(
        "DS702",
        "Portability without consent or contract",
        Severity.ERROR,
        "Art. 20(1) GDPR",
        "The right to data portability covers processing based on consent or contract; "
        "promising it elsewhere misstates the right.",
        _portable_without_basis,
    ),
    Rule(
        "DS703",
        "No request channel",
        Severity.WARNING,
        "Art. 12(2) GDPR",
        "The controller must make exercising rights easy; the notice and privacy page name "
        "the channels from rights.channels.",
        _no_channel,
    ),
    Rule(
        "DS704",
        "Right not offered",
        Severity.ERROR,
        "Art. 13(2)(b)-(d) GDPR",
        "The notice must explain every right that applies to the processing; rights.offered "
        "decides which rights the notice explains and which requests are accepted.",
        _right_missing,
    ),
    Rule(
        "DS705",
        "Response deadline too long",
        Severity.ERROR,
        "Art. 12(3) GDPR",
        "Requests are answered within one month of receipt, extendable by two further months.",
        _deadline_too_long,
    ),
)
