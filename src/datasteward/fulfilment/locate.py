"""Where one person's rows are: from their identities to every dataset of a
system, following the declared relations. Pure.

A dataset holds the subject's rows when one of its identity fields equals one
of the subject's identities (a *match*), or when one of its relation fields
points at a row of another dataset that holds the subject's rows (a *link*).
A link is followed from the referencing dataset to the referenced one and
back: an order belongs to the subject because its ``customer_id`` references
the subject's customer row; a customer row belongs to the subject when a
subscriber row found by email references it.

The result is a list of :class:`Locator`, parents before children, that a
connector compiles into one query per dataset (nested sub-selects, so the
database follows the indexes and nothing is fetched twice). Datasets that no
identity or relation reaches are reported as unreachable: their declared
fields could never be handled, which the plan must say rather than hide."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from datasteward.policy.model import Dataset, System

__all__ = ["Link", "Locator", "Match", "SubjectScope", "locate"]


@dataclass(frozen=True, slots=True)
class Match:
    """``column = :identity`` for identities of ``kind``."""

    column: str
    kind: str


@dataclass(frozen=True, slots=True)
class Link:
    """``column IN (SELECT target_column FROM target WHERE <target's condition>)``."""

    column: str
    target: str
    target_column: str


@dataclass(frozen=True, slots=True)
class Locator:
    """How to find the subject's rows in one dataset. Rows qualify when any
    match or any link holds. ``depth`` is the number of links from an identity."""

    dataset: str
    matches: tuple[Match, ...]
    links: tuple[Link, ...]
    depth: int


@dataclass(frozen=True, slots=True)
class SubjectScope:
    """Every dataset of a system, located or not."""

    system: str
    locators: tuple[Locator, ...]
    unreachable: tuple[str, ...]

    def locator(self, dataset: str) -> Locator | None:
        return next((loc for loc in self.locators if loc.dataset == dataset), None)

    def narrowed(self, datasets: Iterable[str]) -> SubjectScope:
        """The scope of ``datasets`` and the datasets their links read, in the
        same order: enough to find the rows of those datasets, and nothing
        that a request about other datasets should depend on."""
        needed: set[str] = set()
        pending = [name for name in datasets if self.locator(name) is not None]
        while pending:
            name = pending.pop()
            if name not in needed:
                needed.add(name)
                located = self.locator(name)
                if located is not None:
                    pending.extend(link.target for link in located.links)
        kept = tuple(loc for loc in self.locators if loc.dataset in needed)
        return SubjectScope(self.system, kept, self.unreachable)


def _edges(datasets: Iterable[Dataset]) -> list[tuple[str, str, str, str]]:
    """(child, child_column, parent, parent_column) for every declared relation."""
    found = []
    for dataset in datasets:
        for relation in dataset.relations:
            parent, _, parent_column = relation.references.partition(".")
            found.append((dataset.name, relation.field, parent, parent_column))
    return found


def locate(system: System, identity_kinds: Iterable[str]) -> SubjectScope:
    """Locators for the datasets of ``system`` reachable from identities of
    ``identity_kinds`` (e.g. ``{"email"}``), ordered so that every link
    points at a dataset listed before it."""
    kinds = set(identity_kinds)
    names = [d.name for d in system.datasets]
    matches: dict[str, list[Match]] = {name: [] for name in names}
    for dataset in system.datasets:
        for identity in dataset.identity_fields:
            if identity.kind.value in kinds or _national(identity.kind.value, kinds):
                matches[dataset.name].append(Match(identity.field, identity.kind.value))

    depth: dict[str, int] = {name: 0 for name in names if matches[name]}
    order: list[str] = list(depth)
    links: dict[str, list[Link]] = {name: [] for name in names}
    edges = _edges(system.datasets)
    frontier = list(order)
    while frontier:
        reached: list[str] = []
        for known in frontier:
            for child, child_column, parent, parent_column in edges:
                if parent == known and child not in depth:
                    # the child's rows reference the subject's parent rows
                    links[child].append(Link(child_column, parent, parent_column))
                    reached.append(child)
                elif child == known and parent not in depth and parent in matches:
                    # the parent row referenced by the subject's child rows
                    links[parent].append(Link(parent_column, child, child_column))
                    reached.append(parent)
        for name in dict.fromkeys(reached):
            if name not in depth:
                depth[name] = (
                    min(
                        (depth[link.target] for link in links[name] if link.target in depth),
                        default=0,
                    )
                    + 1
                )
                order.append(name)
        frontier = [name for name in dict.fromkeys(reached)]
    # A dataset found by its own identity also keeps its links to datasets
    # listed before it (an order with an old billing email is still the
    # customer's). Links only ever point backwards in ``order``, so the
    # compiled sub-selects can never loop.
    position = {name: i for i, name in enumerate(order)}
    for child, child_column, parent, parent_column in edges:
        if child in position and parent in position:
            if position[parent] < position[child]:
                _add(links[child], Link(child_column, parent, parent_column))
            elif position[child] < position[parent] and parent in matches:
                _add(links[parent], Link(parent_column, child, child_column))
    locators = tuple(
        Locator(name, tuple(matches[name]), tuple(links[name]), depth[name]) for name in order
    )
    unreachable = tuple(name for name in names if name not in depth)
    return SubjectScope(system.id, locators, unreachable)


def _add(links: list[Link], link: Link) -> None:
    if link not in links:
        links.append(link)


def _national(kind: str, kinds: set[str]) -> bool:
    """A policy's ``national_id`` field matches any national identity kind
    (``national_id.lv``, ``national_id.bg``, ...) the subject has."""
    return kind == "national_id" and any(k.startswith("national_id.") for k in kinds)
