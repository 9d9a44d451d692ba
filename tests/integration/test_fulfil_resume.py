"""Erasure that can be interrupted and resumed: checkpoints recorded after
each system commits, a resumed run that skips what is done and reports it
from the checkpoints, and a run crashed between the company database's
commit and the checkpoint write whose re-run leaves exactly the database a
single clean run leaves (every operator is idempotent). Checkpoints kept in
the engine store's ``dataset_checkpoints`` table.

Also the reflection cache: a new Fulfilment does not reflect a schema it
has seen (in this process, or on disk for the next one), and does when the
schema changed; a cached schema reads the same rows as a fresh one.

SQLite always runs; PostgreSQL and MariaDB when their URLs are set."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from tests.integration import fulfil_helpers as h
from tests.integration.conftest import empty_database
from tests.integration.databases import scratch_database
from tests.integration.erasure_store import add_request, migrated

from datasteward.clock import FixedClock
from datasteward.connectors import reflect_cache, sql, sql_connectors
from datasteward.connectors.reflect_cache import clear_process_cache
from datasteward.crypto import Keyring, MasterKey
from datasteward.fulfilment import MemoryCheckpoints
from datasteward.fulfilment.plan import PlanKind
from datasteward.fulfilment.service import Fulfilment, erasure_hash_key
from datasteward.identity import parse_identity
from datasteward.packages import export_package
from datasteward.policy import load_policy_file
from datasteward.policy.model import Policy
from datasteward.shop import database_fingerprint, load, sample_subjects_by_role
from datasteward.store.checkpoint_store import SqlCheckpoints
from datasteward.store.engine import make_engine
from datasteward.store.tables import dataset_checkpoints

ROWS = 5_000
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=h.BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("res"), "res_t") as url:
        load(url, ROWS, seed=5, replace=True)
        yield url


@pytest.fixture
def shop(loaded: str) -> Iterator[str]:
    yield loaded
    load(loaded, ROWS, seed=5, replace=True)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_file(h.POLICY_FILE).policy


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    key = MasterKey.generate()
    return Keyring([key], key.kid)


class CrashAfterCommit(MemoryCheckpoints):
    """Checkpoints that fail at the first record: the company database has
    committed, the engine store never hears of it."""

    def record(self, request_id: str, system: str, dataset: str, result: dict[str, Any]) -> None:
        raise ConnectionError("the engine store went away")


def test_a_resumed_erasure_skips_what_is_done_and_reports_it(
    shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    address = sample_subjects_by_role(shop)["customer"]
    checkpoints = MemoryCheckpoints()
    with h.service(shop, policy, keyring, tmp_path, NOW) as service:
        first = service.erase([h.email(address)], checkpoints=checkpoints, request_id="r-1")
        assert first.complete and first.resumed == [] and first.request_id == "r-1"
        recorded = {(s, d) for _, s, d in checkpoints.results}
        assert recorded == {("shop", d.dataset) for d in first.datasets}
        after_first = database_fingerprint(shop)

        second = service.erase([h.email(address)], checkpoints=checkpoints, request_id="r-1")

    assert second.complete
    assert second.ran == [] and sorted(second.resumed) == sorted(first.ran)
    assert [d.to_dict() | {"resumed": False} for d in second.datasets] == [
        d.to_dict() for d in first.datasets
    ]
    assert database_fingerprint(shop) == after_first
    as_dict = second.to_dict()
    assert as_dict["request_id"] == "r-1" and as_dict["ran"] == []


def test_a_crash_between_commit_and_checkpoint_leaves_what_one_clean_run_leaves(
    shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    address = sample_subjects_by_role(shop)["customer"]
    # known by the customer number too, so the re-run finds the erased customer
    # row again (by email it would not: the email is hashed) and applies its
    # operators to their own output: a hash not hashed twice, NULLs left NULL
    subject = [h.email(address), parse_identity(f"customer_id:{h.customer_id(shop, address)}")]
    with h.service(shop, policy, keyring, tmp_path, NOW) as service:
        with pytest.raises(ConnectionError):
            service.erase(subject, checkpoints=CrashAfterCommit(), request_id="r-2")
        assert h.query(shop, "SELECT COUNT(*) FROM customers WHERE email = :e", e=address) == [
            (0,)
        ]  # the company database did commit
        rerun = service.erase(subject, checkpoints=MemoryCheckpoints(), request_id="r-2")
    assert rerun.complete, rerun.reasons
    entries = {d.dataset: d for d in rerun.datasets}
    assert entries["customers"].rows_matched == 1
    assert entries["customers"].changed == dict.fromkeys(
        ["email", "first_name", "last_name", "phone", "national_id", "country"], 0
    )
    assert entries["orders"].rows_matched > 0  # the held orders, found and kept again
    crashed_and_rerun = database_fingerprint(shop)

    load(shop, ROWS, seed=5, replace=True)
    with h.service(shop, policy, keyring, tmp_path, NOW) as service:
        assert service.erase(subject).complete
    assert database_fingerprint(shop) == crashed_and_rerun


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with empty_database(request.param, tmp_path) as url:
        engine = migrated(make_engine(url))
        try:
            yield engine
        finally:
            engine.dispose()


def test_checkpoints_live_in_the_engine_store(store_engine: Any) -> None:
    request_id = add_request(store_engine)
    checkpoints = SqlCheckpoints(store_engine, _Clock())
    assert checkpoints.done(request_id, "shop", "customers") is None
    result = {"system": "shop", "dataset": "customers", "rows_matched": 1, "rows_deleted": 0}
    checkpoints.record(request_id, "shop", "customers", result)
    checkpoints.record(request_id, "shop", "customers", result | {"rows_matched": 2})
    assert checkpoints.done(request_id, "shop", "customers") == result | {"rows_matched": 2}
    assert checkpoints.recorded(request_id) == [
        ("shop", "customers", "2026-11-02T10:00:00.000000Z")
    ]
    with store_engine.connect() as connection:
        rows = connection.execute(select(dataset_checkpoints)).all()
    assert len(rows) == 1 and rows[0].state == "done"
    assert json.loads(rows[0].result)["rows_matched"] == 2


class _Clock:
    def now(self) -> datetime:
        return NOW


# -- the reflection cache --------------------------------------------------------------------


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every reflection the connector really makes, by system."""
    clear_process_cache()
    made: list[str] = []
    real = sql.reflect_system

    def reflect(connection: Any, system: Any) -> Any:
        made.append(system.id)
        return real(connection, system)

    monkeypatch.setattr(sql, "reflect_system", reflect)
    yield made
    clear_process_cache()


