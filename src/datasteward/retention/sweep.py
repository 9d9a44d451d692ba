"""Running the retention rules: batched, resumable sweeps (use case).

A *run* sweeps every compiled unit once, in order. Before its first batch,
every unit of the run is recorded in the progress store with its cutoff;
after every batch the unit's last key and counts are recorded. A run that
stops (the time budget of ``max_seconds`` is spent, the process is killed,
a database goes away) is resumed by the next call: units already done are
skipped, the unit that was running continues after its last key, and every
unit keeps the cutoff stored when the run began, so a resumed run ends in
the state an uninterrupted one would have reached. A batch whose commit
landed but whose progress write did not is simply run again: deleted rows
are gone and anonymised cells are no longer pending, so nothing is applied
twice.

Every unit writes audit events with counts only: one per group of
batches (at most :data:`AUDIT_EVERY` batches), in the same transaction as
the progress that covers them, and one when the unit finishes, stops or
fails. A unit that fails (a database refuses a statement) is recorded as
failed, with the reason, and the run goes on with the next unit.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from datasteward.clock import Clock
from datasteward.errors import StewardError
from datasteward.legaltime.instants import format_time
from datasteward.policy.model import Policy
from datasteward.retention.compile import compile_rules
from datasteward.retention.expiry import cutoff as cutoff_of
from datasteward.retention.model import Blocked, Program, RetentionError, SweepUnit, UnitKey
from datasteward.retention.plan import subjects_needed
from datasteward.retention.ports import (
    AuditNote,
    BatchOutcome,
    HeldSubjects,
    ProgressStore,
    RetentionBackend,
    SubjectHolds,
    UnitProgress,
    UnitRunner,
)

__all__ = [
    "AUDIT_EVERY",
    "BATCH_SECONDS",
    "DEFAULT_BATCH_SIZE",
    "FIRST_BATCH",
    "State",
    "SweepReport",
    "Sweeper",
    "UnitReport",
]

DEFAULT_BATCH_SIZE = 50_000
"""Most rows per batch."""

FIRST_BATCH = 1000
"""Rows in a unit's first batch (fewer if the most allowed is smaller)."""

BATCH_SECONDS = 0.25
"""How long a batch's writing transaction should take. Batches start small
and double while they take less than half of this, and shrink in proportion
when they take longer, never beyond the batch size given: a cheap deletion
then runs in large batches whose fixed costs vanish, and an expensive
anonymisation in small ones, each transaction short (well under a second)
whatever the rows cost."""

AUDIT_EVERY = 100
"""Batches of one unit covered by one audit event at most."""


class State:
    """States of a unit in ``sweep_progress``."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPED = "stopped"
    DONE = "done"
    FAILED = "failed"
    UNFINISHED = frozenset({PENDING, RUNNING, STOPPED})


@dataclass
class UnitReport:
    """One unit's outcome in this call (counts of this call unless noted)."""

    unit: SweepUnit
    cutoff: datetime
    state: str
    rows_done: int = 0
    rows_held: int = 0
    batches: int = 0
    children: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    longest_batch: float = 0.0
    error: str | None = None
    total_rows_done: int = 0
    """Rows done by the whole run, earlier calls included (from the progress store)."""

    def add(self, outcome: BatchOutcome) -> None:
        self.batches += 1
        self.rows_done += outcome.rows
        self.total_rows_done += outcome.rows
        self.longest_batch = max(self.longest_batch, outcome.seconds)
        for name, n in outcome.children.items():
            self.children[name] = self.children.get(name, 0) + n
        for name, n in outcome.refused.items():
            self.refused[name] = self.refused.get(name, 0) + n

    def to_dict(self) -> dict[str, object]:
        unit = self.unit
        return {
            "rule": unit.rule_id,
            "system": unit.system,
            "dataset": unit.dataset,
            "action": unit.action.value,
            "cutoff": self.cutoff.isoformat(),
            "state": self.state,
            "rows_done": self.rows_done,
            "rows_held": self.rows_held,
            "batches": self.batches,
            "children": dict(self.children),
            "refused": dict(self.refused),
            "longest_batch_seconds": round(self.longest_batch, 4),
            "total_rows_done": self.total_rows_done,
            "error": self.error,
        }


