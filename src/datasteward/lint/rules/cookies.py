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


def _lifetime_unstated(policy: Policy) -> Problems:
    for i, cookie in enumerate(policy.cookies):
        if cookie.duration is None and not cookie.session:
            yield (
                ("cookies", i),
                f"cookie '{cookie.name}' states no lifetime: give `duration` (e.g. P13M) "
                "or `session: true`",
            )
        elif cookie.duration is not None and cookie.session:
            yield (
                ("cookies", i, "session"),
                f"cookie '{cookie.name}' is marked as a session cookie but also has a duration",
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
    Rule(
        "DS502",
        "Cookie lifetime not stated",
        Severity.WARNING,
        "Art. 13(2)(a) GDPR",
        "Visitors must be told how long a cookie keeps its data; a cookie with neither a "
        "duration nor a session flag leaves them guessing.",
        _lifetime_unstated,
    ),
)
