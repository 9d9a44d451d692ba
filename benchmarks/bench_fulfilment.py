"""One subject's access and erasure on the generated example shop (PostgreSQL).

Targets (10,000,000 rows in the shop): access (plan, queries, encrypted
package) under 300 ms and erasure under 500 ms for one customer; the same
figures at 100,000 rows differ by less than 2x; access for a customer who
owns 1,000,000 rows streams with peak memory under 300 MB.

Each figure is printed beside a *floor*: the raw indexed SELECTs that gather
the same customer's rows from every table, issued directly with psycopg on
one open connection, so the ratio shows what the engine adds::

    python benchmarks/bench_fulfilment.py --rows 100000
    python benchmarks/bench_fulfilment.py --rows 10000000 --url postgresql://... --skip-load
    python benchmarks/bench_fulfilment.py --rows 100000 --heavy 1000000

Without ``--url`` a database ``bench_ful_<hex>`` is created on
``--admin-url`` and dropped at the end. Erasure is destructive, so every
erasure run uses a different customer; access runs repeat on the same ones.
``--profile`` prints where the time goes (cProfile) on one access and one
erasure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from datasteward.clock import FixedClock
from datasteward.connectors import SqlConnector, sql_connectors
from datasteward.crypto import Keyring, MasterKey
from datasteward.fulfilment.plan import PlanKind
from datasteward.fulfilment.service import Fulfilment, _identity_values, erasure_hash_key
from datasteward.identity import Identity, parse_identity
from datasteward.packages import dataset_fields
from datasteward.policy import load_policy_file
from datasteward.policy.model import Policy
from datasteward.shop import add_heavy_customer, load

POLICY_FILE = Path(__file__).resolve().parents[1] / "examples" / "shop" / "policy.yaml"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACCESS_TARGET = 0.300
ERASURE_TARGET = 0.500
HEAVY_TARGET_MB = 300.0

# Customers with orders, a newsletter subscription and access-log rows, open
# and not restricted: the subject the targets speak of.
_CUSTOMERS = """
    SELECT c.email FROM customers c
    WHERE c.closed_at IS NULL AND c.restricted = false
      AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)
      AND EXISTS (SELECT 1 FROM newsletter_subscribers s WHERE s.customer_id = c.id)
      AND EXISTS (SELECT 1 FROM access_log a WHERE a.customer_id = c.id)
    ORDER BY c.id LIMIT %(n)s OFFSET %(offset)s"""

# The floor: every row of the customer, by hand, on the shop's indexes.
_FLOOR = (
    "SELECT * FROM addresses WHERE customer_id = %(cid)s",
    "SELECT * FROM orders WHERE customer_id = %(cid)s OR billing_email = %(email)s",
    "SELECT * FROM order_items WHERE order_id IN "
    "(SELECT id FROM orders WHERE customer_id = %(cid)s OR billing_email = %(email)s)",
    "SELECT * FROM payments WHERE order_id IN "
    "(SELECT id FROM orders WHERE customer_id = %(cid)s OR billing_email = %(email)s)",
    "SELECT * FROM newsletter_subscribers WHERE email = %(email)s OR customer_id = %(cid)s",
    "SELECT * FROM newsletter_events WHERE subscriber_id IN "
    "(SELECT id FROM newsletter_subscribers WHERE email = %(email)s OR customer_id = %(cid)s)",
    "SELECT * FROM contact_messages WHERE email = %(email)s",
    "SELECT * FROM access_log WHERE customer_id = %(cid)s",
    "SELECT * FROM sellers WHERE email = %(email)s",
    "SELECT * FROM seller_documents WHERE seller_id IN "
    "(SELECT id FROM sellers WHERE email = %(email)s)",
)


# -- helpers ------------------------------------------------------------------------------


def _libpq(url: str) -> str:
    """The URL as psycopg wants it (no ``+psycopg`` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _database(admin_url: str) -> Iterator[str]:
    name = f"bench_ful_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _keyring() -> Keyring:
    key = MasterKey.generate()
    return Keyring([key], key.kid)


def _service(url: str, policy: Policy, keyring: Keyring, home: Path) -> Fulfilment:
    return Fulfilment(
        policy,
        connectors=sql_connectors({"SHOP_DATABASE_URL": url}),
        keyring=keyring,
        home=home,
        clock=FixedClock(NOW),
        hash_key=erasure_hash_key(keyring),
    )


def _email(address: str) -> list[Identity]:
    return [parse_identity(f"email:{address}")]


def _customers(url: str, n: int, offset: int) -> list[str]:
    with psycopg.connect(_libpq(url)) as conn:
        found = conn.execute(_CUSTOMERS, {"n": n, "offset": offset}).fetchall()
        return [str(r[0]) for r in found]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _each(fn: Callable[[str], object], emails: Sequence[str]) -> list[float]:
    """Seconds ``fn(email)`` took, for each email in turn."""
    seconds: list[float] = []
    for email in emails:
        start = time.perf_counter()
        fn(email)
        seconds.append(time.perf_counter() - start)
    return seconds


def _cold(
    url: str,
    policy: Policy,
    keyring: Keyring,
    home: Path,
    request: Callable[[Fulfilment, Sequence[Identity]], None],
) -> Callable[[str], None]:
    """``request`` on a Fulfilment made for it and closed after it."""

    def run(email: str) -> None:
        with _service(url, policy, keyring, home) as service:
            request(service, _email(email))

    return run


def _shared_reflection(
    url: str, policy: Policy, keyring: Keyring, home: Path
) -> Callable[[str], None]:
    """Prototype of fix 1: a new Fulfilment (new engine, first connection)
    per request, but the schema reflected once and handed to every new
    connector, as a process-wide reflection cache would."""
    env = {"SHOP_DATABASE_URL": url}
    reflected: dict[str, Any] = {}

    def build(system: Any) -> SqlConnector | None:
        connector = sql_connectors(env)(system)
        if connector is not None:
            if system.id not in reflected:
                reflected[system.id] = connector.reflection()
            connector._reflection = reflected[system.id]
        return connector

    def run(email: str) -> None:
        service = Fulfilment(
            policy,
            connectors=build,
            keyring=keyring,
            home=home,
            clock=FixedClock(NOW),
            hash_key=erasure_hash_key(keyring),
        )
        with service:
            access(service, _email(email))

    return run


def _stats(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  "
        f"min {ordered[0] * 1000:8.1f} ms  (n={len(ordered)})"
    )


def _med(samples: Sequence[float]) -> float:
    return statistics.median(samples)


# -- the measured paths -------------------------------------------------------------------


def floor(conn: psycopg.Connection[Any], email: str) -> int:
    """The raw SELECTs of one customer's rows; returns the rows read."""
    found = conn.execute("SELECT * FROM customers WHERE email = %(email)s", {"email": email})
    rows = found.fetchall()
    cid = rows[0][0] if rows else -1
    total = len(rows)
    for sql in _FLOOR:
        total += len(conn.execute(sql, {"email": email, "cid": cid}).fetchall())
    conn.rollback()
    return total


def query_only(service: Fulfilment, identities: Sequence[Identity]) -> int:
    """The reads of :meth:`Fulfilment.access` without plan or package: the
    same connections and row streams, every row read and dropped."""
    kinds = {i.kind for i in identities}
    values = _identity_values(identities)
    read = 0
    with ExitStack() as stack:
        connections: list[tuple[Any, Connection]] = []
        for system in service._connected_systems():
            target = service._target(system.id, kinds)
            conn = stack.enter_context(target.connector.connect(readonly=True))
            connections.append((target, conn))
        for section in service._sections(connections, values, None):
            for _ in section.rows:
                read += 1
    return read


def query_buffered(service: Fulfilment, identities: Sequence[Identity]) -> int:
    """Prototype: the engine's own compiled SELECTs for every dataset, run on
    one connection and fetched whole (no server-side cursor, so one round
    trip per dataset instead of DECLARE, FETCH and CLOSE). It shows what the
    streaming costs for a subject with a few rows; a real fix would fetch
    the first batch buffered and switch to a cursor only for large results."""
    kinds = {i.kind for i in identities}
    values = _identity_values(identities)
    read = 0
    for system in service._connected_systems():
        target = service._target(system.id, kinds)
        connector = target.connector
        assert isinstance(connector, SqlConnector)
        with connector.connect(readonly=True) as conn:
            datasets = [loc.dataset for loc in target.scope.locators]
            query = connector._query(conn, target.scope, values, datasets)
            for dataset in datasets:
                fields = dataset_fields(service.policy, system.id, dataset)
                if not fields or query.empty(dataset):
                    continue
                statement = query.rows(dataset, [f.name for f in fields])
                read += len(conn.execute(statement).all())
    return read


def access(service: Fulfilment, identities: Sequence[Identity]) -> None:
    plan, _stored = service.access(identities)
    assert plan.ok


def erase(service: Fulfilment, identities: Sequence[Identity]) -> None:
    report = service.erase(identities)
    assert report.datasets, "nothing erased"


def _profile(label: str, fn: Callable[[], object], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\n--- profile: {label} (cumulative) ---")
    print("\n".join(out.getvalue().splitlines()[: top + 12]))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\n--- profile: {label} (own time) ---")
    print("\n".join(out.getvalue().splitlines()[: top + 12]))


# -- the heavy subject, in its own process ------------------------------------------------


def heavy_child(url: str, email: str) -> None:
    """Run one access for ``email`` and print peak RSS before and after (MB)."""
    policy = load_policy_file(POLICY_FILE).policy
    keyring = _keyring()
    with tempfile.TemporaryDirectory() as home:
        service = _service(url, policy, keyring, Path(home))
        with service:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            start = time.perf_counter()
            plan, stored = service.access(_email(email))
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rows = sum(d.rows or 0 for s in plan.systems for d in s.datasets)
            size = sum(p.stat().st_size for p in Path(home).rglob("*") if p.is_file())
    print(
        json.dumps(
            {
                "rss_before_mb": before,
                "peak_rss_mb": after,
                "seconds": seconds,
                "rows": rows,
                "stored_bytes": size,
                "package": stored.package_id,
            }
        )
    )


def run_heavy(url: str, rows: int) -> None:
    print(f"adding a heavy customer with {rows:,} rows ...", flush=True)
    start = time.perf_counter()
    email = add_heavy_customer(url, rows)
    print(f"  added in {time.perf_counter() - start:.1f} s")
    result = subprocess.run(
        [sys.executable, __file__, "--heavy-child", email, "--url", url],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    verdict = "met" if figures["peak_rss_mb"] < HEAVY_TARGET_MB else "NOT met"
    print(
        f"heavy access: {figures['rows']:,} rows in {figures['seconds']:.1f} s, "
        f"RSS after imports {figures['rss_before_mb']:.0f} MB, "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB (target < {HEAVY_TARGET_MB:.0f} MB: "
        f"{verdict}), stored package {figures['stored_bytes'] / 1e6:.1f} MB"
    )
    with psycopg.connect(_libpq(url)) as conn:
        t = _timed(lambda: floor(conn, email))
    print(f"heavy floor (raw SELECTs, fetchall): {t:.2f} s")


# -- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, url: str) -> None:
    if not args.skip_load:
        print(f"loading {args.rows:,} rows ...", flush=True)
        start = time.perf_counter()
        load(url, args.rows, seed=args.seed, replace=True)
        print(f"  loaded in {time.perf_counter() - start:.1f} s")
    # A freshly bulk-loaded table has no statistics until autovacuum gets to
    # it; without them PostgreSQL may scan instead of using the indexes.
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("ANALYZE")
    policy = load_policy_file(POLICY_FILE).policy
    keyring = _keyring()
    k, r = args.subjects, args.repeat
    emails = _customers(url, k + k * r + 2, args.offset)
    if len(emails) < k + k * r + 2:
        raise SystemExit(f"only {len(emails)} suitable customers; lower --subjects/--repeat")
    readers, erased, spare = emails[:k], emails[k : k + k * r], emails[k + k * r :]
    print(f"{k} access subjects x {r} runs; {k * r} distinct erasure subjects")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        # Floor: raw psycopg on one warm connection.
        with psycopg.connect(_libpq(url)) as conn:
            for email in readers:
                floor(conn, email)  # warm the cache
            floors = _each(lambda e: floor(conn, e), readers * r)
            counts = [floor(conn, e) for e in readers]
        print(f"subject rows (floor count): {counts}")

        results: dict[str, list[float]] = {}
        # Warm: one long-lived Fulfilment (reflection cached), as a server runs it.
        with _service(url, policy, keyring, home) as service:
            access(service, _email(spare[0]))  # warm-up: reflection, pool
            warm: dict[str, Callable[[str], object]] = {
                "plan (access) warm": lambda e: service.plan(PlanKind.ACCESS, _email(e)),
                "queries only warm": lambda e: query_only(service, _email(e)),
                "queries buffered warm": lambda e: query_buffered(service, _email(e)),
                "access warm": lambda e: access(service, _email(e)),
            }
            for name, fn in warm.items():
                results[name] = _each(fn, readers * r)
            results["erasure warm"] = _each(
                lambda e: erase(service, _email(e)), erased[: len(erased) // 2]
            )
            if args.profile:
                _profile("access warm", lambda: access(service, _email(readers[0])), args.top)
                _profile("erasure warm", lambda: erase(service, _email(spare[1])), args.top)
        # Cold: a new Fulfilment per request (new engine, new reflection).
        results["access cold"] = _each(_cold(url, policy, keyring, home, access), readers)
        shared = _shared_reflection(url, policy, keyring, home)
        shared(spare[0])  # reflect once
        results["access cold, shared reflection"] = _each(shared, readers)
        results["erasure cold"] = _each(
            _cold(url, policy, keyring, home, erase), erased[len(erased) // 2 :]
        )

    base = _med(floors)
    print(f"\nshop rows: {args.rows:,}  (PostgreSQL; 2 shared CPUs)")
    print(f"{'floor (raw SELECTs)':<30} {_stats(floors)}")
    for name, samples in results.items():
        ratio = _med(samples) / base if base else float("nan")
        print(f"{name:<30} {_stats(samples)}  {ratio:6.1f}x floor")
    for name, target in (("access warm", ACCESS_TARGET), ("erasure warm", ERASURE_TARGET)):
        verdict = "met" if _med(results[name]) < target else "NOT met"
        print(f"target {name} < {target * 1000:.0f} ms: {verdict}")
    if args.heavy:
        run_heavy(url, args.heavy)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the shop")
    parser.add_argument("--url", help="shop database URL (default: a new bench_ful_<hex>)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="where to create the scratch database when --url is not given",
    )
    parser.add_argument("--subjects", type=int, default=5, help="customers measured")
    parser.add_argument("--repeat", type=int, default=3, help="runs per customer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--offset",
        type=int,
        default=0,
        help="skip this many suitable customers (a rerun with --skip-load must not "
        "pick customers an earlier run erased)",
    )
    parser.add_argument("--skip-load", action="store_true", help="the shop at --url is loaded")
    parser.add_argument("--heavy", type=int, default=0, metavar="ROWS", help="heavy customer")
    parser.add_argument("--profile", action="store_true", help="cProfile one access, one erasure")
    parser.add_argument("--top", type=int, default=25, help="profile lines")
    parser.add_argument("--heavy-child", metavar="EMAIL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.heavy_child:
        heavy_child(args.url, args.heavy_child)
        return 0
    if args.url:
        run(args, args.url)
    else:
        with _database(args.admin_url) as url:
            run(args, url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
