"""What an erasure request did, per dataset, and whether it is complete. Pure.

The report is the controller's record that an erasure (Art. 17) was carried
out: for every dataset the subject's rows found, deleted and changed, the
cells an operator refused, and every field kept with the legal hold that
keeps it (law, Art. 17(3) ground, period and the event it runs from).

``complete`` is a promise, so it is strict: it holds only when every
declared field of every located dataset was erased, anonymised or kept under
a named hold, no cell was refused, and no manual system is still waiting for
staff. Otherwise each reason is listed, in words a DPO can act on. Values
from the company's databases never appear in a report, only counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datasteward.fulfilment.plan import HoldRef

__all__ = ["DatasetErasure", "ErasureReport", "KeptField", "ManualWork", "refusal_reason"]


@dataclass(frozen=True)
class KeptField:
    """A field left as it is, and the legal hold that requires it."""

    field: str
    hold: HoldRef

    def to_dict(self) -> dict[str, object]:
        return {"field": self.field, **self.hold.to_dict()}


@dataclass(frozen=True)
class DatasetErasure:
    """What erasure did to one dataset of one system."""

    system: str
    dataset: str
    rows_matched: int
    rows_deleted: int
    erased: dict[str, str] = field(default_factory=dict)
    """field -> erasure action applied."""
    changed: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    kept: tuple[KeptField, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.system}.{self.dataset}"

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "dataset": self.dataset,
            "rows_matched": self.rows_matched,
            "rows_deleted": self.rows_deleted,
            "erased": dict(self.erased),
            "changed": dict(self.changed),
            "refused": dict(self.refused),
            "kept": [k.to_dict() for k in self.kept],
        }


@dataclass(frozen=True)
class ManualWork:
    """A system handled by hand: staff follow the instructions and confirm."""

    system: str
    instructions: str | None

    def to_dict(self) -> dict[str, object]:
        return {"system": self.system, "instructions": self.instructions, "status": "pending"}


@dataclass(frozen=True)
class ErasureReport:
    complete: bool
    datasets: list[DatasetErasure]
    reasons: list[str]
    manual: list[ManualWork] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "complete": self.complete,
            "reasons": list(self.reasons),
            "datasets": [d.to_dict() for d in self.datasets],
            "manual": [m.to_dict() for m in self.manual],
        }


def refusal_reason(system: str, dataset: str, column: str, count: int, action: str) -> str:
    """``shop.access_log.ip_address: 1 value could not take truncate_ip``."""
    noun = "value" if count == 1 else "values"
    return f"{system}.{dataset}.{column}: {count} {noun} could not take {action}"
