"""What a package is made of: one section per dataset searched, and what the
writer reports back about each of them.

A :class:`PackageSection` is handed over by the code that reads a subject's
rows from one dataset. Its ``rows`` are an iterable, usually a generator over
a database cursor: the writer consumes it exactly once, row by row, so a
dataset of any size passes through in constant memory. A dataset that was
searched and held nothing is still a section, with no rows; the report then
says "searched, nothing found" instead of staying silent about it.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DatasetSummary", "FieldInfo", "PackageSection", "WrittenPackage"]


@dataclass(frozen=True)
class FieldInfo:
    """One column of a section: its name, data category (id and display name)
    and whether the subject provided it (Art. 20(1))."""

    name: str
    category: str
    category_name: str
    provided_by_subject: bool = True


@dataclass(frozen=True)
class PackageSection:
    """The subject's rows of one dataset of one system.

    Every row holds exactly the columns named by ``fields`` (the writer
    refuses a row with a missing or an undeclared column rather than guess).
    """

    system: str
    dataset: str
    fields: tuple[FieldInfo, ...]
    rows: Iterable[Mapping[str, object]]

    @property
    def key(self) -> str:
        """``system.dataset``, the name the package files use for this dataset."""
        return f"{self.system}.{self.dataset}"


@dataclass(frozen=True)
class DatasetSummary:
    """What the writer found in one section: how many rows, which columns,
    and the CSV file (path inside the zip) that holds them."""

    system: str
    dataset: str
    fields: tuple[FieldInfo, ...]
    rows: int
    csv_name: str

    @property
    def key(self) -> str:
        return f"{self.system}.{self.dataset}"

    @property
    def category_ids(self) -> tuple[str, ...]:
        """The data categories of the columns, each once, in column order."""
        return tuple(dict.fromkeys(f.category for f in self.fields))


@dataclass(frozen=True)
class WrittenPackage:
    """A finished package zip on disk and what went into it."""

    kind: str
    path: Path
    format: str
    datasets: tuple[DatasetSummary, ...]

    @property
    def total_rows(self) -> int:
        return sum(d.rows for d in self.datasets)
