"""Rules on who the controller is and how it can be reached (Art. 13(1)(a)-(b),
Art. 13(2)(d), Art. 27, Art. 37), and on the promises its notice makes."""

from __future__ import annotations

from datasteward.lint.facts import facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import Problems, Rule
from datasteward.lint.rules._text import blank, quoted
from datasteward.policy.geography import is_third_country
from datasteward.policy.model import Policy

__all__ = ["RULES"]


def _address(policy: Policy) -> Problems:
    c = policy.controller
    if blank(c.registered_address) and blank(c.office_address):
        yield (
            ("controller", "registered_address"),
            f"controller '{c.legal_name}' gives neither a registered_address nor an office_address",
        )


def _contact(policy: Policy) -> Problems:
    c = policy.controller
    if blank(c.contact_email) and blank(c.contact_phone):
        yield (
            ("controller", "contact_email"),
            f"controller '{c.legal_name}' gives neither a contact_email nor a contact_phone, "
            "so data subjects cannot reach it",
        )


def _authority(policy: Policy) -> Problems:
    authority = policy.controller.supervisory_authority
    if authority is None or blank(authority.name):
        yield (
            ("controller", "supervisory_authority"),
            "no supervisory_authority is named, so the notice cannot tell data subjects "
            "where to lodge a complaint",
        )


def _dpo_needed(policy: Policy) -> Problems:
    if policy.controller.dpo is not None:
        return
    facts = facts_of(policy)
    reasons: list[str] = []
    if facts.special_processed:
        reasons.append(f"processes special categories ({quoted(facts.special_processed)})")
    profiling = [
        p.id
        for p in policy.purposes
        if p.id in facts.used_purposes
        and (p.automated_decision.profiling or p.automated_decision.exists)
    ]
    if profiling:
        reasons.append(f"profiles people or decides automatically (purpose {quoted(profiling)})")
    tracking = [c.name for c in policy.cookies if not c.strictly_necessary]
    if tracking:
        reasons.append(f"monitors visitors with non-essential cookies ({quoted(tracking)})")
    if reasons:
        yield (
            ("controller", "dpo"),
            "no data protection officer (controller.dpo) is named although the policy "
            + "; ".join(reasons)
            + "; one is required where this is a core activity on a large scale",
        )


def _dpo_contact(policy: Policy) -> Problems:
    dpo = policy.controller.dpo
    if dpo is not None and blank(dpo.email) and blank(dpo.phone) and blank(dpo.address):
        name = f" '{dpo.name}'" if dpo.name else ""
        yield (
            ("controller", "dpo"),
            f"data protection officer{name} has no email, phone or address to be reached at",
        )


def _eu_representative(policy: Policy) -> Problems:
    c = policy.controller
    if is_third_country(c.country) and c.eu_representative is None:
        yield (
            ("controller", "country"),
            f"controller '{c.legal_name}' is established in {c.country}, outside the EEA, "
            "but names no eu_representative",
        )


def _no_automated_decisions(policy: Policy) -> Problems:
    if not policy.controller.declarations.no_automated_decisions:
        return
    for i, purpose in enumerate(policy.purposes):
        decision = purpose.automated_decision
        if decision.exists or decision.profiling:
            what = "makes automated decisions" if decision.exists else "involves profiling"
            yield (
                ("purposes", i, "automated_decision"),
                f"purpose '{purpose.id}' {what}, but controller.declarations."
                "no_automated_decisions promises none",
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS101",
        "Controller address missing",
        Severity.ERROR,
        "Art. 13(1)(a) GDPR",
        "The notice must give the controller's identity and contact details; a postal "
        "address is where complaints and requests in writing go.",
        _address,
    ),
    Rule(
        "DS102",
        "Controller contact missing",
        Severity.ERROR,
        "Art. 13(1)(a) GDPR",
        "Data subjects need a working email address or telephone number to ask questions "
        "and exercise their rights.",
        _contact,
    ),
    Rule(
        "DS103",
        "Supervisory authority not named",
        Severity.ERROR,
        "Art. 13(2)(d) GDPR",
        "The notice must tell data subjects of their right to complain to a supervisory "
        "authority; the engine names the authority from the policy.",
        _authority,
    ),
    Rule(
        "DS104",
        "Data protection officer may be required",
        Severity.WARNING,
        "Art. 37(1) GDPR",
        "Special categories, profiling and tracking of visitors are the signs of processing "
        "that needs a DPO when it is a core activity on a large scale.",
        _dpo_needed,
    ),
    Rule(
        "DS105",
        "Data protection officer cannot be reached",
        Severity.ERROR,
        "Art. 13(1)(b), 37(7) GDPR",
        "Where a DPO is designated, the notice must publish how to contact them.",
        _dpo_contact,
    ),
    Rule(
        "DS106",
        "EU representative missing",
        Severity.ERROR,
        "Art. 27(1), 13(1)(a) GDPR",
        "A controller established outside the EEA that offers goods or services in it must "
        "designate a representative in the Union and name it in the notice.",
        _eu_representative,
    ),
    Rule(
        "DS107",
        "Automated decisions contradict the notice",
        Severity.ERROR,
        "Art. 13(2)(f) GDPR",
        "The notice promises no automated decision-making or profiling, yet a purpose "
        "declares it; the promise and the practice must agree.",
        _no_automated_decisions,
    ),
)
