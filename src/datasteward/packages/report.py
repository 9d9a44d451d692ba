"""The readable report of an access package (Art. 15 GDPR).

The report tells the subject what was found (per dataset: how many records
and which categories of data, or "searched, nothing found") and states the
information of Art. 15(1)(a)-(h) and 15(2). That information comes from the
same facts as the privacy notice (:func:`~datasteward.documents.derive.
derive_facts`), narrowed to the processing activities that concern the data
found (:func:`~datasteward.packages.scope.concerned_activities`). When no
activity can be tied to what was found (nothing was found, or only data the
policy assigns to no activity), the report states the information for all
activities and says so: it never says less than the notice.

The values themselves are not repeated here; they are in ``data.json`` and
the CSV files next to the report. Pure: no I/O beyond loading templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import TemplateNotFound

from datasteward.documents.derive import derive_facts
from datasteward.documents.facts import (
    ActivityFact,
    AutomatedFact,
    CategoryFact,
    DocumentFacts,
    PurposeFact,
    RecipientFact,
    RecipientGroup,
    SourceFact,
    TransferFact,
)
from datasteward.documents.templating import environment, resolve_language
from datasteward.packages.model import DatasetSummary
from datasteward.packages.scope import concerned_activities
from datasteward.policy.model import Policy, RecipientRole, SourceKind

__all__ = ["FoundDataset", "ReportView", "build_report_view", "render_access_report"]

_TEMPLATE = "access_report.html.j2"
# Authorities act where the controller is; a successor is only a possibility.
_LOCAL_ROLES = frozenset({RecipientRole.PUBLIC_AUTHORITY, RecipientRole.SUCCESSOR})
_ROLE_ORDER: tuple[RecipientRole | None, ...] = (
    RecipientRole.PROCESSOR,
    RecipientRole.JOINT_CONTROLLER,
    RecipientRole.CONTROLLER,
    RecipientRole.PUBLIC_AUTHORITY,
    RecipientRole.SUCCESSOR,
    None,
)


@dataclass(frozen=True)
class FoundDataset:
    """One dataset searched, as the report shows it."""

    system: str
    system_name: str
    dataset: str
    description: str | None
    rows: int
    categories: tuple[str, ...]
    csv_name: str


@dataclass(frozen=True)
class ReportView:
    """Everything the access report template states, beyond the policy facts.

    ``general`` is true when the Art. 15 sections describe every activity
    because none could be tied to the data found."""

    generated_at: datetime
    local_time: datetime
    time_zone: str
    identity_kinds: tuple[str, ...]
    datasets: tuple[FoundDataset, ...]
    total_rows: int
    general: bool
    activities: tuple[ActivityFact, ...]
    purposes: tuple[PurposeFact, ...]
    categories: tuple[CategoryFact, ...]
    recipient_groups: tuple[RecipientGroup, ...]
    transfers: tuple[TransferFact, ...]
    unlocated: tuple[str, ...]
    sources: tuple[SourceFact, ...]
    automated: tuple[AutomatedFact, ...]


def _local(moment: datetime, zone: str) -> tuple[datetime, str]:
    try:
        return moment.astimezone(ZoneInfo(zone)), zone
    except (ZoneInfoNotFoundError, ValueError):
        return moment.astimezone(UTC), "UTC"


def _found(policy: Policy, summary: DatasetSummary) -> FoundDataset:
    system = policy.system(summary.system)
    dataset = (
        next((d for d in system.datasets if d.name == summary.dataset), None) if system else None
    )
    return FoundDataset(
        system=summary.system,
        system_name=system.name if system else summary.system,
        dataset=summary.dataset,
        description=dataset.description if dataset else None,
        rows=summary.rows,
        categories=tuple(dict.fromkeys(f.category_name for f in summary.fields)),
        csv_name=summary.csv_name,
    )


def _categories(facts: DocumentFacts, datasets: Sequence[DatasetSummary]) -> list[CategoryFact]:
    known = {c.id: c for c in facts.categories}
    found: dict[str, CategoryFact] = {}
    for summary in datasets:
        if not summary.rows:
            continue
        for field in summary.fields:
            if field.category not in found:
                found[field.category] = known.get(field.category) or CategoryFact(
                    field.category, field.category_name, None, False, False, (), ()
                )
    return list(found.values())


def _groups(recipients: Sequence[RecipientFact]) -> tuple[RecipientGroup, ...]:
    groups = []
    for role in _ROLE_ORDER:
        members = tuple(r for r in recipients if r.role is role)
        if members:
            groups.append(RecipientGroup(role, members))
    return tuple(groups)


def _other_sources(activities: Sequence[ActivityFact]) -> tuple[SourceFact, ...]:
    """Sources other than the subject (Art. 15(1)(g)), merged across activities."""
    merged: dict[tuple[SourceKind, str | None], list[str]] = {}
    for act in activities:
        for source in act.sources:
            if source.kind is not SourceKind.DATA_SUBJECT:
                merged.setdefault((source.kind, source.description), []).append(act.name)
    return tuple(
        SourceFact(kind, description, tuple(dict.fromkeys(names)))
        for (kind, description), names in merged.items()
    )


def build_report_view(
    policy: Policy,
    facts: DocumentFacts,
    datasets: Sequence[DatasetSummary],
    *,
    generated_at: datetime,
    identity_kinds: Sequence[str] = (),
) -> ReportView:
    """The report's view of ``datasets`` found under ``policy``."""
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    concerned = set(concerned_activities(policy, datasets))
    general = not concerned
    activities = tuple(a for a in facts.activities if general or a.id in concerned)
    purpose_ids = {p.id for a in activities for p in a.purposes}
    purposes = tuple(p for p in facts.purposes if p.id in purpose_ids)
    purpose_names = {p.name for p in purposes}
    recipients = list({r.id: r for a in activities for r in a.recipients}.values())
    local_time, zone = _local(generated_at, policy.controller.time_zone)
    return ReportView(
        generated_at=generated_at.astimezone(UTC),
        local_time=local_time,
        time_zone=zone,
        identity_kinds=tuple(dict.fromkeys(identity_kinds)),
        datasets=tuple(_found(policy, d) for d in datasets),
        total_rows=sum(d.rows for d in datasets),
        general=general,
        activities=activities,
        purposes=purposes,
        categories=tuple(_categories(facts, datasets)),
        recipient_groups=_groups(recipients),
        transfers=tuple(dict.fromkeys(t for a in activities for t in a.transfers)),
        unlocated=tuple(
            r.name for r in recipients if r.country is None and r.role not in _LOCAL_ROLES
        ),
        sources=_other_sources(activities),
        automated=tuple(x for x in facts.automated if x.purpose in purpose_names),
    )


def render_access_report(
    policy: Policy,
    datasets: Sequence[DatasetSummary],
    *,
    generated_at: datetime,
    identity_kinds: Sequence[str] = (),
    language: str | None = None,
    data_file: str = "data.json",
) -> str:
    """The access report as one self-contained HTML page (escaped throughout)."""
    facts = derive_facts(policy)
    view = build_report_view(
        policy, facts, datasets, generated_at=generated_at, identity_kinds=identity_kinds
    )
    lang = resolve_language(language, policy.controller.languages)
    try:
        template = environment(lang, html=True).get_template(_TEMPLATE)
    except TemplateNotFound:  # a template set without the report: English rather than nothing
        lang = "en"
        template = environment(lang, html=True).get_template(_TEMPLATE)
    return template.render(f=facts, v=view, language=lang, data_file=data_file)
