"""Rules on cookies and similar technologies (ePrivacy Directive Art. 5(3)):
storing or reading anything on a visitor's device needs consent unless it is
strictly necessary for a service the visitor asked for."""

from __future__ import annotations

from datasteward.lint.facts import facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import Problems, Rule
from datasteward.policy.model import Policy

__all__ = ["RULES"]


def _tracking_without_consent(policy: Policy) -> Problems:
    facts = facts_of(policy)
    for i, cookie in enumerate(policy.cookies):
        if cookie.strictly_necessary or cookie.purpose in facts.consent_purposes:
            continue
        purpose = facts.purposes.get(cookie.purpose)
        bases = ", ".join(b.value for b in purpose.legal_bases) if purpose else ""
        on = f"rests on {bases}" if bases else "names no legal basis"
        yield (
            ("cookies", i, "purpose"),
            f"cookie '{cookie.name}' is not strictly necessary, but its purpose "
            f"'{cookie.purpose}' {on} instead of consent",
        )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS501",
        "Non-essential cookie without consent",
        Severity.ERROR,
        "Art. 5(3) ePrivacy Directive",
        "Analytics, advertising and other non-essential cookies may be set only with the "
        "visitor's prior consent; legitimate interest is not enough.",
        _tracking_without_consent,
    ),
)
