"""A sweep interrupted anywhere ends, once resumed, in exactly the state an
uninterrupted sweep reaches (same table fingerprints), on SQLite, PostgreSQL
and MariaDB; and a sweep run again after it finished changes nothing.

Interruptions: a crash right after a batch committed but before its
progress was recorded (the batch runs again on resume), and a time budget
(``max_seconds=0``) that stops every call after one batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import Engines, build_steward
from tests.integration.databases import scratch_database
from tests.integration.test_retention_sweep import Shop, shop_policy

from datasteward.connectors import SqlConnector
from datasteward.crypto import Keyring
from datasteward.retention.model import SweepUnit
from datasteward.retention.ports import BatchOutcome, HeldSubjects, Key
from datasteward.retention.sql import SqlRetentionBackend, SqlUnitRunner
from datasteward.shop import database_fingerprint, load, shop_engine

ROWS = 5_000
SEED = 9
AT = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
BATCH = 37


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("resume"), "ret_r") as url:
        yield url


class Crash(Exception):
    """Stands for the process dying."""


class CrashingRunner:
    def __init__(self, runner: SqlUnitRunner, backend: CrashingBackend) -> None:
        self.runner = runner
        self.backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def batch(self, after: Key | None, size: int) -> BatchOutcome:
        outcome = self.runner.batch(after, size)  # committed in the company database
        if outcome.upper is not None:
            self.backend.batches += 1
            if self.backend.batches == self.backend.crash_at:
                raise Crash("killed after the commit, before the progress was saved")
        return outcome


class CrashingBackend(SqlRetentionBackend):
    def __init__(self, *args: Any, crash_at: int) -> None:
        super().__init__(*args)
        self.crash_at = crash_at
        self.batches = 0

    def runner(  # type: ignore[override]
        self, unit: SweepUnit, *, cutoff: datetime, at: datetime, held: HeldSubjects
    ) -> CrashingRunner:
        return CrashingRunner(super().runner(unit, cutoff=cutoff, at=at, held=held), self)


def _shop(url: str, engines: Engines, home: Path, keyring: Keyring | None = None) -> Shop:
    load(url, ROWS, seed=SEED, replace=True)
    home.mkdir()
    steward = build_steward(f"sqlite:///{home / 'engine.sqlite'}", engines, home, keyring)
    steward.clock.set(AT)
    return Shop(url, shop_engine(url), steward)


def test_an_interrupted_sweep_ends_like_an_uninterrupted_one(
    database: str, engines: Engines, tmp_path: Path
) -> None:
    policy = shop_policy()
    shop = _shop(database, engines, tmp_path / "a")
    try:
        straight = shop.sweep(policy, batch_size=BATCH)
        assert straight.complete
        expected = database_fingerprint(database)
        done = {u.unit.unit_key: u.rows_done for u in straight.units}
        assert sum(done.values()) > 1000  # the sweep did real work

        again = shop.sweep(policy, batch_size=BATCH)
        assert again.complete and not again.resumed
        assert all(u.rows_done == 0 for u in again.units)
        assert database_fingerprint(database) == expected
    finally:
        shop.engine.dispose()

    # the same keys: keyed hashes are equal only under one key
    shop = _shop(database, engines, tmp_path / "b", shop.steward.keyring)
    try:
        assert database_fingerprint(database) != expected
        backend = CrashingBackend(policy, lambda system: SqlConnector(system, database), crash_at=5)
        try:
            with pytest.raises(Crash):
                shop.sweeper(policy, backend).run(batch_size=BATCH)
        finally:
            backend.close()
        for _ in range(6):  # each call stops after one batch
            report = shop.sweep(policy, batch_size=BATCH, max_seconds=0)
            assert report.resumed and report.stopped and not report.complete
            assert sum(u.batches for u in report.units) == 1
        report = shop.sweep(policy, batch_size=BATCH)
        assert report.resumed and report.complete
        assert database_fingerprint(database) == expected
        # the progress store accounts for every row as the straight run did, except
        # the one batch that committed just before the crash and was never recorded
        with shop.steward.store.reading() as tx:
            connection = tx.connection  # type: ignore[attr-defined]
            rows = connection.exec_driver_sql(
                "SELECT rule_id, system, dataset, rows_done, state FROM sweep_progress"
            ).all()
        assert {r.state for r in rows} == {"done"}
        totals = {(r.rule_id, r.system, r.dataset): r.rows_done for r in rows}
        missing = {key: n - totals[key] for key, n in done.items() if totals[key] != n}
        assert len(missing) == 1 and 0 < next(iter(missing.values())) <= BATCH, missing
    finally:
        shop.engine.dispose()
