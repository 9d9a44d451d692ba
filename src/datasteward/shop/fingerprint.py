"""A content fingerprint of shop rows: per table, the row count and a
SHA-256 over a canonical text of every row in id order.

The same rows give the same fingerprint whether they come straight from
the generator or back from SQLite, PostgreSQL or MariaDB, so one comparison
shows that a load lost, added or changed nothing and that two backends hold
identical data. The canonical text evens out what the drivers return
differently for equal values: SQLite hands back amounts as floats, MariaDB
booleans as integers (SQLAlchemy turns them back into ``bool``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

__all__ = ["TableDigest", "TableHasher", "canonical_row", "fingerprint_batches"]


@dataclass(frozen=True, slots=True)
class TableDigest:
    """Rows of one table and the SHA-256 of their canonical text."""

    rows: int
    sha256: str


def _text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{Decimal(repr(value)):.2f}"
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def canonical_row(row: Iterable[object]) -> bytes:
    """One row as a line of text: values separated by U+001F, NULL as ``\\N``,
    booleans as ``t``/``f``, amounts with two decimals, times in ISO form."""
    return ("\x1f".join(_text(value) for value in row) + "\n").encode()


class TableHasher:
    """Accumulates the fingerprint of each table from rows fed in id order."""

    def __init__(self) -> None:
        self._hashes: dict[str, hashlib._Hash] = {}
        self._counts: dict[str, int] = {}

    def add(self, table: str, rows: Iterable[Iterable[object]]) -> None:
        digest = self._hashes.setdefault(table, hashlib.sha256())
        count = 0
        for row in rows:
            digest.update(canonical_row(row))
            count += 1
        self._counts[table] = self._counts.get(table, 0) + count

    def result(self) -> dict[str, TableDigest]:
        return {
            table: TableDigest(self._counts[table], self._hashes[table].hexdigest())
            for table in sorted(self._hashes)
        }


def fingerprint_batches(
    batches: Iterable[tuple[str, Iterable[Iterable[object]]]],
) -> dict[str, TableDigest]:
    """The fingerprint of ``(table, rows)`` batches, e.g. from ``generate``."""
    hasher = TableHasher()
    for table, rows in batches:
        hasher.add(table, rows)
    return hasher.result()