@dataclass
class SweepReport:
    """What one call of :meth:`Sweeper.run` did."""

    run_id: str | None
    at: datetime
    resumed: bool
    dry_run: bool
    units: list[UnitReport]
    blocked: tuple[Blocked, ...]
    stopped: bool = False

    @property
    def reasons(self) -> list[str]:
        """Why the run is not complete; empty when it is."""
        found = [
            f"{b.rule_id}" + (f" in {b.system}.{b.dataset}" if b.dataset else "") + f": {b.reason}"
            for b in self.blocked
            if not b.by_hand
        ]
        left = 0
        for report in self.units:
            where = f"{report.unit.rule_id} in {report.unit.system}.{report.unit.dataset}"
            if report.state == State.FAILED:
                found.append(f"{where}: failed: {report.error}")
            elif report.state in State.UNFINISHED:
                left += 1
            for column, n in report.refused.items():
                found.append(f"{where}: {n} value(s) of {column} refused by the operator")
        if left and not self.dry_run:
            why = "stopped by the time limit" if self.stopped else "not finished"
            found.append(f"{why}: {left} unit(s) left, resumed by the next run")
        return found

    @property
    def complete(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "at": self.at.isoformat(),
            "resumed": self.resumed,
            "dry_run": self.dry_run,
            "stopped": self.stopped,
            "complete": self.complete,
            "units": [u.to_dict() for u in self.units],
            "blocked": [
                {
                    "rule": b.rule_id,
                    "system": b.system,
                    "dataset": b.dataset,
                    "reason": b.reason,
                    "by_hand": b.by_hand,
                }
                for b in self.blocked
            ],
            "reasons": self.reasons,
        }


OnBatch = Callable[[UnitReport], None]


