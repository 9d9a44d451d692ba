"""Which data the right to portability returns (Art. 20(1) GDPR).

Portability covers personal data the subject *provided* to the controller,
processed on the basis of *consent* (Art. 6(1)(a), 9(2)(a)) or a *contract*
(Art. 6(1)(b)), by automated means. In policy terms a column is portable when

* the policy declares it ``provided_by_subject`` (the default), and
* some processing activity uses it (:func:`~datasteward.packages.scope.activity_uses`)
  that has a purpose resting on consent or contract (or on explicit consent
  for special categories) and is not declared ``portable: false``.

``portable: true`` on an activity without such a purpose is a lint error
(DS702), so it widens nothing here. ``portable: false`` narrows: the notice
then does not offer portability for that activity, and the package follows
the notice.

Pure: no I/O. :func:`select_portable` narrows sections lazily, so the rows
still stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from datasteward.packages.model import PackageSection
from datasteward.packages.scope import activity_uses
from datasteward.policy.model import (
    LegalBasis,
    Policy,
    ProcessingActivity,
    SpecialCategoryCondition,
)

__all__ = ["portable_activity", "portable_fields", "select_portable"]

_PORTABLE_BASES = frozenset({LegalBasis.CONSENT, LegalBasis.CONTRACT})


def portable_activity(policy: Policy, activity: ProcessingActivity) -> bool:
    """The activity rests on consent or contract and does not opt out."""
    if activity.portable is False:
        return False
    purposes = {p.id: p for p in policy.purposes}
    return any(
        _PORTABLE_BASES.intersection(purposes[p].legal_bases)
        or purposes[p].special_category_condition is SpecialCategoryCondition.EXPLICIT_CONSENT
        for p in activity.purposes
        if p in purposes
    )


def portable_fields(policy: Policy) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(system, dataset) -> portable column names`` in declared order; datasets
    without a portable column are absent. A planner uses it to read only the
    columns a portability request returns."""
    activities = [a for a in policy.processing_activities if portable_activity(policy, a)]
    scope: dict[tuple[str, str], tuple[str, ...]] = {}
    for system in policy.systems:
        for dataset in system.datasets:
            names = tuple(
                f.name
                for f in dataset.fields
                if f.provided_by_subject
                and any(activity_uses(a, system.id, f.category) for a in activities)
            )
            if names:
                scope[(system.id, dataset.name)] = names
    return scope


def _project(
    rows: Iterable[Mapping[str, object]], names: tuple[str, ...]
) -> Iterator[dict[str, object]]:
    for row in rows:
        yield {name: row[name] for name in names if name in row}


def select_portable(policy: Policy, sections: Iterable[PackageSection]) -> Iterator[PackageSection]:
    """The portable part of each section: only portable columns, rows narrowed
    as they stream. Sections without a portable column are left out (their
    rows are never read)."""
    scope = portable_fields(policy)
    for section in sections:
        keep = scope.get((section.system, section.dataset))
        if not keep:
            continue
        fields = tuple(f for f in section.fields if f.name in keep)
        if not fields:
            continue
        names = tuple(f.name for f in fields)
        yield PackageSection(section.system, section.dataset, fields, _project(section.rows, names))
