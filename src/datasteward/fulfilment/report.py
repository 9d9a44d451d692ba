"""What an erasure request did, per dataset, and whether it is complete. Pure.

The report is the controller's record that an erasure (Art. 17) was carried
out: for every dataset the subject's rows found, deleted and changed, the
cells an operator refused, and every field kept with the legal hold that
keeps it (law, Art. 17(3) ground, period and the event it runs from). A hold
with an anchor column is split per row: the report counts the rows still
held with the last day of their hold (the earliest and the latest), and the
rows whose hold had ended and which were erased like any other.

A resumed erasure (checkpoints of an earlier, interrupted run) reports the
datasets it did not run again from their checkpoints, marked ``resumed``
with the time they were recorded, so the caller can audit both runs.

``complete`` is a promise, so it is strict: it holds only when every
declared field of every located dataset was erased, anonymised or kept under
a named hold, no cell was refused, and no manual system is still waiting for
staff. Otherwise each reason is listed, in words a DPO can act on. Values
from the company's databases never appear in a report, only counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from datasteward.fulfilment.holds import HoldRef
from datasteward.legaltime.duration import IsoDuration

__all__ = [
    "DatasetErasure",
    "ErasureReport",
    "HeldRows",
    "KeptField",
    "ManualWork",
    "hold_from_dict",
    "refusal_reason",
]


def hold_from_dict(data: Mapping[str, Any]) -> HoldRef:
    """The :class:`HoldRef` that ``HoldRef.to_dict`` wrote."""
    return HoldRef(
        hold_id=str(data["hold"]),
        law=str(data["law"]),
        article=str(data["article"]),
        period=IsoDuration.parse(str(data["period"])),
        anchor_event=str(data["anchor"]),
        anchor_column=None if data.get("anchor_column") is None else str(data["anchor_column"]),
    )


@dataclass(frozen=True)
class HeldRows:
    """How one legal hold split a dataset's rows of the subject.

    ``rows_kept`` are still held: ``kept_from`` and ``kept_until`` are the
    earliest and the latest last day of their holds (the data is kept
    through that day), and ``undated`` of them have no anchor time yet (the
    event the hold runs from has not happened), so they stay held with no end.
    ``rows_released`` had their hold end and were erased like any other row."""

    hold: HoldRef
    rows_kept: int
    rows_released: int
    kept_from: date | None = None
    kept_until: date | None = None
    undated: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            **self.hold.to_dict(),
            "rows_kept": self.rows_kept,
            "rows_released": self.rows_released,
            "kept_from": self.kept_from.isoformat() if self.kept_from else None,
            "kept_until": self.kept_until.isoformat() if self.kept_until else None,
            "undated": self.undated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeldRows:
        return cls(
            hold=hold_from_dict(data),
            rows_kept=int(data["rows_kept"]),
            rows_released=int(data["rows_released"]),
            kept_from=_day(data.get("kept_from")),
            kept_until=_day(data.get("kept_until")),
            undated=int(data.get("undated", 0)),
        )


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


@dataclass(frozen=True)
class KeptField:
    """A field left as it is, and the legal hold that requires it."""

    field: str
    hold: HoldRef

    def to_dict(self) -> dict[str, object]:
        return {"field": self.field, **self.hold.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeptField:
        return cls(str(data["field"]), hold_from_dict(data))


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
    held: tuple[HeldRows, ...] = ()
    """Per legal hold with an anchor column, how it split the rows."""
    resumed: bool = False
    """Taken from the checkpoint of an earlier run, not run again now."""
    at: str | None = None
    """When the dataset's erasure was committed (ISO 8601, UTC)."""

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
            "held_rows": [h.to_dict() for h in self.held],
            "resumed": self.resumed,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, resumed: bool = False) -> DatasetErasure:
        """The entry ``to_dict`` wrote (a checkpoint's result)."""
        return cls(
            system=str(data["system"]),
            dataset=str(data["dataset"]),
            rows_matched=int(data["rows_matched"]),
            rows_deleted=int(data["rows_deleted"]),
            erased={str(k): str(v) for k, v in dict(data.get("erased", {})).items()},
            changed={str(k): int(v) for k, v in dict(data.get("changed", {})).items()},
            refused={str(k): int(v) for k, v in dict(data.get("refused", {})).items()},
            kept=tuple(KeptField.from_dict(k) for k in data.get("kept", [])),
            held=tuple(HeldRows.from_dict(h) for h in data.get("held_rows", [])),
            resumed=resumed,
            at=None if data.get("at") is None else str(data["at"]),
        )


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
    request_id: str | None = None
    systems: list[str] = field(default_factory=list)
    """The systems this run covered (all connected ones unless limited)."""

    @property
    def resumed(self) -> list[str]:
        """``system.dataset`` of every dataset taken from a checkpoint."""
        return [d.key for d in self.datasets if d.resumed]

    @property
    def ran(self) -> list[str]:
        """``system.dataset`` of every dataset erased by this run."""
        return [d.key for d in self.datasets if not d.resumed]

    def to_dict(self) -> dict[str, object]:
        return {
            "complete": self.complete,
            "request_id": self.request_id,
            "systems": list(self.systems),
            "reasons": list(self.reasons),
            "ran": self.ran,
            "resumed": self.resumed,
            "datasets": [d.to_dict() for d in self.datasets],
            "manual": [m.to_dict() for m in self.manual],
        }


def refusal_reason(system: str, dataset: str, column: str, count: int, action: str) -> str:
    """``shop.access_log.ip_address: 1 value could not take truncate_ip``."""
    noun = "value" if count == 1 else "values"
    return f"{system}.{dataset}.{column}: {count} {noun} could not take {action}"