class Sweeper:
    """Runs the retention rules of one policy."""

    def __init__(
        self,
        policy: Policy,
        *,
        backend: RetentionBackend,
        progress: ProgressStore,
        subjects: SubjectHolds,
        clock: Clock,
        hash_key: bytes,
        actor: str,
        policy_version: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.policy = policy
        self.backend = backend
        self.progress = progress
        self.subjects = subjects
        self.clock = clock
        self.hash_key = hash_key
        self.actor = actor
        self.policy_version = policy_version
        self.monotonic = monotonic
        self.batch_seconds = batch_seconds

    def program(self) -> Program:
        return compile_rules(self.policy, self.backend.schema(), hash_key=self.hash_key)

    def run(
        self,
        *,
        at: datetime | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_seconds: float | None = None,
        dry_run: bool = False,
        on_batch: OnBatch | None = None,
    ) -> SweepReport:
        """Sweep (or with ``dry_run`` only count) every unit at ``at``
        (default: now), resuming an unfinished run first."""
        now = self.clock.now()
        moment = at or now
        if moment > now:
            raise RetentionError(
                "a sweep cannot run at a moment later than now: data would end before its "
                "period has run out"
            )
        if batch_size < 1:
            raise RetentionError("the batch size must be at least 1")
        if max_seconds is not None and max_seconds < 0:
            raise RetentionError("--max-seconds must not be negative")
        program = self.program()
        needed = subjects_needed(program)
        held = self.subjects.held(needed, moment) if needed else HeldSubjects()
        if dry_run:
            return self._dry_run(program, moment, held, batch_size)
        run_id, rows, resumed = self._open(program, moment, now)
        report = SweepReport(run_id, moment, resumed, False, [], program.blocked)
        deadline = None if max_seconds is None else self.monotonic() + max_seconds
        worked = 0
        for unit in program.units:
            row = rows[unit.unit_key]
            entry = UnitReport(
                unit, row.cutoff, row.state, rows_held=row.rows_held, total_rows_done=row.rows_done
            )
            report.units.append(entry)
            if row.state not in State.UNFINISHED:
                continue
            if report.stopped or (deadline is not None and worked and self.monotonic() >= deadline):
                report.stopped = True
                continue
            runner = self.backend.runner(unit, cutoff=row.cutoff, at=moment, held=held)
            row = self._save(replace(row, state=State.RUNNING, updated_at=self.clock.now()))
            group = _Group()
            size = min(batch_size, FIRST_BATCH)
            try:
                while True:
                    outcome = runner.batch(row.last_key, size)
                    if outcome.upper is None:
                        row = self._finish(runner, unit, row, group, entry)
                        break
                    worked += 1
                    size = self._next_size(size, outcome.seconds, batch_size)
                    entry.add(outcome)
                    group.add(outcome)
                    row = replace(
                        row,
                        last_key=outcome.upper,
                        rows_done=row.rows_done + outcome.rows,
                        batches=row.batches + 1,
                        updated_at=self.clock.now(),
                    )
                    if on_batch is not None:
                        on_batch(entry)
                    if outcome.last:
                        row = self._finish(runner, unit, row, group, entry)
                        break
                    if deadline is not None and self.monotonic() >= deadline:
                        row = replace(row, state=State.STOPPED)
                        self._save(row, self._note(unit, row, group, entry))
                        report.stopped = True
                        break
                    if group.batches >= AUDIT_EVERY:
                        self._save(row, self._note(unit, row, group, entry))
                        group = _Group()
                    else:
                        self._save(row)
            except StewardError as error:
                entry.error = error.message
                row = replace(row, state=State.FAILED, updated_at=self.clock.now())
                self._save(row, self._note(unit, row, group, entry))
            entry.state = row.state
        return report

    def _finish(
        self,
        runner: UnitRunner,
        unit: SweepUnit,
        row: UnitProgress,
        group: _Group,
        entry: UnitReport,
    ) -> UnitProgress:
        """The unit is done: count what stays held and record it."""
        entry.rows_held = runner.count_held()
        row = replace(
            row,
            state=State.DONE,
            rows_held=entry.rows_held,
            updated_at=self.clock.now(),
            finished_at=self.clock.now(),
        )
        self._save(row, self._note(unit, row, group, entry))
        return row

    def _next_size(self, size: int, seconds: float, most: int) -> int:
        """The next batch's size, from how long this one's transaction took."""
        if seconds > self.batch_seconds:
            return max(1, min(size, int(size * self.batch_seconds / seconds)))
        if seconds < self.batch_seconds / 2:
            return min(most, size * 2)
        return size

    # -- runs ------------------------------------------------------------------------------

    def _open(
        self, program: Program, moment: datetime, now: datetime
    ) -> tuple[str, dict[UnitKey, UnitProgress], bool]:
        """The unfinished run to resume, or a new one with every unit recorded."""
        stored = self.progress.unfinished()
        rows = {(r.rule_id, r.system, r.dataset): r for r in stored}
        run_id = stored[0].run_id if stored else str(uuid.uuid4())
        fresh = [
            UnitProgress(
                run_id,
                *unit.unit_key,
                cutoff_of(moment, unit.period),
                None,
                0,
                0,
                0,
                State.PENDING,
                now,
                now,
            )
            for unit in program.units
            if unit.unit_key not in rows
        ]
        if fresh:
            self.progress.start(fresh)
        for row in stored:  # units of rules the policy no longer has
            if program.unit((row.rule_id, row.system, row.dataset)) is None and (
                row.state in State.UNFINISHED
            ):
                self._save(replace(row, state=State.FAILED, updated_at=now))
        rows |= {(r.rule_id, r.system, r.dataset): r for r in fresh}
        return run_id, rows, bool(stored)

    def _dry_run(
        self, program: Program, moment: datetime, held: HeldSubjects, batch_size: int
    ) -> SweepReport:
        report = SweepReport(None, moment, False, True, [], program.blocked)
        for unit in program.units:
            cutoff = cutoff_of(moment, unit.period)
            entry = UnitReport(unit, cutoff, "would_run")
            try:
                counts = self.backend.runner(unit, cutoff=cutoff, at=moment, held=held).count()
            except StewardError as error:
                entry.state, entry.error = State.FAILED, error.message
            else:
                entry.rows_done, entry.rows_held = counts.due, counts.held
                entry.batches = math.ceil(counts.due / batch_size)
            report.units.append(entry)
        return report

    def _save(self, row: UnitProgress, audit: AuditNote | None = None) -> UnitProgress:
        self.progress.save(row, audit)
        return row

    def _note(
        self, unit: SweepUnit, row: UnitProgress, group: _Group, entry: UnitReport
    ) -> AuditNote:
        """Counts of the batches since the unit's last event, and the run's totals."""
        action = (
            "retention.failed" if row.state == State.FAILED else f"retention.{unit.action.value}"
        )
        details: dict[str, object] = {
            "run_id": row.run_id,
            "system": unit.system,
            "dataset": unit.dataset,
            "cutoff": format_time(row.cutoff),
            "state": row.state,
            "batches": group.batches,
            "rows": group.rows,
            "children": dict(group.children),
            "refused": dict(group.refused),
            "total_rows": row.rows_done,
            "total_batches": row.batches,
            "rows_held": row.rows_held,
        }
        if entry.error:
            details["error"] = entry.error
        reason = (
            f"retention rule '{unit.rule_id}': {unit.action.value} {unit.period.describe()} "
            f"after {unit.anchor_event}"
        )
        return AuditNote(
            at=self.clock.now(),
            actor=self.actor,
            action=action,
            object_type="retention_rule",
            object_id=unit.rule_id,
            reason=reason,
            policy_version=self.policy_version,
            details=details,
        )


class _Group:
    """Batches since a unit's last audit event."""

    def __init__(self) -> None:
        self.batches = 0
        self.rows = 0
        self.children: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def add(self, outcome: BatchOutcome) -> None:
        self.batches += 1
        self.rows += outcome.rows
        for name, n in outcome.children.items():
            self.children[name] = self.children.get(name, 0) + n
        for name, n in outcome.refused.items():
            self.refused[name] = self.refused.get(name, 0) + n
