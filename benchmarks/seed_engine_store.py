"""Shared setup for the engine benchmarks: a real, migrated engine store with a
real policy applied, filled in bulk with many data subjects.

The measured operations in ``bench_consent.py`` and ``bench_audit_verify.py``
go through the engine's own code. Only the setup takes a short cut: a million
subjects created one ``give`` at a time would take longer than every
benchmark together, so rows are written straight to the tables in large
batches (``executemany`` on SQLite, ``COPY`` on PostgreSQL). They are the
rows the engine itself would write: identities carry real blind indexes from
a :class:`Keyring` and values sealed under each subject's own data key, data
keys are wrapped into the key store, and both hash chains (consent and audit)
are linked with :func:`datasteward.audit.chain.row_hash` in the field order of
``datasteward.store.chains`` with their heads moved to the last row, so
``steward audit verify`` accepts the result.

Run on its own it creates a store and leaves it for later runs::

    python benchmarks/seed_engine_store.py --backend sqlite --subjects 1000000 --dir /tmp/s
    python benchmarks/seed_engine_store.py --backend postgres --subjects 1000000 \\
        --pg-database steward_bench_keep

The master key is derived from a fixed text: benchmark stores are throwaway,
and a fixed key lets a later run find the seeded subjects by identity.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import shlex
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from datasteward.audit.chain import row_hash
from datasteward.clock import FixedClock, SystemClock
from datasteward.consent.service import ConsentLedger
from datasteward.crypto import Keyring, MasterKey, new_data_key, seal
from datasteward.identity import Identity
from datasteward.legaltime.instants import format_time
from datasteward.policy import parse_policy
from datasteward.policy.active import load_active_policy
from datasteward.policy.apply import apply_policy
from datasteward.store import chains, migrate
from datasteward.store.engine import make_engine
from datasteward.store.keystore import SqlKeyStore
from datasteward.store.sql_store import SqlEngineStore
from datasteward.subjects.service import SubjectDirectory

__all__ = [
    "BENCH_POLICY",
    "PG_ADMIN_URL",
    "PURPOSES",
    "BenchStore",
    "SeedStats",
    "add_store_arguments",
    "email_of",
    "machine_facts",
    "median",
    "open_bench_store",
    "peak_rss_mib",
    "seed",
    "stores_from_args",
    "subject_identity",
]

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ACTOR = "bench:seed"
CHUNK = 20_000
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=450)

BENCH_POLICY = """\
datasteward: 1
version: "bench-1"
effective_date: 2024-12-01
controller:
  legal_name: SIA "Zaļā Pļava"
  registration_number: 40000000001
  registered_address: Lauku iela 1, Rīga, LV-1001
  country: LV
  contact_email: privacy@zala-plava.example
  time_zone: Europe/Riga
  supervisory_authority:
    name: Data State Inspectorate (DVI)
    url: https://www.dvi.gov.lv/
    country: LV
data_subjects:
  - id: customer
    name: Customers
data_categories:
  - id: email
    name: Email address
    dpv: pd:EmailAddress
  - id: name
    name: Name
  - id: usage
    name: Pages visited and clicks
purposes:
  - id: orders
    name: Handling orders
    legal_bases: [contract]
    requirement:
      kind: contract_prerequisite
      consequence: We cannot deliver your order.
  - id: fraud-prevention
    name: Preventing payment fraud
    legal_bases: [legitimate_interest]
    legitimate_interest: Not losing money to stolen cards, and protecting our customers.
  - id: newsletter
    name: Newsletter
    legal_bases: [consent]
    direct_marketing: true
    consent:
      mechanism: double_opt_in
      withdrawal_channels: [unsubscribe_link, privacy_center]
  - id: analytics
    name: Website analytics
    legal_bases: [consent]
    consent:
      mechanism: banner
      withdrawal_channels: [same_as_given, privacy_center]
      expires_after: P1Y
  - id: postal-offers
    name: Offers by post to existing customers
    legal_bases: [legitimate_interest]
    legitimate_interest: Telling existing customers about products like the ones they bought.
    direct_marketing: true
processing_activities:
  - id: shop
    name: Online shop orders
    purposes: [orders, fraud-prevention]
    data_categories: [email, name]
    data_subjects: [customer]
    systems: [shopdb]
    retention: [orders-5y]
  - id: mailing
    name: Newsletter and postal offers
    purposes: [newsletter, postal-offers]
    data_categories: [email, name]
    data_subjects: [customer]
    retention: [marketing-end]
  - id: web-analytics
    name: Website analytics
    purposes: [analytics]
    data_categories: [usage]
    data_subjects: [customer]
    retention: [usage-14m]
