"""Access requests through the job queue, with 1 and with 2 worker processes.

Setup (not timed): a PostgreSQL engine store, a Redis queue and the
generated shop on PostgreSQL; N access requests submitted and verified
through the request desk. Timed: from handing all N to the queue
(``request run --queue`` for each) until the last one completed, with
``steward worker`` processes doing the work. Reported: throughput
(requests per second) and, per request, the latency from its ``start``
event to its completion (median and p95), read from the request history.

    python benchmarks/bench_request_queue.py --requests 10000 --shop-rows 100000

Needs PostgreSQL (STEWARD_TEST_POSTGRES_URL or the default below) and Redis
(STEWARD_TEST_REDIS_URL); scratch databases ``steward_bench_*`` are dropped
afterwards."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from datasteward.cli.runtime import Runtime
from datasteward.identity import parse_identity
from datasteward.legaltime.instants import parse_time
from datasteward.requests.model import RequestState, RequestType
from datasteward.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "examples" / "shop" / "policy.yaml"
PG = os.environ.get(
    "STEWARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("STEWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def steward(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "datasteward.cli", *args], env=env, check=True, capture_output=True
    )


def run(workers: int, count: int, shop_url: str, home: Path) -> dict[str, float]:
    engine_url = create_database("steward_bench_engine")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")},
        "STEWARD_HOME": str(home / f"home-{workers}"),
        "STEWARD_DATABASE_URL": engine_url,
        "STEWARD_QUEUE_URL": REDIS,
        "STEWARD_ACTOR": "bench:staff",
        "SHOP_DATABASE_URL": shop_url,
    }
    try:
        steward(env, "init")
        steward(env, "policy", "apply", str(POLICY))
        shop = create_engine(shop_url)
        with shop.connect() as connection:
            emails = [
                r[0]
                for r in connection.execute(
                    text("SELECT email FROM customers ORDER BY id LIMIT :n"), {"n": count}
                )
            ]
        shop.dispose()
        if len(emails) < count:
            raise SystemExit(f"the shop has only {len(emails)} customers; load more rows")
        rt = Runtime(Settings.from_env(env))
        rt.jobs.huey.flush()
        ids = []
        for email in emails:
            request = rt.desk.submit(
                RequestType.ACCESS, parse_identity(f"email:{email}"), actor="bench:staff"
            )
            rt.desk.verify_by_staff(request.id, actor="bench:staff", reason="benchmark")
            ids.append(request.id)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "datasteward.cli", "worker", "--threads", "1"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        time.sleep(2.0)  # workers up before the clock starts
        began = time.perf_counter()
        for request_id in ids:
            rt.queued_work.start(request_id, actor="bench:staff")
        engine = create_engine(engine_url)
        while True:
            with engine.connect() as connection:
                open_ = connection.execute(
                    text("SELECT count(*) FROM requests WHERE state <> 'completed'")
                ).scalar_one()
            if open_ == 0:
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker died")
            time.sleep(0.5)
        elapsed = time.perf_counter() - began
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT s.at AS started, c.at AS completed FROM request_events s "
                    "JOIN request_events c ON c.request_id = s.request_id "
                    "WHERE s.action = 'start' AND c.action = 'complete'"
                )
            ).all()
        engine.dispose()
        latencies = sorted(
            (parse_time(r.completed) - parse_time(r.started)).total_seconds() for r in rows
        )
        states = {rt.desk.get(i).state for i in ids[:50]}
        assert states == {RequestState.COMPLETED}
        rt.close()
        return {
            "workers": workers,
            "requests": count,
            "seconds": round(elapsed, 2),
            "per_second": round(count / elapsed, 1),
            "latency_median_s": round(statistics.median(latencies), 3),
            "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        }
    finally:
        drop_database(engine_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--shop-rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    from datasteward.shop import load

    shop_url = create_database("steward_bench_shop")
    try:
        load(shop_url, args.shop_rows, replace=True)
        with tempfile.TemporaryDirectory(prefix="steward-bench-") as scratch:
            for workers in args.workers:
                print(json.dumps(run(workers, args.requests, shop_url, Path(scratch))), flush=True)
    finally:
        drop_database(shop_url)


if __name__ == "__main__":
    main()