def _plan(url: str, policy: Policy, keyring: Keyring, home: Path, **kwargs: Any) -> Any:
    address = sample_subjects_by_role(url)["customer"]
    with Fulfilment(
        policy,
        connectors=sql_connectors({"SHOP_DATABASE_URL": url}, **kwargs),
        keyring=keyring,
        home=home,
        clock=FixedClock(NOW),
        hash_key=erasure_hash_key(keyring),
    ) as service:
        return service.plan(PlanKind.ERASURE, [h.email(address)])


def test_a_schema_is_reflected_once_per_process_until_it_changes(
    shop: str, policy: Policy, keyring: Keyring, tmp_path: Path, counted: list[str]
) -> None:
    first = _plan(shop, policy, keyring, tmp_path)
    second = _plan(shop, policy, keyring, tmp_path)
    assert counted == ["shop"]
    assert first.to_dict() == second.to_dict()
    h.execute(shop, "ALTER TABLE contact_messages ADD COLUMN topic VARCHAR(40)")
    _plan(shop, policy, keyring, tmp_path)
    assert counted == ["shop", "shop"]


def test_a_schema_cached_on_disk_serves_the_next_process_and_reads_the_same_rows(
    loaded: str, policy: Policy, keyring: Keyring, tmp_path: Path, counted: list[str]
) -> None:
    cache = tmp_path / "cache"
    _plan(loaded, policy, keyring, tmp_path, cache_dir=cache)
    (stored,) = cache.glob("*.json")
    written = stored.read_text(encoding="utf-8")
    where = make_url(loaded)
    assert loaded not in written and str(where.database) not in written  # no URL, no path
    clear_process_cache()  # as if a new process started
    cached_plan = _plan(loaded, policy, keyring, tmp_path, cache_dir=cache)
    assert counted == ["shop"]
    assert cached_plan.ok

    clear_process_cache()
    stored.write_text("{not json", encoding="utf-8")  # a broken file is only a miss
    _plan(loaded, policy, keyring, tmp_path, cache_dir=cache)
    assert counted == ["shop", "shop"]

    # an access package read through the cached schema equals one read through a fresh one
    clear_process_cache()
    packages = [_package(loaded, policy, keyring, tmp_path / f"p{i}", cache) for i in (0, 1)]
    assert counted == ["shop", "shop"]  # both served from the file rewritten above
    clear_process_cache()
    fresh = _package(loaded, policy, keyring, tmp_path / "p2", None)
    assert packages[0] == packages[1] == fresh
    assert reflect_cache.CACHE_FORMAT == 1


def _package(url: str, policy: Policy, keyring: Keyring, home: Path, cache: Path | None) -> Any:
    address = sample_subjects_by_role(url)["customer"]
    with Fulfilment(
        policy,
        connectors=sql_connectors({"SHOP_DATABASE_URL": url}, cache_dir=cache),
        keyring=keyring,
        home=home,
        clock=FixedClock(NOW),
        hash_key=erasure_hash_key(keyring),
    ) as service:
        _, stored = service.access([h.email(address)])
    target = home / "out.zip"
    export_package(home, keyring, stored.package_id, target, now=NOW)
    with zipfile.ZipFile(target) as archive:
        return json.loads(archive.read("data.json"))["records"]
