"""Legal holds split per row: which of a subject's rows a hold still keeps,
and until when. Pure.

A legal hold (Art. 17(3)) keeps data for a period after an event: the
Latvian Accounting Law keeps an order five years after the sale. The event's
time is recorded per row, in the hold's anchor column (``orders.created_at``),
so the hold ends on a different day for every row. An erasure request must
erase the rows whose hold has ended like any other data, and keep only the
rows still held, saying until when.

The anchor column may live in the dataset itself or in a dataset its
declared relations lead to (an order item has no date of its own; its hold
runs from its order's ``created_at``). :func:`find_anchor` resolves that path
once per plan; the connector reads each row's anchor value with its key, and
:meth:`RowHold.last_day` turns the value into the last day of the hold.

Legal time is calendar time (Regulation 1182/71): the anchor instant is
taken as a calendar day in the controller's time zone (naive database times
are UTC), the period is added by the calendar (``IsoDuration.add_to``: five
years from 29 February end on 28 February), and the data is kept through
that last day. The hold has ended when the controller's today is after it.
A row whose anchor is empty (the event has not happened: an account not yet
closed) stays held, with no end date yet.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from datasteward.fulfilment.operators import Operator
from datasteward.legaltime.duration import IsoDuration
from datasteward.policy.model import System

__all__ = [
    "MAX_ANCHOR_HOPS",
    "AnchorPath",
    "AnchorStep",
    "HoldRef",
    "RowHold",
    "find_anchor",
    "held_fields",
    "local_day_of",
]

MAX_ANCHOR_HOPS = 4
"""Relations followed at most to find a hold's anchor column."""


@dataclass(frozen=True)
class HoldRef:
    """The legal hold that keeps a field: which law, on which Art. 17(3)
    ground, for how long after which event."""

    hold_id: str
    law: str
    article: str
    period: IsoDuration
    anchor_event: str
    anchor_column: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "hold": self.hold_id,
            "law": self.law,
            "article": self.article,
            "period": str(self.period),
            "anchor": self.anchor_event,
            "anchor_column": self.anchor_column,
        }


@dataclass(frozen=True, slots=True)
class AnchorStep:
    """``column`` of the current dataset references ``target.target_column``."""

    column: str
    target: str
    target_column: str


@dataclass(frozen=True, slots=True)
class AnchorPath:
    """Where a dataset's rows find the hold's anchor: ``dataset.column``,
    reached by following ``steps`` (none when the column is the dataset's own)."""

    dataset: str
    column: str
    steps: tuple[AnchorStep, ...] = ()

    def describe(self) -> str:
        """``orders.created_at`` or ``order_id -> orders.created_at``."""
        via = "".join(f"{step.column} -> " for step in self.steps)
        return f"{via}{self.dataset}.{self.column}"


def find_anchor(
    system: System,
    dataset: str,
    column: str,
    columns_of: Callable[[str], Collection[str] | None],
) -> AnchorPath | None:
    """The shortest path from ``dataset`` to a dataset whose table has
    ``column``, following declared relations from child to parent (at most
    :data:`MAX_ANCHOR_HOPS`); None when there is none. ``columns_of`` gives a
    dataset's column names (None when its table does not exist)."""
    relations = {d.name: d.relations for d in system.datasets}
    frontier: list[tuple[str, tuple[AnchorStep, ...]]] = [(dataset, ())]
    seen = {dataset}
    for _ in range(MAX_ANCHOR_HOPS + 1):
        following: list[tuple[str, tuple[AnchorStep, ...]]] = []
        for name, steps in frontier:
            if column in (columns_of(name) or ()):
                return AnchorPath(name, column, steps)
            for relation in relations.get(name, ()):
                target, _, target_column = relation.references.partition(".")
                if target in seen or target not in relations:
                    continue
                seen.add(target)
                step = AnchorStep(relation.field, target, target_column)
                following.append((target, (*steps, step)))
        frontier = following
    return None


def local_day_of(value: object, zone: tzinfo) -> date | None:
    """The calendar day of an anchor value in ``zone``: a date as it is, a
    date and time (naive ones are UTC) converted, ISO 8601 text parsed. None
    for an empty value or anything that is no date."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(zone).date()
    if isinstance(value, date):
        return value
    return None


@dataclass(frozen=True)
class RowHold:
    """One legal hold over some fields of one dataset, split per row.

    ``fields`` pairs every field the hold keeps with the operator that
    erases it once the hold has ended: the field's own erasure action, or
    delete_row for a field the policy declares ``keep`` (it has no other way
    to go). ``today`` is the controller's calendar day."""

    hold: HoldRef
    anchor: AnchorPath
    fields: tuple[tuple[str, Operator], ...]
    today: date
    zone: tzinfo

    def last_day(self, anchor_value: object) -> date | None:
        """The last day the hold keeps a row whose anchor holds
        ``anchor_value``; None while the anchor event has not happened."""
        day = local_day_of(anchor_value, self.zone)
        if day is None:
            return None
        try:
            return self.hold.period.add_to(day)
        except OverflowError:
            return date.max

    def ended(self, last_day: date | None) -> bool:
        """Whether a row kept through ``last_day`` is free today."""
        return last_day is not None and self.today > last_day

    @property
    def deletes_rows(self) -> bool:
        """Whether rows whose hold has ended are deleted (some held field
        can go no other way)."""
        return any(operator.row_level for _, operator in self.fields)


def held_fields(holds: Sequence[RowHold]) -> set[str]:
    """Every field some hold keeps."""
    return {name for hold in holds for name, _ in hold.fields}