retention_rules:
  - id: orders-5y
    data_categories: [email, name]
    anchor: {event: contract_ended}
    period: P5Y
  - id: marketing-end
    data_categories: [email, name]
    anchor: {event: subscription_ended}
    period: P1M
  - id: usage-14m
    data_categories: [usage]
    anchor: {event: collected}
    period: P14M
systems:
  - id: shopdb
    name: Shop database
    connector: sqlite
    url_env: SHOP_DATABASE_URL
    country: LV
    datasets:
      - name: customers
        identity_fields: [{field: email, kind: email}]
        fields:
          - {name: email, category: email, erasure: keyed_hash}
          - {name: full_name, category: name}
"""
"""Five purposes: contract, legitimate interest, consent with direct
marketing, consent that expires, and legitimate-interest direct marketing."""

PURPOSES = ("orders", "fraud-prevention", "newsletter", "analytics", "postal-offers")
CONSENT_PURPOSES = ("newsletter", "analytics")


def bench_keyring() -> Keyring:
    secret = hashlib.sha256(b"datasteward benchmark master key, not for real data").digest()
    return Keyring([MasterKey("bench-1", secret)], "bench-1")


def email_of(index: int) -> str:
    """The email of seeded subject number ``index``, already canonical
    (:func:`seed` checks that once), so seeding skips the validator's cost."""
    return f"person{index:07d}@bench.example"


def subject_identity(index: int) -> Identity:
    """The identity of seeded subject number ``index``, as a caller would pass it."""
    return Identity("email", email_of(index))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the store -----------------------------------------------------------------


