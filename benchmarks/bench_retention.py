"""Retention sweeps on a large access log, against one raw statement.

Targets: on a 10,000,000-row access log with 30 % of its rows past
retention (PostgreSQL; 2,000,000 rows on MariaDB, whose bulk load is much
slower), the sweep anonymises (``access-log-ip-7d``: IP addresses cut to
their network) and deletes (``access-log-1y``) with at least 0.8x the
throughput of one raw ``UPDATE`` / ``DELETE`` doing the same work, no batch
transaction longer than 1 s, and flat memory (peak RSS during the sweep
less than 64 MB above its start)::

    python benchmarks/bench_retention.py --backend postgresql --rows 10000000
    python benchmarks/bench_retention.py --backend mariadb --rows 2000000 --repeat 3

A scratch database ``steward_bench_<hex>`` is created on ``--admin-url``
(default: ``STEWARD_TEST_POSTGRES_URL`` / ``STEWARD_TEST_MARIADB_URL``) and
dropped at the end. The log is generated on the server (``INSERT ...
SELECT`` from ``generate_series`` or MariaDB's ``seq_1_to_N``) into a
source table; each repetition copies it into two identical tables, the
sweep's (``access_log``) and the raw statements' (``access_log_raw``), so
both start from the same rows, indexes and statistics. The ids follow the
time, as in a real log: the oldest 30 % are past both periods. Addresses
are IPv4 (``--ipv6-share`` mixes IPv6 in, which the sweep shortens in
Python and the raw PostgreSQL statement with ``inet``). After each phase
the two tables are compared row by row: the sweep must have done exactly
what the raw statement did. The sweep's engine store is SQLite, the
embedded default, so its per-batch progress writes are included.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex, CreateTable

from datasteward.clock import FixedClock
from datasteward.connectors import SqlConnector
from datasteward.policy.model import Policy, Suspension
from datasteward.retention import DEFAULT_BATCH_SIZE, Sweeper
from datasteward.retention.engine_store import SqlSweepProgress
from datasteward.retention.ports import HeldSubjects
from datasteward.retention.sql import SqlRetentionBackend
from datasteward.retention.sql_conditions import IPV4_PATTERN
from datasteward.shop.schema import shop_table
from datasteward.store import migrate
from datasteward.store.engine import make_engine
from datasteward.store.sql_store import SqlEngineStore

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
DUE_SHARE = 0.30
RATIO_TARGET = 0.8
BATCH_TARGET_S = 1.0
RSS_TARGET_MB = 64.0


@dataclass
class Figures:
    sweep_s: float
    raw_s: float
    rows: int
    longest_batch_s: float
    batches: int
    rss_start_mb: float
    rss_peak_mb: float

    @property
    def ratio(self) -> float:
        return self.raw_s / self.sweep_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "sweep_s": round(self.sweep_s, 2),
            "raw_s": round(self.raw_s, 2),
            "sweep_rows_per_s": round(self.rows / self.sweep_s),
            "raw_rows_per_s": round(self.rows / self.raw_s),
            "ratio": round(self.ratio, 3),
            "batches": self.batches,
            "longest_batch_s": round(self.longest_batch_s, 3),
            "rss_start_mb": round(self.rss_start_mb, 1),
            "rss_peak_mb": round(self.rss_peak_mb, 1),
        }


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def scratch(backend: str, admin_url: str) -> Iterator[str]:
    name = f"steward_bench_{secrets.token_hex(6)}"
    quote = '"' if backend == "postgresql" else "`"
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {quote}{name}{quote}")
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                if backend == "postgresql":
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :n AND pid <> pg_backend_pid()"
                        ),
                        {"n": name},
                    )
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{name}{quote}")
    finally:
        admin.dispose()


# -- the log ------------------------------------------------------------------------------


def _tables(name: str) -> tuple[Any, list[Any]]:
    """``access_log`` of the shop under another name, with its indexes."""
    metadata = MetaData()
    shop_table("customers").to_metadata(metadata)
    table = shop_table("access_log").to_metadata(metadata, name=name)
    indexes = list(table.indexes)
    for index in indexes:
        index.name = f"{index.name}_{name}"
    for constraint in table.foreign_key_constraints:  # names are per database on MariaDB
        constraint.name = f"fk_{name}_customer_id"
    table.indexes.clear()
    return table, indexes


def _generate_sql(backend: str, rows: int, ipv6_share: float) -> str:
    cut = int(rows * DUE_SHARE)
    six = int(rows * (1 - ipv6_share))  # rows from here on are IPv6
    if backend == "postgresql":
        v4 = (
            "((g * 7) % 223 + 1)::text || '.' || ((g * 13) % 256)::text || '.' || "
            "((g * 17) % 256)::text || '.' || ((g * 31) % 254 + 1)::text"
        )
        v6 = (
            "'2001:db8:' || to_hex((g * 7) % 65536) || ':' || to_hex((g * 11) % 65535 + 1) "
            "|| '::' || to_hex(g % 4095 + 1)"
        )
        return f"""
            INSERT INTO access_log_src
            SELECT g,
                   CASE WHEN g % 1000 < {int(ipv6_share * 1000)} THEN {v6} ELSE {v4} END,
                   'Mozilla/5.0 (bench ' || (g % 50) || ')', '/p/' || (g % 1000), NULL,
                   CASE WHEN g <= {cut}
                        THEN timestamp '2026-11-02' - interval '400 days'
                             - ({cut} - g) * interval '1 second'
                        ELSE timestamp '2026-11-02' - interval '6 days'
                             + (g - {cut}) * interval '50 milliseconds' END,
                   NULL
            FROM generate_series(1, {rows}) AS g"""
    del six
    v4 = (
        "CONCAT(MOD(seq * 7, 223) + 1, '.', MOD(seq * 13, 256), '.', MOD(seq * 17, 256), '.', "
        "MOD(seq * 31, 254) + 1)"
    )
    return f"""
        INSERT INTO access_log_src
        SELECT seq, {v4}, CONCAT('Mozilla/5.0 (bench ', MOD(seq, 50), ')'),
               CONCAT('/p/', MOD(seq, 1000)), NULL,
               IF(seq <= {cut},
                  TIMESTAMP '2026-11-02 00:00:00' - INTERVAL 400 DAY
                      - INTERVAL ({cut} - seq) SECOND,
                  TIMESTAMP '2026-11-02 00:00:00' - INTERVAL 6 DAY
                      + INTERVAL ((seq - {cut}) * 50000) MICROSECOND),
               NULL
        FROM seq_1_to_{rows}"""


def generate(engine: Engine, backend: str, rows: int, ipv6_share: float) -> float:
    if backend != "postgresql" and ipv6_share:
        raise SystemExit("--ipv6-share is measured on PostgreSQL only")
    started = time.perf_counter()
    source, _ = _tables("access_log_src")
    with engine.begin() as connection:
        connection.execute(CreateTable(shop_table("customers")))
        connection.execute(CreateTable(source, include_foreign_key_constraints=[]))
        connection.execute(text(_generate_sql(backend, rows, ipv6_share)))
    return time.perf_counter() - started


def copy_tables(engine: Engine, backend: str) -> float:
    """Fresh ``access_log`` and ``access_log_raw`` from the source, indexed."""
    started = time.perf_counter()
    for name in ("access_log", "access_log_raw"):
        table, indexes = _tables(name)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            connection.execute(CreateTable(table))
            connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM access_log_src")
            for index in indexes:
                connection.execute(CreateIndex(index))
    analyse(engine, backend)
    return time.perf_counter() - started


def analyse(engine: Engine, backend: str) -> None:
    if backend == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE access_log")
            connection.exec_driver_sql("VACUUM ANALYZE access_log_raw")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE TABLE access_log, access_log_raw")


# -- the two sides ------------------------------------------------------------------------


def policy(rule: str, url_env: str) -> Policy:
    data = yaml.safe_load((ROOT / "examples" / "shop" / "policy.yaml").read_text("utf-8"))
    data = copy.deepcopy(data)
    data["retention_rules"] = [r for r in data["retention_rules"] if r["id"] == rule]
    data["systems"][0]["url_env"] = url_env
    return Policy.model_validate(data)


class NoSubjects:
    def held(self, suspensions: frozenset[Suspension], at: datetime) -> HeldSubjects:
        raise AssertionError("the access-log rules check no subjects")


def sweep(
    url: str, rule: str, home: Path, batch_size: int
) -> tuple[float, int, float, int, float, float]:
    store_engine = make_engine(f"sqlite:///{home / f'engine-{secrets.token_hex(3)}.sqlite'}")
    migrate.upgrade(store_engine)
    the_policy = policy(rule, "BENCH_URL")
    backend = SqlRetentionBackend(the_policy, lambda system: SqlConnector(system, url))
    sweeper = Sweeper(
        the_policy,
        backend=backend,
        progress=SqlSweepProgress(SqlEngineStore(store_engine)),
        subjects=NoSubjects(),
        clock=FixedClock(AT),
        hash_key=b"\0" * 32,
        actor="bench",
    )
    start_rss = rss_mb()
    peak = [start_rss]

    def sample(_entry: Any) -> None:
        peak[0] = max(peak[0], rss_mb())

    try:
        started = time.perf_counter()
        report = sweeper.run(batch_size=batch_size, on_batch=sample)
        elapsed = time.perf_counter() - started
    finally:
        backend.close()
        store_engine.dispose()
    assert report.complete, report.reasons
    unit = report.units[0]
    return elapsed, unit.rows_done, unit.longest_batch, unit.batches, start_rss, peak[0]


def raw(engine: Engine, backend: str, phase: str, ipv6_share: float) -> tuple[float, int]:
    """One statement doing what the sweep does, in one transaction."""
    if phase == "anonymise":
        cutoff = (AT - timedelta(days=7)).replace(tzinfo=None)
        if backend == "postgresql":
            shorten = "rtrim(ip_address, '0123456789') || '0'"
            where_v4 = "ip_address ~ :v4 AND ip_address NOT LIKE '%%.0'"
            if ipv6_share:
                sql = (
                    "UPDATE access_log_raw SET ip_address = CASE WHEN ip_address ~ :v4 "
                    f"THEN {shorten} ELSE host(network(set_masklen(ip_address::inet, 48))) END "
                    f"WHERE occurred_at <= :cutoff AND (({where_v4}) OR ip_address LIKE '%%:%%')"
                )
            else:
                sql = (
                    f"UPDATE access_log_raw SET ip_address = {shorten} "
                    f"WHERE occurred_at <= :cutoff AND {where_v4}"
                )
        else:
            sql = (
                "UPDATE access_log_raw SET ip_address = "
                "CONCAT(SUBSTRING_INDEX(ip_address, '.', 3), '.0') "
                "WHERE occurred_at <= :cutoff AND ip_address REGEXP :v4 "
                "AND ip_address NOT LIKE '%%.0'"
            )
        params: dict[str, Any] = {"cutoff": cutoff, "v4": IPV4_PATTERN}
    else:
        sql = "DELETE FROM access_log_raw WHERE occurred_at <= :cutoff"
        params = {"cutoff": (AT - timedelta(days=365)).replace(tzinfo=None)}
    started = time.perf_counter()
    with engine.begin() as connection:
        count = connection.execute(text(sql.replace("%%", "%")), params).rowcount
    return time.perf_counter() - started, int(count)


def same(engine: Engine) -> int:
    """Rows in which the two tables differ (none, if the sweep did what the raw statement did)."""
    sql = """
        SELECT
          (SELECT COUNT(*) FROM access_log a JOIN access_log_raw r ON r.id = a.id
            WHERE a.ip_address <> r.ip_address)
        + (SELECT COUNT(*) FROM access_log a WHERE NOT EXISTS
            (SELECT 1 FROM access_log_raw r WHERE r.id = a.id))
        + (SELECT COUNT(*) FROM access_log_raw r WHERE NOT EXISTS
            (SELECT 1 FROM access_log a WHERE a.id = r.id))"""
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(sql).scalar_one())


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "mariadb"], default="postgresql")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--ipv6-share", type=float, default=0.0)
    parser.add_argument("--admin-url", default=None)
    args = parser.parse_args(argv)
    env = (
        "STEWARD_TEST_POSTGRES_URL" if args.backend == "postgresql" else "STEWARD_TEST_MARIADB_URL"
    )
    admin = args.admin_url or os.environ.get(env)
    if not admin:
        parser.error(f"give --admin-url or set {env}")
    results: dict[str, list[Figures]] = {"anonymise": [], "delete": []}
    with scratch(args.backend, admin) as url, tempfile.TemporaryDirectory() as home:
        engine = create_engine(url)
        try:
            load_s = generate(engine, args.backend, args.rows, args.ipv6_share)
            print(f"generated {args.rows:,} rows in {load_s:.1f} s", file=sys.stderr)
            for rep in range(args.repeat):
                copy_s = copy_tables(engine, args.backend)
                print(f"rep {rep + 1}: tables copied in {copy_s:.1f} s", file=sys.stderr)
                for phase, rule in (("anonymise", "access-log-ip-7d"), ("delete", "access-log-1y")):
                    raw_s, raw_rows = raw(engine, args.backend, phase, args.ipv6_share)
                    swept = sweep(url, rule, Path(home), args.batch_size)
                    elapsed, rows, longest, batches, rss0, rss1 = swept
                    assert rows == raw_rows, (phase, rows, raw_rows)
                    differing = same(engine)
                    assert differing == 0, f"{phase}: {differing} rows differ"
                    figures = Figures(elapsed, raw_s, rows, longest, batches, rss0, rss1)
                    results[phase].append(figures)
                    print(
                        f"rep {rep + 1} {phase}: {json.dumps(figures.to_dict())}", file=sys.stderr
                    )
                    analyse(engine, args.backend)
        finally:
            engine.dispose()
    summary: dict[str, Any] = {
        "backend": args.backend,
        "rows": args.rows,
        "batch_size": args.batch_size,
        "ipv6_share": args.ipv6_share,
        "repeat": args.repeat,
    }
    met = True
    for phase, runs in results.items():
        ratio = statistics.median(f.ratio for f in runs)
        longest = max(f.longest_batch_s for f in runs)
        growth = max(f.rss_peak_mb - f.rss_start_mb for f in runs)
        ok = ratio >= RATIO_TARGET and longest < BATCH_TARGET_S and growth < RSS_TARGET_MB
        met &= ok
        summary[phase] = {
            "median_sweep_s": round(statistics.median(f.sweep_s for f in runs), 2),
            "median_raw_s": round(statistics.median(f.raw_s for f in runs), 2),
            "rows": runs[0].rows,
            "median_ratio": round(ratio, 3),
            "longest_batch_s": round(longest, 3),
            "rss_growth_mb": round(growth, 1),
            "peak_rss_mb": round(max(f.rss_peak_mb for f in runs), 1),
            "max_rss_mb_process": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
            "target_met": ok,
        }
    print(json.dumps(summary, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
