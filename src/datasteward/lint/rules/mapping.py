"""Rules on systems, datasets and fields: every stored field maps to a
declared data category that some activity processes (Art. 30(1)(c)), every
system can be reached, and every field's erasure action can be carried out
completely (Art. 12(2), 17)."""

from __future__ import annotations

from collections.abc import Iterator

from datasteward.lint.facts import facts_of
from datasteward.lint.finding import Severity
from datasteward.lint.rule import PathTuple, Problems, Rule
from datasteward.lint.rules._text import blank
from datasteward.policy.model import (
    ConnectorKind,
    Dataset,
    DatasetField,
    ErasureAction,
    Policy,
    System,
)
from datasteward.policy.references import did_you_mean

__all__ = ["RULES"]

GENERALISE_UNITS = ("month", "year")


def _fields(policy: Policy) -> Iterator[tuple[PathTuple, System, Dataset, DatasetField]]:
    for i, system in enumerate(policy.systems):
        for j, dataset in enumerate(system.datasets):
            for k, field in enumerate(dataset.fields):
                yield ("systems", i, "datasets", j, "fields", k), system, dataset, field


def _name(system: System, dataset: Dataset, field: DatasetField) -> str:
    return f"field '{dataset.name}.{field.name}' of system '{system.id}'"


def _undeclared_category(policy: Policy) -> Problems:
    categories = facts_of(policy).categories
    for path, system, dataset, field in _fields(policy):
        if field.category not in categories:
            yield (
                (*path, "category"),
                f"{_name(system, dataset, field)} maps to undeclared data category "
                f"'{field.category}'{did_you_mean(field.category, categories)}",
            )


def _no_url_env(policy: Policy) -> Problems:
    for i, system in enumerate(policy.systems):
        if system.connector is not ConnectorKind.MANUAL and system.url_env is None:
            yield (
                ("systems", i, "url_env"),
                f"system '{system.id}' uses the {system.connector.value} connector but names "
                "no url_env holding its connection URL",
            )


def _no_manual_instructions(policy: Policy) -> Problems:
    for i, system in enumerate(policy.systems):
        if system.connector is ConnectorKind.MANUAL and (
            system.manual is None or blank(system.manual.instructions)
        ):
            yield (
                ("systems", i, "manual"),
                f"system '{system.id}' is handled manually but gives no manual instructions",
            )


def _erasure_incomplete(policy: Policy) -> Problems:
    for path, system, dataset, field in _fields(policy):
        if field.erasure is ErasureAction.SET_VALUE and field.erasure_value is None:
            yield (
                (*path, "erasure"),
                f"{_name(system, dataset, field)} is erased with set_value but gives no "
                "erasure_value",
            )
        elif (
            field.erasure is ErasureAction.GENERALISE_DATE
            and field.generalise_to not in GENERALISE_UNITS
        ):
            got = f"'{field.generalise_to}'" if field.generalise_to is not None else "nothing"
            yield (
                (*path, "generalise_to"),
                f"{_name(system, dataset, field)} is erased with generalise_date but "
                f"generalise_to is {got}; use 'month' or 'year'",
            )


def _category_unused(policy: Policy) -> Problems:
    processed = facts_of(policy).processed_categories
    for i, category in enumerate(policy.data_categories):
        if category.id not in processed:
            yield (
                ("data_categories", i, "id"),
                f"data category '{category.id}' is processed by no activity",
            )


def _field_without_activity(policy: Policy) -> Problems:
    facts = facts_of(policy)
    for path, system, dataset, field in _fields(policy):
        category = field.category
        if category in facts.categories and category not in facts.processed_categories:
            yield (
                (*path, "category"),
                f"{_name(system, dataset, field)} holds '{category}', which no processing "
                "activity processes",
            )


def _dataset_unreachable(policy: Policy) -> Problems:
    for i, system in enumerate(policy.systems):
        for j, dataset in enumerate(system.datasets):
            if dataset.fields and not dataset.identity_fields and not dataset.relations:
                yield (
                    ("systems", i, "datasets", j),
                    f"dataset '{dataset.name}' of system '{system.id}' holds personal data but "
                    "has no identity_fields or relations to find a data subject's rows",
                )


def _kept_without_hold(policy: Policy) -> Problems:
    held_categories: set[str] = set()
    held_datasets: set[tuple[str, str]] = set()
    for hold in policy.legal_holds:
        held_categories.update(hold.data_categories)
        held_datasets.update((ref.system, ref.dataset) for ref in hold.datasets)
    for path, system, dataset, field in _fields(policy):
        if (
            field.erasure is ErasureAction.KEEP
            and field.category not in held_categories
            and (system.id, dataset.name) not in held_datasets
        ):
            yield (
                (*path, "erasure"),
                f"{_name(system, dataset, field)} is kept on erasure, but no legal hold "
                f"covers its category '{field.category}' or its dataset",
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS601",
        "Field mapped to undeclared data category",
        Severity.ERROR,
        "Art. 30(1)(c) GDPR",
        "The record of processing describes data by category; a field whose category is not "
        "declared escapes the notice, access packages and erasure.",
        _undeclared_category,
    ),
    Rule(
        "DS602",
        "System without connection setting",
        Severity.ERROR,
        "Art. 12(2) GDPR",
        "The engine reaches a database through the environment variable named by url_env; "
        "without it no request can be carried out in that system.",
        _no_url_env,
    ),
    Rule(
        "DS603",
        "Manual system without instructions",
        Severity.ERROR,
        "Art. 12(2) GDPR",
        "Staff carry out requests in a manual system; without instructions the task cannot "
        "be done reliably or within the deadline.",
        _no_manual_instructions,
    ),
    Rule(
        "DS604",
        "Erasure action incomplete",
        Severity.ERROR,
        "Art. 17(1) GDPR",
        "set_value needs the replacement value and generalise_date needs 'month' or 'year'; "
        "otherwise erasure of the field cannot run.",
        _erasure_incomplete,
    ),
    Rule(
        "DS605",
        "Data category processed by no activity",
        Severity.WARNING,
        "Art. 30(1)(c) GDPR",
        "A declared category no activity processes is either missing from the record of "
        "processing or a leftover in the notice.",
        _category_unused,
    ),
    Rule(
        "DS606",
        "Stored data without processing activity",
        Severity.WARNING,
        "Art. 5(1)(b), 6(1) GDPR",
        "A field whose category no activity processes is kept without a stated purpose or "
        "legal basis.",
        _field_without_activity,
    ),
    Rule(
        "DS607",
        "Dataset cannot be searched by data subject",
        Severity.WARNING,
        "Art. 12(2), 15(1) GDPR",
        "Requests are answered by finding one person's rows; a dataset without identity "
        "fields or relations is silently left out of access and erasure.",
        _dataset_unreachable,
    ),
    Rule(
        "DS608",
        "Field kept on erasure without legal hold",
        Severity.WARNING,
        "Art. 17(3) GDPR",
        "Data may be kept despite an erasure request only on an Art. 17(3) ground such as a "
        "legal obligation; name it as a legal hold.",
        _kept_without_hold,
    ),
)
