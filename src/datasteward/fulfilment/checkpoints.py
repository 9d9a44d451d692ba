"""Checkpoints: what an erasure request has already done, per dataset, so
that a run interrupted at any point can be resumed. Pure protocol, with an
in-memory implementation beside it for tests and one-off runs.

A system's part of an erasure runs in one transaction of the company
database. Its checkpoints are recorded *after* that transaction commits,
one per dataset, holding the dataset's report entry (counts and field
names, never a value). A resumed run skips every dataset with a
checkpoint and reports it from there. A crash between the commit and the
checkpoints makes the next run apply the same operators again, which is
harmless because every operator is idempotent (docs/erasure-operators.md);
a crash before the commit rolls the system back entirely.

The engine store implements the protocol on its ``dataset_checkpoints``
table (``datasteward.store.checkpoint_store``)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Checkpoints", "MemoryCheckpoints"]


class Checkpoints(Protocol):
    """Where an erasure request records the datasets it has finished."""

    def done(self, request_id: str, system: str, dataset: str) -> dict[str, Any] | None:
        """The result recorded for the dataset, or None if it is not done."""
        ...

    def record(self, request_id: str, system: str, dataset: str, result: dict[str, Any]) -> None:
        """Record the dataset as done with ``result`` (JSON-ready)."""
        ...


class MemoryCheckpoints:
    """Checkpoints in a dict: lost with the process, so only for tests and
    runs that need no resuming."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, str, str], dict[str, Any]] = {}

    def done(self, request_id: str, system: str, dataset: str) -> dict[str, Any] | None:
        found = self.results.get((request_id, system, dataset))
        return dict(found) if found is not None else None

    def record(self, request_id: str, system: str, dataset: str, result: dict[str, Any]) -> None:
        self.results[(request_id, system, dataset)] = dict(result)
