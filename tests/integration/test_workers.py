"""Scale-out: two `steward worker` processes share one Redis queue and one
PostgreSQL engine store, and carry 200 access requests against the generated
shop. Every task is enqueued twice on purpose; each must run exactly once
and every request must complete. Skips unless PostgreSQL and Redis are
configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from tests.integration.conftest import PG_ENV
from tests.integration.databases import server_database

from datasteward.cli.runtime import Runtime
from datasteward.identity import parse_identity
from datasteward.requests.model import RequestState
from datasteward.settings import Settings
from datasteward.store.tables import tasks

REDIS_ENV = "STEWARD_TEST_REDIS_URL"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"
REQUESTS = int(os.environ.get("STEWARD_TEST_WORKER_REQUESTS", "200"))

pytestmark = [
    pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"needs {PG_ENV} (PostgreSQL)"),
    pytest.mark.skipif(not os.environ.get(REDIS_ENV), reason=f"needs {REDIS_ENV} (Redis)"),
]


@pytest.fixture
def engine_url() -> Iterator[str]:
    with server_database("postgresql", "steward_workers") as url:
        yield url


@pytest.fixture
def shop_url() -> Iterator[str]:
    with server_database("postgresql", "steward_workers_shop") as url:
        yield url


def steward(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datasteward.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_two_workers_run_each_task_exactly_once(
    engine_url: str, shop_url: str, tmp_path: Path
) -> None:
    from datasteward.shop import load

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")},
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_DATABASE_URL": engine_url,
        "STEWARD_QUEUE_URL": os.environ[REDIS_ENV],
        "STEWARD_ACTOR": "test:staff",
        "SHOP_DATABASE_URL": shop_url,
    }
    load(shop_url, 8_000, replace=True)
    steward(env, "init")
    steward(env, "policy", "apply", str(EXAMPLE))
    shop = create_engine(shop_url)
    with shop.connect() as connection:
        emails = [
            row[0]
            for row in connection.execute(
                text("SELECT email FROM customers ORDER BY id LIMIT :n"), {"n": REQUESTS}
            )
        ]
    shop.dispose()
    assert len(emails) == REQUESTS

    rt = Runtime(Settings.from_env(env))
    rt.jobs.huey.flush()  # a clean queue in the shared test database
    ids: list[str] = []
    for email in emails:
        request = rt.desk.submit(*_access(email), actor="test:staff", channel="email")
        rt.desk.verify_by_staff(request.id, actor="test:staff", reason="known customer")
        ids.append(request.id)
    for request_id in ids:
        rt.queued_work.start(request_id, actor="test:staff")
    all_tasks = [t.id for request_id in ids for t in rt.work.tasks(request_id)]
    assert len(all_tasks) == REQUESTS
    rt.queued_work.queue.enqueue_tasks(all_tasks)  # type: ignore[union-attr]

    logs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "datasteward.cli", "worker", "--threads", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = Counter(rt.desk.get(i).state for i in ids)
            if states[RequestState.IN_PROGRESS] == 0:
                break
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()
    troubles = {t.last_error for i in ids for t in rt.work.tasks(i) if t.last_error}
    assert not troubles
    assert Counter(rt.desk.get(i).state for i in ids) == {RequestState.COMPLETED: REQUESTS}

    with rt.engine.reading() as tx:
        runs = tx.audit_entries(action="task.run", limit=10 * REQUESTS)
        attempts = [int(r.attempts) for r in tx.connection.execute(select(tasks.c.attempts))]
    ran = Counter(str(e.details["task"]) for e in runs)
    assert set(ran) == set(all_tasks)
    assert max(ran.values()) == 1, "a task ran twice"
    assert attempts == [1] * REQUESTS
    by_worker = Counter(e.actor for e in runs)
    assert len(by_worker) == 2, f"both workers should have run tasks: {by_worker}"
    rt.close()


def _access(email: str) -> tuple[object, object]:
    from datasteward.requests.model import RequestType

    return RequestType.ACCESS, parse_identity(f"email:{email}")
