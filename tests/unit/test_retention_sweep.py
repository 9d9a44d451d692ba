"""The sweep use case with its collaborators replaced by small in-memory
ones: runs are recorded before they start, resumed where they stopped with
their stored cutoffs, stopped by the time budget, audited per group of
batches with counts only, and a failing dataset does not stop the others.
(The same service against real databases: tests/integration/test_retention_*.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.unit.test_retention_compile import _policy, _schema

from datasteward.clock import FixedClock
from datasteward.connectors.reflect import ConnectorError
from datasteward.policy.model import Policy, Suspension
from datasteward.retention import RetentionError, Sweeper, SweepUnit
from datasteward.retention.expiry import cutoff
from datasteward.retention.ports import (
    AuditNote,
    BatchOutcome,
    HeldSubjects,
    Key,
    Statement,
    UnitCounts,
    UnitProgress,
)
from datasteward.retention.sweep import AUDIT_EVERY, FIRST_BATCH

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


class Rows:
    """The due rows of every unit: keys 1..n, each handled once."""

    def __init__(self, sizes: Mapping[str, int]) -> None:
        self.due = {name: list(range(1, n + 1)) for name, n in sizes.items()}
        self.handled: dict[str, list[int]] = {name: [] for name in sizes}


class Runner:
    def __init__(self, backend: Backend, unit: SweepUnit, cutoff: datetime) -> None:
        self.backend = backend
        self.unit = unit
        self.cutoff = cutoff

    def statements(self) -> list[Statement]:
        return [Statement("pick", "SELECT :cutoff")]

    def count(self) -> UnitCounts:
        left = self.backend.rows.due.get(self.unit.rule_id, [])
        return UnitCounts(len(left), 2, (2,) * len(self.unit.holds))

    def count_held(self) -> int:
        return 2

    def batch(self, after: Key | None, size: int) -> BatchOutcome:
        self.backend.calls.append((self.unit.rule_id, after))
        self.backend.sizes.append(size)
        fail_after = self.backend.fail_after
        if fail_after is not None and self.backend.batches >= fail_after:
            raise self.backend.failure
        left = [
            k
            for k in self.backend.rows.due.get(self.unit.rule_id, [])
            if after is None or k > after[0]
        ]
        chosen = left[:size]
        if not chosen:
            return BatchOutcome(None)
        self.backend.batches += 1
        done = self.backend.rows.handled[self.unit.rule_id]
        done.extend(chosen)
        seconds = self.backend.seconds(len(chosen))
        last = self.backend.says_last and len(chosen) == len(left)
        return BatchOutcome((chosen[-1],), len(chosen), {}, {}, seconds, last)


class Backend:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.cutoffs: dict[str, datetime] = {}
        self.calls: list[tuple[str, Key | None]] = []
        self.sizes: list[int] = []
        self.seconds: Callable[[int], float] = lambda rows: 0.01
        self.batches = 0
        self.fail_after: int | None = None
        self.failure: Exception = RuntimeError("the worker died")
        self.says_last = False
        """Runners flag the batch that took every row left (as SQL runners do)."""

    def schema(self) -> Any:
        return _schema()

    def runner(
        self, unit: SweepUnit, *, cutoff: datetime, at: datetime, held: HeldSubjects
    ) -> Runner:
        self.cutoffs[unit.rule_id] = cutoff
        return Runner(self, unit, cutoff)

    def close(self) -> None:
        pass


class Progress:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, str], UnitProgress] = {}
        self.audits: list[AuditNote] = []
        self.saves = 0

    def unfinished(self) -> list[UnitProgress]:
        runs = sorted(
            {
                (r.started_at, r.run_id)
                for r in self.rows.values()
                if r.state in ("pending", "running", "stopped")
            }
        )
        if not runs:
            return []
        return [r for r in self.rows.values() if r.run_id == runs[0][1]]

    def start(self, units: Sequence[UnitProgress]) -> None:
        for unit in units:
            self.rows[(unit.run_id, unit.rule_id, unit.system, unit.dataset)] = unit

    def save(self, progress: UnitProgress, audit: AuditNote | None = None) -> None:
        key = (progress.run_id, progress.rule_id, progress.system, progress.dataset)
        assert key in self.rows, "progress saved for a unit the run did not record"
        self.rows[key] = progress
        self.saves += 1
        if audit is not None:
            self.audits.append(audit)


class Subjects:
    def __init__(self) -> None:
        self.asked: list[frozenset[Suspension]] = []

    def held(self, suspensions: frozenset[Suspension], at: datetime) -> HeldSubjects:
        self.asked.append(suspensions)
        return HeldSubjects({}, {s: 0 for s in suspensions})


class Clock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def _only(rule_ids: set[str]) -> Policy:
    def keep(data: dict[str, Any]) -> None:
        data["retention_rules"] = [r for r in data["retention_rules"] if r["id"] in rule_ids]

    return _policy(keep)


def _sweeper(
    policy: Policy, backend: Backend, progress: Progress, clock: FixedClock, **kw: Any
) -> Sweeper:
    return Sweeper(
        policy,
        backend=backend,
        progress=progress,
        subjects=kw.pop("subjects", Subjects()),
        clock=clock,
        hash_key=b"k" * 32,
        actor="test:retention",
        policy_version=3,
        **kw,
    )


RULES = {"access-log-ip-7d", "access-log-1y", "contact-metadata-1y"}


def test_a_run_records_its_units_first_then_every_batch_and_audits_counts() -> None:
    rows = Rows({"access-log-ip-7d": 25, "access-log-1y": 0, "contact-metadata-1y": 7})
    backend, progress = Backend(rows), Progress()
    report = _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(batch_size=10)

    assert report.complete and not report.resumed
    assert rows.handled == {
        "access-log-ip-7d": list(range(1, 26)),
        "access-log-1y": [],
        "contact-metadata-1y": list(range(1, 8)),
    }
    states = {
        r.rule_id: (r.state, r.rows_done, r.batches, r.rows_held) for r in progress.rows.values()
    }
    assert states == {
        "access-log-ip-7d": ("done", 25, 3, 2),
        "access-log-1y": ("done", 0, 0, 2),
        "contact-metadata-1y": ("done", 7, 1, 2),
    }
    # every cutoff is the rule's period before the moment of the run
    assert backend.cutoffs["access-log-1y"] == cutoff(
        NOW, _only(RULES).retention_rule("access-log-1y").period or pytest.fail("no period")
    )
    # one event per unit here (fewer than AUDIT_EVERY batches), counts only
    assert [(a.action, a.object_id, a.details["rows"]) for a in progress.audits] == [
        ("retention.anonymise", "access-log-ip-7d", 25),
        ("retention.delete", "access-log-1y", 0),
        ("retention.anonymise", "contact-metadata-1y", 7),
    ]
    note = progress.audits[0]
    assert note.actor == "test:retention" and note.policy_version == 3
    assert set(note.details) >= {"run_id", "cutoff", "batches", "rows", "rows_held", "state"}
    assert "last_key" not in json.dumps(dict(note.details))


def test_a_run_stopped_by_the_time_budget_resumes_after_its_last_key_with_its_cutoff() -> None:
    rows = Rows({"access-log-ip-7d": 50, "access-log-1y": 30, "contact-metadata-1y": 0})
    backend, progress = Backend(rows), Progress()
    clock = FixedClock(NOW)
    first = _sweeper(_only(RULES), backend, progress, clock, monotonic=Clock()).run(
        batch_size=10, max_seconds=3
    )
    assert first.stopped and not first.complete
    assert any("time limit" in r for r in first.reasons)
    done_first = len(rows.handled["access-log-ip-7d"])
    assert 0 < done_first < 50
    stored = {r.rule_id: r for r in progress.rows.values()}
    assert stored["access-log-ip-7d"].state == "stopped"
    assert stored["access-log-ip-7d"].last_key == (done_first,)
    assert stored["access-log-1y"].state == "pending"

    clock.advance(timedelta(days=3))  # a later call: the stored cutoffs still hold
    second = _sweeper(_only(RULES), backend, progress, clock).run(batch_size=10)
    assert second.resumed and second.run_id == first.run_id and second.complete
    assert rows.handled["access-log-ip-7d"] == list(range(1, 51))
    assert rows.handled["access-log-1y"] == list(range(1, 31))
    assert backend.cutoffs["access-log-1y"] == stored["access-log-1y"].cutoff
    assert ("access-log-ip-7d", (done_first,)) in backend.calls


def test_a_crash_mid_unit_is_resumed_without_handling_any_row_twice() -> None:
    rows = Rows({"access-log-ip-7d": 45, "access-log-1y": 12, "contact-metadata-1y": 3})
    backend, progress = Backend(rows), Progress()
    backend.fail_after = 2
    with pytest.raises(RuntimeError, match="died"):
        _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(batch_size=10)
    running = [r for r in progress.rows.values() if r.state == "running"]
    assert [(r.rule_id, r.last_key) for r in running] == [("access-log-ip-7d", (20,))]

    backend.fail_after = None
    report = _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(batch_size=10)
    assert report.resumed and report.complete
    assert rows.handled["access-log-ip-7d"] == list(range(1, 46))
    assert rows.handled["access-log-1y"] == list(range(1, 13))
    totals = {r.rule_id: r.rows_done for r in progress.rows.values()}
    assert totals == {"access-log-ip-7d": 45, "access-log-1y": 12, "contact-metadata-1y": 3}


def test_a_failing_dataset_is_recorded_and_the_others_are_swept() -> None:
    rows = Rows({"access-log-ip-7d": 5, "access-log-1y": 5, "contact-metadata-1y": 5})
    backend, progress = Backend(rows), Progress()
    backend.fail_after = 0
    backend.failure = ConnectorError("the database refused a retention statement", system="shop")
    report = _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(batch_size=10)
    assert not report.complete
    assert [u.state for u in report.units] == ["failed", "failed", "failed"]
    assert all("refused" in (u.error or "") for u in report.units)
    assert {a.action for a in progress.audits} == {"retention.failed"}
    # failed units are final for this run: the next call starts a new run
    backend.fail_after = None
    again = _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(batch_size=10)
    assert not again.resumed and again.complete and again.run_id != report.run_id


def test_long_units_are_audited_in_groups_of_batches() -> None:
    rows = Rows(
        {"access-log-ip-7d": 2 * AUDIT_EVERY + 30, "access-log-1y": 0, "contact-metadata-1y": 0}
    )
    progress = Progress()
    _sweeper(_only(RULES), Backend(rows), progress, FixedClock(NOW)).run(batch_size=1)
    groups = [a.details["batches"] for a in progress.audits if a.object_id == "access-log-ip-7d"]
    assert groups == [AUDIT_EVERY, AUDIT_EVERY, 30]
    assert sum(a.details["rows"] for a in progress.audits) == 2 * AUDIT_EVERY + 30


def test_a_dry_run_counts_and_records_nothing() -> None:
    rows = Rows({"access-log-ip-7d": 12, "access-log-1y": 3, "contact-metadata-1y": 0})
    backend, progress = Backend(rows), Progress()
    report = _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(
        batch_size=5, dry_run=True
    )
    assert report.dry_run and report.run_id is None and report.complete
    assert [(u.rows_done, u.batches) for u in report.units] == [(12, 3), (3, 1), (0, 0)]
    assert progress.rows == {} and progress.audits == [] and backend.calls == []


def test_subjects_are_read_only_for_the_suspensions_some_unit_checks() -> None:
    subjects = Subjects()
    _sweeper(_only(RULES), Backend(Rows({})), Progress(), FixedClock(NOW), subjects=subjects).run()
    assert subjects.asked == []
    subjects = Subjects()
    rows = Rows({"customer-accounts-closed": 0})
    _sweeper(
        _only({"customer-accounts-closed"}),
        Backend(rows),
        Progress(),
        FixedClock(NOW),
        subjects=subjects,
    ).run()
    assert subjects.asked == [frozenset({Suspension.RESTRICTION, Suspension.OPEN_REQUEST})]


def test_a_unit_whose_rule_left_the_policy_is_closed_when_the_run_resumes() -> None:
    rows = Rows({"access-log-ip-7d": 30, "access-log-1y": 10, "contact-metadata-1y": 0})
    backend, progress = Backend(rows), Progress()
    _sweeper(_only(RULES), backend, progress, FixedClock(NOW), monotonic=Clock()).run(
        batch_size=10, max_seconds=1
    )
    report = _sweeper(_only({"access-log-ip-7d"}), backend, progress, FixedClock(NOW)).run()
    assert report.resumed and report.complete
    states = {r.rule_id: r.state for r in progress.rows.values()}
    assert states["access-log-1y"] == "failed" and states["access-log-ip-7d"] == "done"
    assert progress.unfinished() == []


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"at": NOW + timedelta(seconds=1)}, "later than now"),
        ({"batch_size": 0}, "at least 1"),
        ({"max_seconds": -1}, "negative"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(kwargs: dict[str, Any], words: str) -> None:
    backend, progress = Backend(Rows({})), Progress()
    with pytest.raises(RetentionError, match=words):
        _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(**kwargs)
    assert progress.rows == {} and backend.calls == []


def test_an_earlier_moment_is_allowed_and_sets_the_cutoffs() -> None:
    backend, progress = Backend(Rows({})), Progress()
    earlier = NOW - timedelta(days=40)
    _sweeper(_only(RULES), backend, progress, FixedClock(NOW)).run(at=earlier)
    stored = {r.rule_id: r.cutoff for r in progress.rows.values()}
    assert stored["access-log-ip-7d"] == earlier - timedelta(days=7)
    assert {r.state for r in progress.rows.values()} == {"done"}


def test_batches_grow_while_cheap_and_shrink_when_slow_within_the_batch_size() -> None:
    rows = Rows({"access-log-1y": 40_000})
    backend = Backend(rows)
    _sweeper(_only({"access-log-1y"}), backend, Progress(), FixedClock(NOW)).run(batch_size=6000)
    assert backend.sizes[:5] == [FIRST_BATCH, 2000, 4000, 6000, 6000]
    assert rows.handled["access-log-1y"] == list(range(1, 40_001))

    rows = Rows({"access-log-1y": 3000})
    backend = Backend(rows)
    backend.seconds = lambda n: n / 1000  # a thousand rows a second: too slow for 0.25 s
    _sweeper(_only({"access-log-1y"}), backend, Progress(), FixedClock(NOW)).run(batch_size=6000)
    assert backend.sizes[:3] == [FIRST_BATCH, 250, 250]
    assert rows.handled["access-log-1y"] == list(range(1, 3001))


def test_a_batch_that_took_every_row_left_finishes_its_unit_without_another_pick() -> None:
    rows = Rows({"access-log-ip-7d": 25, "contact-metadata-1y": 7})
    backend, progress = Backend(rows), Progress()
    backend.says_last = True
    report = _sweeper(
        _only({"access-log-ip-7d", "contact-metadata-1y"}), backend, progress, FixedClock(NOW)
    ).run(batch_size=10)

    assert report.complete
    assert rows.handled == {
        "access-log-ip-7d": list(range(1, 26)),
        "contact-metadata-1y": list(range(1, 8)),
    }
    # three batches and one for the seven rows: no empty pick after the last one
    assert [rule for rule, _ in backend.calls] == ["access-log-ip-7d"] * 3 + ["contact-metadata-1y"]
    states = {r.rule_id: (r.state, r.rows_done, r.batches) for r in progress.rows.values()}
    assert states == {
        "access-log-ip-7d": ("done", 25, 3),
        "contact-metadata-1y": ("done", 7, 1),
    }
    assert [(a.object_id, a.details["rows"]) for a in progress.audits] == [
        ("access-log-ip-7d", 25),
        ("contact-metadata-1y", 7),
    ]
