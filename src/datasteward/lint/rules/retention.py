"""Rules on how long data is kept (storage limitation, Art. 5(1)(e)) and on
what the notice can say about it (Art. 13(2)(a)): every processed category
ends by a rule with a period, and every rule can actually be carried out."""

from __future__ import annotations

from collections.abc import Iterator

from datasteward.lint.facts import facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import PathTuple, Problems, Rule
from datasteward.lint.rules._text import blank, quoted
from datasteward.policy.model import Policy, ProcessingActivity, RetentionAction, RetentionRule
from datasteward.policy.references import did_you_mean

__all__ = ["RULES"]


def _coverage(
    policy: Policy,
) -> Iterator[tuple[PathTuple, ProcessingActivity, str, list[RetentionRule]]]:
    """Each (activity, category) pair with the retention rules that end it.

    A rule covers a category of an activity when the activity names the rule
    and the rule lists no categories (it ends all of the activity's data), or
    when the rule ends the category anywhere (by data_categories or datasets)."""
    facts = facts_of(policy)
    for i, activity in enumerate(policy.processing_activities):
        own = [
            rule
            for rule_id in activity.retention
            if (rule := facts.retention_rules.get(rule_id)) is not None and not rule.data_categories
        ]
        seen: set[str] = set()
        for j, category_id in enumerate(activity.data_categories):
            if category_id in seen:
                continue
            seen.add(category_id)
            rules = {r.id: r for r in (*own, *facts.rules_by_category.get(category_id, ()))}
            yield (
                ("processing_activities", i, "data_categories", j),
                activity,
                category_id,
                list(rules.values()),
            )


def _not_covered(policy: Policy) -> Problems:
    for path, activity, category_id, rules in _coverage(policy):
        if not rules and blank(activity.retention_criteria):
            yield (
                path,
                f"data category '{category_id}' of activity '{activity.id}' is ended by no "
                "retention rule",
            )


def _criteria_only(policy: Policy) -> Problems:
    for path, activity, category_id, rules in _coverage(policy):
        if any(rule.period is not None for rule in rules):
            continue
        with_criteria = [rule.id for rule in rules if not blank(rule.criteria)]
        if with_criteria:
            source = f"retention rule {quoted(with_criteria)}"
        elif not rules and not blank(activity.retention_criteria):
            source = "the activity's retention_criteria"
        else:
            continue
        yield (
            path,
            f"data category '{category_id}' of activity '{activity.id}' is kept only by "
            f"criteria ({source}), with no retention period",
        )


def _no_period_no_criteria(policy: Policy) -> Problems:
    for i, rule in enumerate(policy.retention_rules):
        if rule.period is None and blank(rule.criteria):
            yield (
                ("retention_rules", i, "period"),
                f"retention rule '{rule.id}' gives neither a period nor criteria",
            )


def _anonymise_without_fields(policy: Policy) -> Problems:
    for i, rule in enumerate(policy.retention_rules):
        if rule.action is RetentionAction.ANONYMISE and not rule.fields:
            yield (
                ("retention_rules", i, "fields"),
                f"retention rule '{rule.id}' anonymises but lists no fields to anonymise",
            )


def _anonymise_unknown_field(policy: Policy) -> Problems:
    if not policy.systems:
        return
    datasets = {(s.id, d.name): d for s in policy.systems for d in s.datasets}
    everywhere: set[str] | None = None
    for i, rule in enumerate(policy.retention_rules):
        if rule.action is not RetentionAction.ANONYMISE or not rule.fields:
            continue
        if rule.datasets:
            scope = [d for ref in rule.datasets if (d := datasets.get((ref.system, ref.dataset)))]
            known = {f.name for d in scope for f in d.fields}
            known |= {f"{d.name}.{f.name}" for d in scope for f in d.fields}
            where = "its datasets"
        else:
            if everywhere is None:
                everywhere = {f.name for d in datasets.values() for f in d.fields}
                everywhere |= {f"{d.name}.{f.name}" for d in datasets.values() for f in d.fields}
            known = everywhere
            where = "any declared dataset"
        for j, name in enumerate(rule.fields):
            if name not in known:
                yield (
                    ("retention_rules", i, "fields", j),
                    f"retention rule '{rule.id}' anonymises field '{name}', which is not a "
                    f"field of {where}{did_you_mean(name, known)}",
                )


def _rule_ends_nothing(policy: Policy) -> Problems:
    referenced = facts_of(policy).referenced_rules
    for i, rule in enumerate(policy.retention_rules):
        if not rule.data_categories and not rule.datasets and rule.id not in referenced:
            yield (
                ("retention_rules", i, "id"),
                f"retention rule '{rule.id}' names no data category or dataset and no "
                "activity uses it, so it ends nothing",
            )


_ARTICLE = "Art. 5(1)(e), 13(2)(a) GDPR"

RULES: tuple[Rule, ...] = (
    Rule(
        "DS401",
        "Data kept without retention rule",
        Severity.WARNING,
        _ARTICLE,
        "Data may be kept no longer than necessary, and the notice must state the period; "
        "a processed category that no retention rule ends is kept forever.",
        _not_covered,
    ),
    Rule(
        "DS402",
        "Data kept only 'as long as necessary'",
        Severity.WARNING,
        _ARTICLE,
        "Criteria are allowed only where no period can be given; without a period the "
        "engine cannot end the data and the notice cannot say when it ends.",
        _criteria_only,
    ),
    Rule(
        "DS403",
        "Retention rule without period or criteria",
        Severity.ERROR,
        "Art. 13(2)(a) GDPR",
        "The notice must give the storage period or at least the criteria that determine it.",
        _no_period_no_criteria,
    ),
    Rule(
        "DS404",
        "Anonymisation without fields",
        Severity.ERROR,
        "Art. 5(1)(e) GDPR",
        "An anonymising rule that names no fields leaves every field identifying the person.",
        _anonymise_without_fields,
    ),
    Rule(
        "DS405",
        "Anonymisation of an unknown field",
        Severity.ERROR,
        "Art. 5(1)(e) GDPR",
        "A field name the systems do not declare cannot be anonymised; the data it was meant "
        "to end would be kept.",
        _anonymise_unknown_field,
    ),
    Rule(
        "DS406",
        "Retention rule ends nothing",
        Severity.WARNING,
        "Art. 5(1)(e) GDPR",
        "A rule with no categories, no datasets and no activity never runs; the promise it "
        "makes in the notice is not kept.",
        _rule_ends_nothing,
    ),
)
