"""Cross-references inside a policy: every id that names something must name
something declared, and every declared id must be unique.

These are load errors (the policy cannot be used), reported with a "did you
mean" suggestion. References whose absence is a GDPR finding rather than a
broken file (a field's data category, a recipient used but not declared) are
left to the linter, which explains them with an article."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from datasteward.policy.model import LegalHold, Policy, RetentionRule
from datasteward.policy.source import PathKey

__all__ = ["check_references", "did_you_mean", "unresolved"]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def unresolved(kind: str, name: str, choices: Sequence[str], where: str = "") -> str:
    """The message for a reference to something not declared."""
    hint = did_you_mean(name, choices)
    if not hint and choices and len(choices) <= 8:
        hint = f" (declared: {', '.join(sorted(set(choices)))})"
    elif not choices:
        hint = f" (no {kind} is declared)"
    return f"unknown {kind} '{name}'{where}{hint}"


def _duplicates(
    items: Sequence[object], attr: str, path: PathKey, kind: str
) -> list[tuple[PathKey, str]]:
    seen: dict[str, int] = {}
    found: list[tuple[PathKey, str]] = []
    for index, item in enumerate(items):
        value = getattr(item, attr)
        if value in seen:
            found.append(
                (
                    (*path, index, attr),
                    f"duplicate {kind} '{value}' (also {path[-1]}[{seen[value]}])",
                )
            )
        else:
            seen[value] = index
    return found


def _refs(
    names: Sequence[str], path: PathKey, kind: str, declared: Sequence[str]
) -> list[tuple[PathKey, str]]:
    known = set(declared)
    return [
        ((*path, i), unresolved(kind, name, declared))
        for i, name in enumerate(names)
        if name not in known
    ]


def check_references(policy: Policy) -> list[tuple[PathKey, str]]:
    """Every broken reference and duplicate id, as (path, message) pairs."""
    p = policy
    purposes = [x.id for x in p.purposes]
    categories = [x.id for x in p.data_categories]
    subjects = [x.id for x in p.data_subjects]
    systems = [x.id for x in p.systems]
    rules = [x.id for x in p.retention_rules]
    holds = [x.id for x in p.legal_holds]

    found: list[tuple[PathKey, str]] = []
    for section, kind in (
        ("data_subjects", "data subject"),
        ("data_categories", "data category"),
        ("purposes", "purpose"),
        ("processing_activities", "processing activity"),
        ("recipients", "recipient"),
        ("retention_rules", "retention rule"),
        ("legal_holds", "legal hold"),
        ("systems", "system"),
        ("security", "security measure"),
    ):
        found += _duplicates(getattr(p, section), "id", (section,), kind)

    for i, act in enumerate(p.processing_activities):
        base: PathKey = ("processing_activities", i)
        found += _refs(act.purposes, (*base, "purposes"), "purpose", purposes)
        found += _refs(act.data_categories, (*base, "data_categories"), "data category", categories)
        found += _refs(act.data_subjects, (*base, "data_subjects"), "data subject", subjects)
        found += _refs(act.systems, (*base, "systems"), "system", systems)
        found += _refs(act.retention, (*base, "retention"), "retention rule", rules)

    for i, cookie in enumerate(p.cookies):
        if cookie.purpose not in set(purposes):
            found.append(
                (("cookies", i, "purpose"), unresolved("purpose", cookie.purpose, purposes))
            )

    scoped: tuple[tuple[str, Sequence[RetentionRule | LegalHold]], ...] = (
        ("retention_rules", p.retention_rules),
        ("legal_holds", p.legal_holds),
    )
    for section, items in scoped:
        for i, item in enumerate(items):
            base = (section, i)
            found += _refs(
                item.data_categories, (*base, "data_categories"), "data category", categories
            )
            for j, ref in enumerate(item.datasets):
                found += _dataset_ref(policy, ref.system, ref.dataset, (*base, "datasets", j))
    for i, rule in enumerate(p.retention_rules):
        found += _refs(rule.legal_holds, ("retention_rules", i, "legal_holds"), "legal hold", holds)

    for i, system in enumerate(p.systems):
        found += _duplicates(system.datasets, "name", ("systems", i, "datasets"), "dataset")
        for j, dataset in enumerate(system.datasets):
            found += _duplicates(
                dataset.fields, "name", ("systems", i, "datasets", j, "fields"), "field"
            )
            names = [d.name for d in system.datasets]
            for k, rel in enumerate(dataset.relations):
                target = rel.references.split(".", 1)[0]
                if "." not in rel.references:
                    found.append(
                        (
                            ("systems", i, "datasets", j, "relations", k, "references"),
                            f"'{rel.references}' must be written as dataset.column",
                        )
                    )
                elif target not in names:
                    found.append(
                        (
                            ("systems", i, "datasets", j, "relations", k, "references"),
                            unresolved("dataset", target, names),
                        )
                    )
    return found


def _dataset_ref(
    policy: Policy, system_id: str, dataset: str, path: PathKey
) -> list[tuple[PathKey, str]]:
    system = policy.system(system_id)
    if system is None:
        return [
            ((*path, "system"), unresolved("system", system_id, [s.id for s in policy.systems]))
        ]
    names = [d.name for d in system.datasets]
    if dataset not in names:
        return [
            ((*path, "dataset"), unresolved(f"dataset of system '{system_id}'", dataset, names))
        ]
    return []
