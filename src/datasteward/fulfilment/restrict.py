"""What a restriction of processing (Art. 18) did in the company systems. Pure.

Where the policy names a dataset's restriction flag column, the subject's
rows get the flag set (or cleared when the restriction is lifted), so the
company's own software can honour it. A system with no flag column is
*restricted in the engine only*: the engine's own record of the
restriction (kept with the request) is then all there is, and the report
says so rather than claiming the system was told. Never holds a value from
the database, only counts."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DatasetRestriction", "RestrictionReport", "SystemRestriction"]


@dataclass(frozen=True)
class DatasetRestriction:
    """The flag column of one dataset: the subject's rows found, and the
    rows whose flag changed (a row already flagged is not counted)."""

    system: str
    dataset: str
    flag: str
    rows_matched: int
    rows_changed: int

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "dataset": self.dataset,
            "flag": self.flag,
            "rows_matched": self.rows_matched,
            "rows_changed": self.rows_changed,
        }


@dataclass(frozen=True)
class SystemRestriction:
    """One system: its flagged datasets, or why it is restricted in the
    engine only (``engine_only`` with a ``note``)."""

    system: str
    datasets: list[DatasetRestriction] = field(default_factory=list)
    engine_only: bool = False
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "engine_only": self.engine_only,
            "note": self.note,
            "datasets": [d.to_dict() for d in self.datasets],
        }


@dataclass(frozen=True)
class RestrictionReport:
    """``lift`` tells a restriction lifted from one imposed. A sound plan
    carried out is complete: a system restricted in the engine only is
    listed as such (``engine_only``), not counted as a failure, because the
    engine's own record is the restriction there."""

    lift: bool
    systems: list[SystemRestriction] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.reasons

    @property
    def engine_only(self) -> list[str]:
        """Systems restricted in the engine only."""
        return [s.system for s in self.systems if s.engine_only]

    @property
    def rows_flagged(self) -> int:
        return sum(d.rows_matched for s in self.systems for d in s.datasets)

    def to_dict(self) -> dict[str, object]:
        return {
            "restriction": "lifted" if self.lift else "imposed",
            "complete": self.complete,
            "reasons": list(self.reasons),
            "engine_only": self.engine_only,
            "systems": [s.to_dict() for s in self.systems],
        }
