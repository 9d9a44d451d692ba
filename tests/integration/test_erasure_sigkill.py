"""An erasure killed with SIGKILL and run again loses nothing and harms
nothing.

* Killed in the middle of its transaction (PostgreSQL, a customer who owns
  ten thousand rows, killed as soon as the erasure's transaction has written
  its first row): the database rolls the whole system back, so every row is
  as it was; the next run erases everything, and a third run finds every
  dataset done in the checkpoints. Proven by querying the database: no
  declared personal field of the subject survives outside the legal hold,
  and no other subject's row changed. Both runs appear in the audit log
  (the worker audits as a request worker does, from the report).
* Killed after the company database committed but before the checkpoints
  were written (SQLite and PostgreSQL): the next run applies every operator
  again, and the database ends exactly as after one clean run.

The runs are real processes (tests/integration/erasure_worker.py). The
PostgreSQL cases skip, with the reason, when ``STEWARD_TEST_POSTGRES_URL``
is not set."""

from __future__ import annotations

import calendar
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from tests.integration import fulfil_helpers as h
from tests.integration.databases import scratch_database, server_database
from tests.integration.erasure_store import add_request, migrated

from datasteward.crypto import MasterKey
from datasteward.shop import add_heavy_customer, database_fingerprint, load
from datasteward.store.checkpoint_store import SqlCheckpoints
from datasteward.store.engine import make_engine
from datasteward.store.sql_store import SqlEngineStore

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "erasure_worker.py"
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RIGA = ZoneInfo("Europe/Riga")
HEAVY_ROWS = 10_000
SMALL_ROWS = 2_000
APP = "steward_sigkill_test"
DATASETS = {
    "customers",
    "addresses",
    "orders",
    "order_items",
    "payments",
    "newsletter_subscribers",
    "newsletter_events",
    "contact_messages",
    "access_log",
    "sellers",
    "seller_documents",
}


class Worker:
    """Starts erasure runs of one request in processes of their own."""

    def __init__(self, shop: str, store: str, request_id: str, home: Path, **extra: Any) -> None:
        key = MasterKey.generate()
        self.settings = {
            "shop": shop,
            "store": store,
            "request_id": request_id,
            "home": str(home),
            "now": NOW.isoformat(),
            "kid": key.kid,
            "secret": key.secret.hex(),
            **extra,
        }

    def start(self, **changes: Any) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ERASURE_WORKER": json.dumps(self.settings | changes),
        }
        return subprocess.Popen(
            [sys.executable, str(WORKER)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, **changes: Any) -> dict[str, Any]:
        process = self.start(**changes)
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return report


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """An engine store (SQLite file) migrated for checkpoints and audit events."""
    url = f"sqlite:///{tmp_path / 'engine.sqlite'}"
    engine = migrated(make_engine(url))
    engine.dispose()
    return url


def _with_app_name(url: str) -> str:
    return (
        make_url(url)
        .update_query_dict({"application_name": APP})
        .render_as_string(hide_password=False)
    )


def _writing_backend(admin: Engine) -> int | None:
    """The pid of the erasure's backend once its transaction has written a row."""
    with admin.connect() as connection:
        pid: int | None = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = :app "
                "AND backend_xid IS NOT NULL"
            ),
            {"app": APP},
        ).scalar()
        return pid


