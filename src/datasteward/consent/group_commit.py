"""Group commit: many threads' calls recorded in one transaction.

While one transaction commits, calls from other threads queue up; the next
caller whose turn it is takes the whole queue and records it with one
commit, so the cost of a commit (a disk flush on PostgreSQL, a write-ahead
log append on SQLite) and of a chain extension is shared. Each call waits
for the commit that holds its work, so "returned" still means "durable".
This module only queues and hands turns over; what a group's transaction
does is the caller's ``commit`` function (``ConsentLedger``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["GROUPS_PER_TURN", "GroupCommitter", "Pending"]

GROUPS_PER_TURN = 8
"""Groups one caller commits for others before handing the turn on."""

W = TypeVar("W")  # what one call asks for
R = TypeVar("R")  # what it gets back


@dataclass
class Pending(Generic[W, R]):
    """One call waiting for its commit; ``commit`` sets ``result`` or ``error``."""

    work: W
    done: bool = False
    result: R | None = None
    error: Exception | None = None
    wake: threading.Event = field(default_factory=threading.Event)


class GroupCommitter(Generic[W, R]):
    """Queues calls and gives one caller at a time the turn to commit them."""

    def __init__(self, commit: Callable[[list[Pending[W, R]]], None]) -> None:
        self._commit = commit
        self._queue: list[Pending[W, R]] = []
        self._leading = False  # a caller has the turn
        self._lock = threading.Lock()  # guards _queue and _leading

    def submit(self, work: W) -> R:
        """Run ``work`` in some group's commit; its result, or its error raised."""
        pending: Pending[W, R] = Pending(work)
        with self._lock:
            self._queue.append(pending)
            lead = not self._leading
            self._leading = True
        if not lead:
            pending.wake.wait()  # committed by another caller, or handed the turn
        if not pending.done:
            self._lead(pending)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _lead(self, own: Pending[W, R]) -> None:
        """Commit queued calls group by group: until this caller's own call
        is done and then while more keep arriving, for at most
        :data:`GROUPS_PER_TURN` groups, so no caller leads for ever; then
        hand the turn to the first caller still queued."""
        groups = 0
        try:
            while not (own.done and groups >= GROUPS_PER_TURN):
                with self._lock:
                    group, self._queue = self._queue, []
                if not group:
                    return
                try:
                    self._commit(group)
                finally:
                    for pending in group:
                        pending.done = True
                        pending.wake.set()
                groups += 1
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()  # its caller leads next
                else:
                    self._leading = False
