"""How a package's datasets relate to the policy: the columns a dataset
declares, and the processing activities that concern the data found.

One rule ties a dataset's column to an activity, for the access report and
for portability alike: the activity processes the column's data category, and
either names the column's system or names no system at all (an activity that
does not say where its data lives is taken to cover that category wherever
it is found; leaving it out would hide a purpose or a right from the subject).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from datasteward.errors import NotFound
from datasteward.packages.model import DatasetSummary, FieldInfo
from datasteward.policy.model import Policy, ProcessingActivity

__all__ = ["activity_uses", "concerned_activities", "dataset_fields"]


def dataset_fields(policy: Policy, system_id: str, dataset: str) -> tuple[FieldInfo, ...]:
    """The declared columns of ``system_id``'s dataset ``dataset``, as the
    :class:`FieldInfo` a section carries. Raises :class:`NotFound` for a
    system or dataset the policy does not declare."""
    system = policy.system(system_id)
    if system is None:
        raise NotFound("system", system_id)
    found = next((d for d in system.datasets if d.name == dataset), None)
    if found is None:
        raise NotFound("dataset", f"{system_id}.{dataset}")
    names = {c.id: c.name for c in policy.data_categories}
    return tuple(
        FieldInfo(
            name=f.name,
            category=f.category,
            category_name=names.get(f.category, f.category),
            provided_by_subject=f.provided_by_subject,
        )
        for f in found.fields
    )


def activity_uses(activity: ProcessingActivity, system_id: str, category_id: str) -> bool:
    """Whether ``activity`` processes data of ``category_id`` held in ``system_id``."""
    if category_id not in activity.data_categories:
        return False
    return not activity.systems or system_id in activity.systems


def concerned_activities(policy: Policy, datasets: Iterable[DatasetSummary]) -> tuple[str, ...]:
    """Ids of the activities that process data found for the subject (datasets
    with at least one row), in policy order."""
    found = {(d.system, c) for d in datasets if d.rows for c in d.category_ids}
    return tuple(
        a.id
        for a in policy.processing_activities
        if any(activity_uses(a, system, category) for system, category in found)
    )
