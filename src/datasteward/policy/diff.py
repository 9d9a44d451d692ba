"""What changed between two versions of a policy, and which changes are material.

A consent is bound to the version of the purpose it was given for. When a new
policy version is stored, :func:`diff_policies` lists every change, item by
item, and marks the ones that weaken protection as *material*, with the
article that makes them so. A material change that touches what a consent
covers (new data, recipients, transfers, longer retention for a consent
purpose) names that purpose in ``affected_purposes``; the consent ledger
treats those consents as stale until renewed. :func:`purpose_fingerprint`
gives the ledger a cheap test first: an unchanged fingerprint means no
change can have made consent to that purpose stale.

Items of list sections are matched by id (cookies by name, datasets and
fields by name), so reordering a list is not a change. Changes are ordered
by the section order of :class:`~datasteward.policy.model.Policy`, then by
item id; the walk indexes each section once, so the cost grows with the
size of the policies, not with its square.

The rules deciding materiality live in :mod:`datasteward.policy.diff_rules`,
the consent scope and fingerprint in :mod:`datasteward.policy.diff_scope`,
the wording in :mod:`datasteward.policy.diff_words`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from datasteward.policy import diff_rules as rules
from datasteward.policy.diff_rules import DiffContext, Verdict
from datasteward.policy.diff_scope import purpose_fingerprint
from datasteward.policy.diff_words import NOUNS, brief, delta, field_changes
from datasteward.policy.model import Dataset, Policy, System

__all__ = ["Change", "PolicyDiff", "diff_policies", "purpose_fingerprint"]

_SECTIONS: dict[str, int] = {name: i for i, name in enumerate(Policy.model_fields)}


@dataclass(frozen=True)
class Change:
    """One change between two policy versions."""

    kind: str
    """``added``, ``removed`` or ``changed``."""
    section: str
    """Top-level key of the policy: ``purposes``, ``recipients``, ``controller`` ..."""
    item: str
    """Id (or name) of the item; ``""`` for singletons such as the controller."""
    path: str
    """Dotted path in the new policy (the old one for removals)."""
    summary: str
    """One sentence a DPO can read."""
    material: bool
    reason: str | None
    """Why the change is material, naming the article; ``None`` when it is not."""
    affected_purposes: tuple[str, ...]
    """Consent purposes whose consent this change makes stale."""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "section": self.section,
            "item": self.item,
            "path": self.path,
            "summary": self.summary,
            "material": self.material,
            "reason": self.reason,
            "affected_purposes": list(self.affected_purposes),
        }


@dataclass(frozen=True)
class PolicyDiff:
    """Every change between two policy versions, in a stable order."""

    changes: tuple[Change, ...]

    @property
    def material(self) -> bool:
        """Whether any change weakens protection."""
        return any(c.material for c in self.changes)

    @property
    def stale_purposes(self) -> tuple[str, ...]:
        """Consent purposes whose consent must be renewed, sorted by id."""
        return tuple(sorted({p for c in self.changes for p in c.affected_purposes}))

    def to_dict(self) -> dict[str, object]:
        return {
            "material": self.material,
            "stale_purposes": list(self.stale_purposes),
            "changes": [c.to_dict() for c in self.changes],
        }


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """Every change from ``old`` to ``new``; identical policies give no change."""
    if old == new:
        return PolicyDiff(())
    walk = _Walk(DiffContext(old, new))
    walk.singleton("version", old.version, new.version)
    walk.singleton("effective_date", old.effective_date, new.effective_date)
    walk.controller()
    for section in (
        "data_subjects",
        "data_categories",
        "purposes",
        "processing_activities",
        "recipients",
        "cookies",
        "retention_rules",
        "legal_holds",
    ):
        walk.section(section)
    walk.rights()
    walk.section("systems")
    walk.section("security")
    positions = _keyed(new.purposes, _id)
    for gain in rules.scope_gains(walk.ctx):
        walk.emit(
            "changed",
            "purposes",
            gain.purpose,
            f"purposes[{positions[gain.purpose][0]}]",
            gain.summary,
            Verdict(gain.reason, (gain.purpose,)),
        )
    return PolicyDiff(walk.result())


def _keyed(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, tuple[int, Any]]:
    """Items by key with their position; a duplicate key keeps the first."""
    found: dict[str, tuple[int, Any]] = {}
    for index, item in enumerate(items):
        found.setdefault(key(item), (index, item))
    return found


def _id(item: Any) -> str:
    return str(item.id)


def _name(item: Any) -> str:
    return str(item.name)


class _Walk:
    """Collects changes with their sort key (section, item, order of discovery)."""

    def __init__(self, ctx: DiffContext) -> None:
        self.ctx = ctx
        self._found: list[tuple[int, str, int, Change]] = []

    def result(self) -> tuple[Change, ...]:
        return tuple(entry[3] for entry in sorted(self._found, key=lambda e: e[:3]))

    def emit(
        self,
        kind: str,
        section: str,
        item: str,
        path: str,
        summary: str,
        verdict: Verdict | None,
    ) -> None:
        change = Change(
            kind=kind,
            section=section,
            item=item,
            path=path,
            summary=(verdict.summary if verdict and verdict.summary else summary),
            material=verdict is not None,
            reason=verdict.reason if verdict else None,
            affected_purposes=verdict.affected if verdict else (),
        )
        self._found.append((_SECTIONS[section], item, len(self._found), change))

    # -- singletons ----------------------------------------------------------

    def singleton(self, section: str, old: object, new: object) -> None:
        if old != new:
            label = section.replace("_", " ")
            self.emit("changed", section, "", section, f"{label} {delta(old, new)}", None)

    def controller(self) -> None:
        old, new = self.ctx.old.policy.controller, self.ctx.new.policy.controller
        for fc in field_changes(old, new, skip={"declarations"}):
            self.emit(
                "changed",
                "controller",
                "",
                f"controller.{fc.key}",
                f"controller: {fc.describe()}",
                None,
            )
        for fc in field_changes(old.declarations, new.declarations):
            verdict = rules.changed(
                self.ctx, "declarations", old.declarations, new.declarations, fc
            )
            self.emit(
                "changed",
                "controller",
                "",
                f"controller.declarations.{fc.key}",
                f"controller declarations: {fc.describe()}",
                verdict,
            )

    def rights(self) -> None:
        old, new = self.ctx.old.policy.rights, self.ctx.new.policy.rights
        for fc in field_changes(old, new):
            verdict = rules.changed(self.ctx, "rights", old, new, fc)
            self.emit(
                "changed", "rights", "", f"rights.{fc.key}", f"rights: {fc.describe()}", verdict
            )

    # -- list sections -------------------------------------------------------

    def section(self, section: str) -> None:
        key = _name if section == "cookies" else _id
        noun = NOUNS[section]
        old = _keyed(getattr(self.ctx.old.policy, section), key)
        new = _keyed(getattr(self.ctx.new.policy, section), key)
        for ident in sorted(old.keys() | new.keys()):
            if ident not in new:
                index, item = old[ident]
                self.emit(
                    "removed",
                    section,
                    ident,
                    f"{section}[{index}]",
                    f"{noun} '{ident}' removed",
                    rules.removed(self.ctx, section, item),
                )
                continue
            index, after = new[ident]
            path = f"{section}[{index}]"
            if ident not in old:
                self.emit(
                    "added",
                    section,
                    ident,
                    path,
                    f"{noun} '{ident}' added ({brief(after)})",
                    rules.added(self.ctx, section, after),
                )
                continue
            before = old[ident][1]
            if before == after:
                continue
            skip = {"datasets"} if section == "systems" else set()
            self._fields(section, section, ident, path, f"{noun} '{ident}'", before, after, skip)
            if isinstance(before, System) and isinstance(after, System):
                self._datasets(ident, path, before, after)

    def _fields(
        self,
        section: str,
        kind: str,
        item: str,
        path: str,
        label: str,
        before: BaseModel,
        after: BaseModel,
        skip: set[str],
    ) -> None:
        for fc in field_changes(before, after, skip):
            verdict = rules.changed(self.ctx, kind, before, after, fc)
            self.emit(
                "changed", section, item, f"{path}.{fc.key}", f"{label}: {fc.describe()}", verdict
            )

    def _datasets(self, system_id: str, path: str, before: System, after: System) -> None:
        old = _keyed(before.datasets, _name)
        new = _keyed(after.datasets, _name)
        for name in sorted(old.keys() | new.keys()):
            label = f"system '{system_id}' dataset '{name}'"
            if name not in new:
                self.emit(
                    "removed",
                    "systems",
                    system_id,
                    f"{path}.datasets[{old[name][0]}]",
                    f"{label} removed",
                    None,
                )
                continue
            index, dataset = new[name]
            here = f"{path}.datasets[{index}]"
            if name not in old:
                self.emit(
                    "added",
                    "systems",
                    system_id,
                    here,
                    f"{label} added ({len(dataset.fields)} fields)",
                    None,
                )
                continue
            if old[name][1] != dataset:
                self._dataset(system_id, here, label, old[name][1], dataset)

    def _dataset(
        self, system_id: str, path: str, label: str, before: Dataset, after: Dataset
    ) -> None:
        self._fields("systems", "datasets", system_id, path, label, before, after, {"fields"})
        old = _keyed(before.fields, _name)
        new = _keyed(after.fields, _name)
        for name in sorted(old.keys() | new.keys()):
            field_label = f"{label} field '{name}'"
            if name not in new:
                self.emit(
                    "removed",
                    "systems",
                    system_id,
                    f"{path}.fields[{old[name][0]}]",
                    f"{field_label} removed",
                    None,
                )
                continue
            index, field = new[name]
            here = f"{path}.fields[{index}]"
            if name not in old:
                self.emit(
                    "added",
                    "systems",
                    system_id,
                    here,
                    f"{field_label} added (category '{field.category}')",
                    None,
                )
            elif old[name][1] != field:
                self._fields(
                    "systems", "fields", system_id, here, field_label, old[name][1], field, set()
                )