def _backends_gone(admin: Engine, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with admin.connect() as connection:
            left = connection.execute(
                text("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = :app"),
                {"app": APP},
            ).scalar_one()
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError("the killed worker's database session did not end")


def _last_day(created: Any) -> date:
    moment = datetime.fromisoformat(created) if isinstance(created, str) else created
    day = moment.replace(tzinfo=UTC).astimezone(RIGA).date()
    year = day.year + 5
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


@pytest.fixture
def admin(heavy_shop: tuple[str, str]) -> Iterator[Engine]:
    """The PostgreSQL server, to watch the worker's session."""
    engine = create_engine(os.environ["STEWARD_TEST_POSTGRES_URL"])
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def heavy_shop() -> Iterator[tuple[str, str]]:
    with server_database("postgresql", "kill_t") as url:
        load(url, 5_000, seed=3, replace=True)
        address = add_heavy_customer(url, HEAVY_ROWS, seed=3)
        yield url, address


@pytest.mark.slow  # three worker processes and a ten-thousand-row subject: about 15 s
def test_an_erasure_killed_mid_transaction_rolls_back_and_the_next_run_finishes(
    heavy_shop: tuple[str, str], admin: Engine, store_url: str, tmp_path: Path
) -> None:
    url, address = heavy_shop
    cid = h.customer_id(url, address)
    mine = h.subject_ids(url, address)
    assert len(mine["access_log"]) > HEAVY_ROWS // 2
    before = database_fingerprint(url)
    others = h.others_checksum(url, mine)
    orders = {
        int(i): _last_day(at)
        for i, at in h.query(url, "SELECT id, created_at FROM orders WHERE customer_id = :c", c=cid)
    }
    today = NOW.astimezone(RIGA).date()
    held = {i for i, last in orders.items() if last >= today}
    assert held and len(held) < len(orders)

    store_engine = make_engine(store_url)
    request_id = add_request(store_engine)
    worker = Worker(_with_app_name(url), store_url, request_id, tmp_path)

    # 1. killed while its transaction is writing
    process = worker.start(identities=[f"email:{address}"])
    deadline = time.monotonic() + 120
    while _writing_backend(admin) is None:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the erasure never started writing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    _backends_gone(admin)
    assert database_fingerprint(url) == before  # rolled back as a whole
    checkpoints = SqlCheckpoints(store_engine, _Clock())
    assert checkpoints.recorded(request_id) == []

    # 2. run again, to the end
    report = worker.run(identities=[f"email:{address}"])
    assert report["complete"] is True, report["reasons"]
    assert report["request_id"] == request_id
    assert report["resumed"] == []
    assert {key.split(".", 1)[1] for key in report["ran"]} == DATASETS
    assert {d for _, d, _ in checkpoints.recorded(request_id)} == DATASETS

    # nothing personal of theirs is left outside the hold; nobody else was touched
    customer = h.query(
        url,
        "SELECT email, first_name, last_name, phone, national_id, country FROM customers "
        "WHERE id = :c",
        c=cid,
    )[0]
    assert customer[0] != address and len(customer[0]) == 64
    assert customer[1:] == (None,) * 5
    assert h.query(url, "SELECT COUNT(*) FROM customers WHERE email = :e", e=address) == [(0,)]
    addresses = ",".join(str(i) for i in mine["addresses"])
    assert h.query(url, f"SELECT COUNT(*) FROM addresses WHERE id IN ({addresses})") == [(0,)]
    log = ",".join(str(i) for i in mine["access_log"])
    assert h.query(
        url,
        "SELECT COUNT(*) FROM access_log WHERE id IN ("
        + log
        + ") AND (customer_id IS NOT NULL OR referrer IS NOT NULL OR path <> '-' "
        "OR user_agent <> '-')",
    ) == [(0,)]
    addresses_left = [
        r[0] for r in h.query(url, f"SELECT ip_address FROM access_log WHERE id IN ({log})")
    ]
    assert len(addresses_left) == len(mine["access_log"])
    assert all(_network_address(ip) for ip in addresses_left)
    kept = {int(r[0]) for r in h.query(url, "SELECT id FROM orders WHERE customer_id = :c", c=cid)}
    assert kept == held
    items = ",".join(str(i) for i in mine["order_items"])
    assert h.query(url, f"SELECT COUNT(*) FROM order_items WHERE id IN ({items})") == [(len(held),)]
    assert h.others_checksum(url, mine) == others

    # 3. a third run finds every dataset done and changes nothing
    after = database_fingerprint(url)
    again = worker.run(identities=[f"email:{address}"])
    assert again["ran"] == [] and {k.split(".", 1)[1] for k in again["resumed"]} == DATASETS
    assert database_fingerprint(url) == after

    # the audit log shows every run: three started, two finished (the killed one never did)
    with SqlEngineStore(store_engine).reading() as tx:
        entries = tx.audit_entries(object_type="request", object_id=request_id)
    actions = sorted(e.action for e in entries)
    assert actions == ["erasure.finished"] * 2 + ["erasure.started"] * 3
    finished = sorted((e.details for e in entries if e.action == "erasure.finished"), key=len)
    assert [len(f["ran"]) for f in finished] in ([11, 0], [0, 11])
    store_engine.dispose()


class _Clock:
    def now(self) -> datetime:
        return NOW


def _network_address(text_: str) -> bool:
    """An IPv4 /24 or IPv6 /48 network address (IPv4-mapped: its IPv4 /24)."""
    address = ipaddress.ip_address(text_)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return ipaddress.ip_network(f"{address}/{prefix}").network_address == address


@pytest.mark.slow  # two loads and three worker processes per backend: 8-16 s
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_erasure_killed_after_commit_is_redone_harmlessly(
    backend: str, store_url: str, tmp_path: Path
) -> None:
    with scratch_database(backend, tmp_path, "kill_t") as url:
        load(url, SMALL_ROWS, seed=3, replace=True)
        address = h.query(
            url,
            "SELECT c.email FROM customers c WHERE EXISTS "
            "(SELECT 1 FROM access_log l WHERE l.customer_id = c.id) ORDER BY c.id",
        )[0][0]
        # by the customer number too: the re-run finds the erased customer row again
        identities = [f"email:{address}", f"customer_id:{h.customer_id(url, address)}"]
        store_engine = make_engine(store_url)
        request_id = add_request(store_engine)
        worker = Worker(url, store_url, request_id, tmp_path)

        killed = worker.start(identities=identities, kill_after_commit=True)
        killed.communicate(timeout=300)
        assert killed.returncode == -signal.SIGKILL
        assert h.query(url, "SELECT COUNT(*) FROM customers WHERE email = :e", e=address) == [
            (0,)
        ]  # the company database committed ...
        assert SqlCheckpoints(store_engine, _Clock()).recorded(request_id) == []  # ... alone

        report = worker.run(identities=identities)
        assert report["complete"] is True
        customers = next(d for d in report["datasets"] if d["dataset"] == "customers")
        assert customers["rows_matched"] == 1 and set(customers["changed"].values()) == {0}
        redone = database_fingerprint(url)

        load(url, SMALL_ROWS, seed=3, replace=True)
        clean = Worker(url, store_url, add_request(store_engine), tmp_path)
        clean.settings |= {"kid": worker.settings["kid"], "secret": worker.settings["secret"]}
        assert clean.run(identities=identities)["complete"] is True
        assert database_fingerprint(url) == redone
        store_engine.dispose()
