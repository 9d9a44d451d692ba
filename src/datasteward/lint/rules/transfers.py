"""Rules on recipients and transfers out of the EEA: every recipient declared
and used, processors under written agreements (Art. 28(3)), third-country
transfers under a Chapter V safeguard, and the notice's "nothing leaves the
EEA" promise checked against where recipients and systems really are."""

from __future__ import annotations

from datasteward.lint.facts import FIRST_PARTY, facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import PathTuple, Problems, Rule
from datasteward.lint.rules._text import blank
from datasteward.policy.geography import is_third_country
from datasteward.policy.model import Policy, RecipientRole, SafeguardKind
from datasteward.policy.references import did_you_mean

__all__ = ["RULES"]

_NEEDS_COPY = (SafeguardKind.STANDARD_CONTRACTUAL_CLAUSES, SafeguardKind.BINDING_CORPORATE_RULES)


def _recipient_uses(policy: Policy) -> list[tuple[PathTuple, str, str]]:
    """Every place a recipient id is used: (path, recipient id, who uses it)."""
    uses: list[tuple[PathTuple, str, str]] = []
    for i, activity in enumerate(policy.processing_activities):
        for j, recipient_id in enumerate(activity.recipients):
            uses.append(
                (
                    ("processing_activities", i, "recipients", j),
                    recipient_id,
                    f"activity '{activity.id}' discloses data to",
                )
            )
    for i, system in enumerate(policy.systems):
        if system.operator is not None:
            uses.append(
                (
                    ("systems", i, "operator"),
                    system.operator,
                    f"system '{system.id}' is operated by",
                )
            )
    for i, cookie in enumerate(policy.cookies):
        if cookie.provider != FIRST_PARTY:
            uses.append(
                (("cookies", i, "provider"), cookie.provider, f"cookie '{cookie.name}' is set by")
            )
    return uses


def _recipient_without_safeguard(policy: Policy) -> Problems:
    for i, recipient in enumerate(policy.recipients):
        if is_third_country(recipient.country) and recipient.safeguard is None:
            yield (
                ("recipients", i, "country"),
                f"recipient '{recipient.id}' is in {recipient.country}, a third country, but "
                "names no safeguard for the transfer",
            )


def _system_without_safeguard(policy: Policy) -> Problems:
    recipients = facts_of(policy).recipients
    for i, system in enumerate(policy.systems):
        if not is_third_country(system.country):
            continue
        operator = recipients.get(system.operator) if system.operator else None
        if operator is None:
            reason = "has no declared operator with a transfer safeguard"
        elif operator.safeguard is None:
            if is_third_country(operator.country):
                continue  # DS301 already reports the operator itself
            reason = f"its operator '{operator.id}' names no safeguard for the transfer"
        else:
            continue
        yield (
            ("systems", i, "country"),
            f"system '{system.id}' is hosted in {system.country}, a third country, but {reason}",
        )


def _contradicts_no_transfers(policy: Policy) -> Problems:
    if not policy.controller.declarations.no_third_country_transfers:
        return
    promise = (
        "controller.declarations.no_third_country_transfers says no personal data leaves the EEA"
    )
    for i, recipient in enumerate(policy.recipients):
        if is_third_country(recipient.country):
            yield (
                ("recipients", i, "country"),
                f"recipient '{recipient.id}' is in {recipient.country}, outside the EEA, but "
                f"{promise}",
            )
    for i, system in enumerate(policy.systems):
        if is_third_country(system.country):
            yield (
                ("systems", i, "country"),
                f"system '{system.id}' is hosted in {system.country}, outside the EEA, but "
                f"{promise}",
            )


def _recipient_unused(policy: Policy) -> Problems:
    used = {recipient_id for _, recipient_id, _ in _recipient_uses(policy)}
    for i, recipient in enumerate(policy.recipients):
        if recipient.id not in used:
            yield (
                ("recipients", i, "id"),
                f"recipient '{recipient.id}' is declared but no activity, system or cookie uses it",
            )


def _recipient_undeclared(policy: Policy) -> Problems:
    declared = facts_of(policy).recipients
    for path, recipient_id, who in _recipient_uses(policy):
        if recipient_id not in declared:
            hint = did_you_mean(recipient_id, declared)
            yield (path, f"{who} recipient '{recipient_id}', which is not declared{hint}")


def _processor_agreement(policy: Policy) -> Problems:
    for i, recipient in enumerate(policy.recipients):
        if recipient.role is not RecipientRole.PROCESSOR or recipient.written_agreement:
            continue
        if recipient.written_agreement is False:
            detail = "has no written processing agreement"
        else:
            detail = "is not confirmed to have a written processing agreement (written_agreement)"
        yield (("recipients", i, "written_agreement"), f"processor '{recipient.id}' {detail}")


def _safeguard_copy(policy: Policy) -> Problems:
    for i, recipient in enumerate(policy.recipients):
        safeguard = recipient.safeguard
        outside = recipient.country is None or is_third_country(recipient.country)
        if (
            safeguard is not None
            and outside
            and safeguard.kind in _NEEDS_COPY
            and blank(safeguard.copy_available_at)
        ):
            yield (
                ("recipients", i, "safeguard"),
                f"recipient '{recipient.id}' relies on {safeguard.kind.value} but does not say "
                "where a copy can be obtained (safeguard.copy_available_at)",
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS301",
        "Third-country recipient without safeguard",
        Severity.ERROR,
        "Art. 44-46 GDPR",
        "Personal data may leave the EEA only under an adequacy decision, appropriate "
        "safeguards or an Art. 49 derogation.",
        _recipient_without_safeguard,
    ),
    Rule(
        "DS302",
        "Third-country system without safeguard",
        Severity.ERROR,
        "Art. 44-46 GDPR",
        "Hosting data outside the EEA is a transfer too; the hosting provider needs a "
        "Chapter V safeguard.",
        _system_without_safeguard,
    ),
    Rule(
        "DS303",
        "Transfers contradict the notice",
        Severity.ERROR,
        "Art. 13(1)(f) GDPR",
        "The notice promises that no data leaves the EEA while a recipient or system is "
        "outside it; the notice would mislead data subjects.",
        _contradicts_no_transfers,
    ),
    Rule(
        "DS304",
        "Recipient declared but unused",
        Severity.WARNING,
        "Art. 13(1)(e) GDPR",
        "The notice lists recipients from the policy; one that receives nothing is either a "
        "leftover or a missing link to the activity that discloses data to it.",
        _recipient_unused,
    ),
    Rule(
        "DS305",
        "Recipient used but not declared",
        Severity.ERROR,
        "Art. 13(1)(e) GDPR",
        "Data subjects must be told who receives their data; a recipient named only in an "
        "activity, system or cookie would be missing from the notice.",
        _recipient_undeclared,
    ),
    Rule(
        "DS306",
        "Processor without written agreement",
        Severity.WARNING,
        "Art. 28(3) GDPR",
        "Processing by a processor must be governed by a contract in writing.",
        _processor_agreement,
    ),
    Rule(
        "DS307",
        "Copy of transfer safeguard not available",
        Severity.WARNING,
        "Art. 13(1)(f) GDPR",
        "For transfers under standard contractual clauses or binding corporate rules, the "
        "notice must say how to obtain a copy of them.",
        _safeguard_copy,
    ),
)