@dataclass
class BenchStore:
    """One engine store and its key store, wired like ``steward`` wires them."""

    backend: str
    url: str
    keystore_url: str
    owned: bool
    cleanup: list[str] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __post_init__(self) -> None:
        self.keyring = bench_keyring()
        self.engine = make_engine(self.url)
        self.store = SqlEngineStore(self.engine)
        self.keystore_engine = make_engine(self.keystore_url, secure_delete=True)
        self.keystore = SqlKeyStore(self.keystore_engine)
        self.clock = SystemClock()
        self.directory = SubjectDirectory(self.keyring, self.keystore, self.clock)
        self.ledger = ConsentLedger(self.store, self.directory, self.clock)

    def head_seq(self, chain: str) -> int:
        with self.store.reading() as tx:
            return chains.read_head(tx.connection, chains.CHAINS[chain]).seq

    def subject_count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM subjects")).scalar_one())

    def subject_ids(self) -> list[str]:
        """Every subject id, in creation order of the seeded identities."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT subject_id FROM identities ORDER BY id")
            ).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        self.engine.dispose()
        self.keystore_engine.dispose()
        if self.owned:
            if self.backend == "postgres":
                for name in self.cleanup:
                    drop_pg_database(name)
            if self._tmp is not None:
                self._tmp.cleanup()


def create_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def open_bench_store(
    backend: str, *, directory: str | None = None, pg_database: str | None = None
) -> BenchStore:
    """Open an existing benchmark store, or create one (owned: removed on close).

    A new store is migrated with Alembic and the benchmark policy is applied
    through :func:`apply_policy`, exactly as ``steward init`` and
    ``steward policy apply`` do."""
    if backend == "sqlite":
        tmp = None
        if directory is None:
            tmp = tempfile.TemporaryDirectory(prefix="steward_bench_")
            directory = tmp.name
        Path(directory).mkdir(parents=True, exist_ok=True)
        engine_file = Path(directory) / "engine.sqlite"
        fresh = not engine_file.exists()
        bench = BenchStore(
            "sqlite",
            f"sqlite:///{engine_file}",
            f"sqlite:///{Path(directory) / 'keys.sqlite'}",
            owned=tmp is not None,
            _tmp=tmp,
        )
    elif backend == "postgres":
        owned = pg_database is None
        name = pg_database or f"steward_bench_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        fresh = exists is None
        if fresh:
            create_pg_database(name)
            create_pg_database(name + "_keys")
        bench = BenchStore("postgres", pg_url(name), pg_url(name + "_keys"), owned=owned)
        bench.cleanup = [name, name + "_keys"]
    else:
        raise SystemExit(f"unknown backend {backend!r}")
    if fresh:
        migrate.upgrade(bench.engine)
        migrate.init_keystore(bench.keystore_engine)
        loaded = parse_policy(BENCH_POLICY, "bench-policy.yaml")
        apply_policy(
            bench.store,
            loaded,
            actor=ACTOR,
            clock=FixedClock(BASE_TIME - timedelta(days=1)),
        )
    return bench


# -- bulk seeding ----------------------------------------------------------------


@dataclass
class SeedStats:
    subjects: int = 0
    consent_events: int = 0
    audit_events: int = 0
    objections: int = 0
    restrictions: int = 0
    seconds: float = 0.0


@dataclass
class _Chunk:
    subjects: list[tuple[Any, ...]] = field(default_factory=list)
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    keys: list[tuple[Any, ...]] = field(default_factory=list)
    consent: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    objections: list[tuple[Any, ...]] = field(default_factory=list)
    restrictions: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class _ChainState:
    seq: int
    prev: str

    def link(self, fields: tuple[Any, ...]) -> tuple[int, str, str]:
        self.seq += 1
        digest = row_hash(self.seq, self.prev, fields)
        prev, self.prev = self.prev, digest
        return self.seq, prev, digest


CONSENT_COLUMNS = (*chains.CONSENT.fields, "seq", "prev_hash", "hash")
AUDIT_COLUMNS = (*chains.AUDIT.fields, "seq", "prev_hash", "hash")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": ("id", "created_at", "shredded_at"),
    "identities": ("subject_id", "kind", "blind_index", "index_kid", "value_enc", "created_at"),
    "consent_events": CONSENT_COLUMNS,
    "audit_events": AUDIT_COLUMNS,
    "objections": (
        "id",
        "subject_id",
        "scope",
        "purpose_id",
        "status",
        "created_at",
        "decided_at",
    ),
    "restrictions": ("id", "subject_id", "since", "lifted_at"),
}
KEY_COLUMNS = ("subject_id", "kid", "wrapped", "created_at")


class _Generator:
    """Deterministic subjects and their history; one chunk at a time."""

    def __init__(self, bench: BenchStore, seed_value: int) -> None:
        self.rng = random.Random(seed_value)
        self.keyring = bench.keyring
        with bench.store.reading() as tx:
            active = load_active_policy(tx)
            self.consent_head = chains.read_head(tx.connection, chains.CONSENT)
            self.audit_head = chains.read_head(tx.connection, chains.AUDIT)
        self.version = active.version
        self.hashes = {pid: rule.consent_hash for pid, rule in active.rules.items()}
        self.consent_chain = _ChainState(self.consent_head.seq, self.consent_head.hash)
        self.audit_chain = _ChainState(self.audit_head.seq, self.audit_head.hash)
        self.total = 0

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _audit(
        self, chunk: _Chunk, at: str, action: str, oid: str, reason: str, details: dict[str, Any]
    ) -> None:
        fields = (
            at,
            ACTOR,
            action,
            "subject",
            oid,
            reason,
            None,
            json.dumps(details, sort_keys=True, separators=(",", ":")),
        )
        chunk.audit.append((*fields, *self.audit_chain.link(fields)))

    def _event(
        self, chunk: _Chunk, sid: str, purpose: str, kind: str, at: datetime, channel: str
    ) -> None:
        expires = None
        if kind == "given" and purpose == "analytics":
            expires = format_time(at + timedelta(days=365))
        fields = (
            self._uuid(),
            sid,
            purpose,
            kind,
            format_time(at),
            expires,
            self.version,
            self.hashes[purpose],
            None,
            channel,
            None,
            ACTOR,
        )
        chunk.consent.append((*fields, *self.consent_chain.link(fields)))

    def chunk(self, start: int, stop: int, total: int) -> _Chunk:
        rng = self.rng
        chunk = _Chunk()
        step = SPAN / max(total, 1)
        kid = self.keyring.active_kid
        for index in range(start, stop):
            sid = self._uuid()
            created = BASE_TIME + step * index
            created_text = format_time(created)
            email = email_of(index)
            data_key = new_data_key()
            chunk.subjects.append((sid, created_text, None))
            chunk.keys.append((sid, kid, self.keyring.wrap_data_key(data_key, sid), created_text))
            chunk.identities.append(
                (
                    sid,
                    "email",
                    self.keyring.blind_index("email", email),
                    kid,
                    seal(
                        data_key,
                        email.encode("utf-8"),
                        aad=f"identity:{sid}:email".encode(),
                    ),
                    created_text,
                )
            )
            self._audit(
                chunk,
                created_text,
                "subject.created",
                sid,
                "first email identity recorded",
                {"identity_kind": "email"},
            )
            # newsletter: 55% give, a tenth of them withdraw later; 5% refuse
            roll = rng.random()
            if roll < 0.55:
                at = created + timedelta(minutes=5)
                self._event(chunk, sid, "newsletter", "given", at, "form")
                if rng.random() < 0.10:
                    later = at + timedelta(days=rng.randrange(1, 180))
                    self._event(chunk, sid, "newsletter", "withdrawn", later, "email")
            elif roll < 0.60:
                self._event(chunk, sid, "newsletter", "refused", created, "form")
            # analytics: 40% accept the banner (expires after a year), 15% refuse
            roll = rng.random()
            if roll < 0.40:
                self._event(chunk, sid, "analytics", "given", created, "banner")
            elif roll < 0.55:
                self._event(chunk, sid, "analytics", "refused", created, "banner")
            # objections: 3% to direct marketing, 1% GPC, 0.3% to fraud prevention
            roll = rng.random()
            scope: tuple[str, str | None, str] | None = None
            if roll < 0.03:
                scope = ("direct_marketing", None, "upheld")
            elif roll < 0.04:
                scope = ("gpc", None, "upheld")
            elif roll < 0.043:
                scope = ("purpose", "fraud-prevention", "pending" if roll < 0.0415 else "upheld")
            if scope is not None:
                ref = self._uuid()
                when = format_time(created + timedelta(days=1))
                decided = None if scope[2] == "pending" else when
                chunk.objections.append((ref, sid, scope[0], scope[1], scope[2], when, decided))
                self._audit(
                    chunk,
                    when,
                    "objection.recorded",
                    sid,
                    f"objection ({scope[0]})",
                    {"objection": ref, "scope": scope[0]},
                )
            if rng.random() < 0.001:
                when = format_time(created + timedelta(days=2))
                chunk.restrictions.append((self._uuid(), sid, when, None))
        return chunk


class _Writer:
    """Writes chunks with the database driver itself, for speed."""

    def __init__(self, bench: BenchStore) -> None:
        self.backend = bench.backend
        if bench.backend == "sqlite":
            self.sq = sqlite3.connect(bench.url.removeprefix("sqlite:///"), isolation_level=None)
            self.sq_keys = sqlite3.connect(
                bench.keystore_url.removeprefix("sqlite:///"), isolation_level=None
            )
            for sq_conn in (self.sq, self.sq_keys):
                sq_conn.execute("PRAGMA journal_mode=WAL")
                sq_conn.execute("PRAGMA synchronous=OFF")
        else:
            plain = bench.url.replace("+psycopg", "")
            self.pg = psycopg.connect(plain)
            self.pg_keys = psycopg.connect(bench.keystore_url.replace("+psycopg", ""))
            for pg_conn in (self.pg, self.pg_keys):
                pg_conn.execute("SET synchronous_commit = off")
                pg_conn.commit()

    def write(self, chunk: _Chunk) -> None:
        tables: list[tuple[str, list[tuple[Any, ...]]]] = [
            ("subjects", chunk.subjects),
            ("identities", chunk.identities),
            ("consent_events", chunk.consent),
            ("audit_events", chunk.audit),
            ("objections", chunk.objections),
            ("restrictions", chunk.restrictions),
        ]
        if self.backend == "sqlite":
            self.sq.execute("BEGIN")
            for name, rows in tables:
                self._sqlite_insert(self.sq, name, TABLE_COLUMNS[name], rows)
            self.sq.execute("COMMIT")
            self.sq_keys.execute("BEGIN")
            self._sqlite_insert(self.sq_keys, "subject_keys", KEY_COLUMNS, chunk.keys)
            self.sq_keys.execute("COMMIT")
        else:
            with self.pg.cursor() as cur:
                for name, rows in tables:
                    self._copy(cur, name, TABLE_COLUMNS[name], rows)
            self.pg.commit()
            with self.pg_keys.cursor() as cur:
                self._copy(cur, "subject_keys", KEY_COLUMNS, chunk.keys)
            self.pg_keys.commit()

    @staticmethod
    def _sqlite_insert(
        conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if rows:
            marks = ", ".join("?" for _ in columns)
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                rows,
            )

    @staticmethod
    def _copy(
        cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if rows:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def finish(self, consent: _ChainState, audit: _ChainState) -> None:
        heads = [(consent.seq, consent.prev, "consent"), (audit.seq, audit.prev, "audit")]
        if self.backend == "sqlite":
            self.sq.executemany("UPDATE chain_heads SET seq = ?, hash = ? WHERE chain = ?", heads)
            self.sq.execute("ANALYZE")
            self.sq.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.sq.close()
            self.sq_keys.close()
        else:
            with self.pg.cursor() as cur:
                cur.executemany(
                    "UPDATE chain_heads SET seq = %s, hash = %s WHERE chain = %s", heads
                )
            self.pg.commit()
            self.pg.autocommit = True
            self.pg.execute("VACUUM ANALYZE")
            self.pg_keys.autocommit = True
            self.pg_keys.execute("VACUUM ANALYZE")
            self.pg.close()
            self.pg_keys.close()


def seed(
    bench: BenchStore, subjects: int, *, seed_value: int = 20261122, quiet: bool = False
) -> SeedStats:
    """Add ``subjects`` subjects (numbered from the current count) with
    their identities, keys, consent history, objections and audit trail."""
    started = time.perf_counter()
    start = bench.subject_count()
    if subject_identity(start).value != email_of(start):
        raise AssertionError("seeded emails must be canonical")
    generator = _Generator(bench, seed_value + start)
    writer = _Writer(bench)
    stats = SeedStats()
    total = start + subjects
    for lo in range(start, total, CHUNK):
        hi = min(lo + CHUNK, total)
        chunk = generator.chunk(lo, hi, total)
        writer.write(chunk)
        stats.subjects += len(chunk.subjects)
        stats.consent_events += len(chunk.consent)
        stats.audit_events += len(chunk.audit)
        stats.objections += len(chunk.objections)
        stats.restrictions += len(chunk.restrictions)
        if not quiet and (hi - start) % 200_000 == 0:
            print(f"  seeded {hi - start:,} subjects ({time.perf_counter() - started:.0f} s)")
    writer.finish(generator.consent_chain, generator.audit_chain)
    stats.seconds = time.perf_counter() - started
    return stats


# -- command-line plumbing shared by the benchmarks ---------------------------------


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres", "both"],
        default="both",
        help="Which engine store to measure.",
    )
    parser.add_argument("--subjects", type=int, default=1_000_000, help="Subjects to seed.")
    parser.add_argument(
        "--sqlite-dir",
        default=None,
        help="Reuse (or create and keep) the SQLite store in this directory.",
    )
    parser.add_argument(
        "--pg-database",
        default=None,
        help="Reuse (or create and keep) this PostgreSQL database (and NAME_keys).",
    )


def stores_from_args(args: argparse.Namespace) -> Iterator[BenchStore]:
    """Open each requested store, seeding it up to ``--subjects`` if needed;
    stores the run created itself are removed when the caller is done."""
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench = open_bench_store(backend, directory=args.sqlite_dir, pg_database=args.pg_database)
        try:
            have = bench.subject_count()
            if have < args.subjects:
                print(f"[{backend}] seeding {args.subjects - have:,} subjects ...", flush=True)
                stats = seed(bench, args.subjects - have)
                print(
                    f"[{backend}] seeded in {stats.seconds:.1f} s: {stats.subjects:,} subjects, "
                    f"{stats.consent_events:,} consent events, {stats.audit_events:,} audit "
                    f"events, {stats.objections:,} objections, {stats.restrictions:,} "
                    "restrictions",
                    flush=True,
                )
            yield bench
        finally:
            bench.close()


def machine_facts() -> dict[str, str]:
    """What a reader needs to compare figures: date, cores, memory, CPU, versions."""
    facts = {"date": datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")}
    facts["nproc"] = str(os.cpu_count())
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
        facts["ram"] = f"{int(meminfo[1]) / 1024 / 1024:.1f} GiB"
        cpu = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        facts["cpu"] = cpu[0] if cpu else "unknown"
    except OSError:
        pass
    facts["python"] = sys.version.split()[0]
    facts["sqlite"] = sqlite3.sqlite_version
    try:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["postgresql"] = str(row[0]) if row else "unknown"
    except psycopg.Error:
        facts["postgresql"] = "not reachable"
    return facts


def print_header(script: str) -> None:
    """The exact command and the machine, first thing in every benchmark's output."""
    print("command: " + shlex.join([sys.executable, script, *sys.argv[1:]]))
    for key, value in machine_facts().items():
        print(f"{key}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_store_arguments(parser)
    args = parser.parse_args(argv)
    if args.backend == "both":
        parser.error("choose one --backend to create a store to keep")
    if args.backend == "sqlite" and args.sqlite_dir is None:
        parser.error("--sqlite-dir is needed to keep the store")
    if args.backend == "postgres" and args.pg_database is None:
        parser.error("--pg-database is needed to keep the store")
    print_header("benchmarks/seed_engine_store.py")
    for bench in stores_from_args(args):
        print(f"engine store: {bench.url}\nkey store:    {bench.keystore_url}")
        print(
            f"consent chain head {bench.head_seq('consent'):,}, "
            f"audit chain head {bench.head_seq('audit'):,}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
