"""Consent decisions and consent appends on a seeded engine store.

Targets (1,000,000 subjects, 5 purposes): at least 200,000 decisions per
second warm (``DecisionCache.may_process``), at least 20,000 per second cold
from the store (``ConsentLedger.check_subject`` one by one, and
``ConsentLedger.check_many`` in batches), and at least 5,000 consent appends
per second (``ConsentLedger.give`` / ``record_many``, the real path with blind
index lookup, hash chain and transaction) on SQLite and PostgreSQL.

Each figure is the median of ``--runs`` runs, printed beside a *floor*: the
same database work issued directly with the driver (the same SELECTs for
cold decisions, plain INSERTs of the same rows without the chain for
appends), so the ratio shows what the engine adds on top of the database::

    python benchmarks/bench_consent.py --subjects 1000000
    python benchmarks/bench_consent.py --subjects 20000 --backend sqlite   # quick

``--baseline-src DIR`` adds "before/after" lines: each figure measured with
the engine's code from ``DIR`` (A; ``git archive HEAD src | tar -x -C
/tmp/before`` exports the last commit's) and with today's (B), each run in a
fresh process, alternating A, B, A, B so both see the same machine load;
these go through public engine APIs only. ``--profile`` also prints where
the time goes (cProfile) on each path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select, text

from datasteward.audit.chain import row_hash
from datasteward.consent.model import (
    Channel,
    ConsentKind,
)
from datasteward.consent.service import ConsentLedger, ConsentRequest
from datasteward.consent.source import SourceDetails
from datasteward.identity import Identity
from datasteward.legaltime.instants import format_time
from datasteward.store import chains
from datasteward.store.tables import consent_events

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from seed_engine_store import (
    PURPOSES,
    BenchStore,
    add_store_arguments,
    median,
    open_bench_store,
    peak_rss_mib,
    print_header,
    stores_from_args,
    subject_identity,
)

ACTOR = "bench:append"
RESULTS: list[tuple[str, ...]] = []


def record(
    backend: str, what: str, rate: float, floor: float | None, rates: Sequence[float] = ()
) -> None:
    """Print one figure now and keep it for the closing table."""
    ratio = f"{rate / floor:.2f}" if floor else ""
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    RESULTS.append((backend, what, f"{rate:,.0f}", f"{floor:,.0f}" if floor else "", ratio, runs))
    line = f"  {what}: {rate:,.0f}/s"
    if floor:
        line += f"  (floor {floor:,.0f}/s, engine/floor {ratio})"
    print(line + (f"  runs: {runs}" if runs else ""), flush=True)


def timed_runs(runs: int, body: Callable[[int], int]) -> tuple[float, list[float]]:
    """Median rate (items per second) over ``runs`` calls of ``body(run)``,
    which returns how many items it handled."""
    rates: list[float] = []
    for run in range(runs):
        started = time.perf_counter()
        count = body(run)
        rates.append(count / (time.perf_counter() - started))
    return median(rates), rates


def profile(label: str, body: Callable[[], object], limit: int = 18) -> None:
    """Run ``body`` under cProfile and print the functions that cost most."""
    profiler = cProfile.Profile()
    profiler.enable()
    body()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    print(f"--- profile: {label} (sorted by own time) ---")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


# -- raw driver access, for the floors ---------------------------------------------


class Raw:
    """A plain driver connection to the same database (no SQLAlchemy)."""

    def __init__(self, bench: BenchStore) -> None:
        self.sqlite = bench.backend == "sqlite"
        if self.sqlite:
            self.conn: Any = sqlite3.connect(
                bench.url.removeprefix("sqlite:///"), isolation_level=None
            )
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.mark = "?"
        else:
            self.conn = psycopg.connect(bench.url.replace("+psycopg", ""))
            self.mark = "%s"

    def sql(self, query: str) -> str:
        return query.replace("?", self.mark)

    def begin(self, write: bool = False) -> None:
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self) -> None:
        if self.sqlite:
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


POLICY_KEY_SQL = "SELECT id, sha256 FROM policy_versions ORDER BY id DESC LIMIT 1"
CONSENT_COLUMNS = (
    "seq, event_id, subject_id, purpose_id, kind, occurred_at, expires_at, "
    "policy_version, purpose_hash, notice_hash, channel, actor"
)
LATEST_SQL = (
    f"SELECT {CONSENT_COLUMNS} FROM consent_events "
    "WHERE subject_id = ? AND purpose_id = ? AND occurred_at <= ? "
    "ORDER BY occurred_at DESC, seq DESC LIMIT 1"
)
OBJECTIONS_SQL = (
    "SELECT id, subject_id, scope, purpose_id, status, created_at, decided_at "
    "FROM objections WHERE subject_id = ? ORDER BY created_at"
)
RESTRICTION_SQL = (
    "SELECT id, subject_id, since, lifted_at FROM restrictions "
    "WHERE subject_id = ? AND lifted_at IS NULL ORDER BY since LIMIT 1"
)


def raw_single_decisions(raw: Raw, pairs: Sequence[tuple[str, str]], at: str) -> int:
    """The four SELECTs of one cold decision, in one read transaction each."""
    latest, objections, restriction = (
        raw.sql(LATEST_SQL),
        raw.sql(OBJECTIONS_SQL),
        raw.sql(RESTRICTION_SQL),
    )
    conn = raw.conn
    for subject_id, purpose_id in pairs:
        raw.begin()
        conn.execute(POLICY_KEY_SQL).fetchone()
        conn.execute(latest, (subject_id, purpose_id, at)).fetchone()
        conn.execute(objections, (subject_id,)).fetchall()
        conn.execute(restriction, (subject_id,)).fetchone()
        raw.commit()
    return len(pairs)


ONE_STATEMENT_SQL = (
    f"SELECT pv.id, pv.sha256, c.*, r.id, r.since, o.id, o.scope, o.purpose_id, o.status, "
    f"o.created_at FROM (SELECT id, sha256 FROM policy_versions ORDER BY id DESC LIMIT 1) pv "
    f"LEFT JOIN ({LATEST_SQL}) c ON 1 = 1 "
    "LEFT JOIN (SELECT id, since FROM restrictions WHERE subject_id = ? AND lifted_at IS NULL "
    "ORDER BY since, id LIMIT 1) r ON 1 = 1 "
    "LEFT JOIN objections o ON o.subject_id = ? ORDER BY o.created_at, o.id"
)


def raw_one_statement_decisions(raw: Raw, pairs: Sequence[tuple[str, str]], at: str) -> int:
    """What one cold decision reads, as the one statement the engine sends,
    outside any explicit transaction (autocommit on PostgreSQL)."""
    sql = raw.sql(ONE_STATEMENT_SQL)
    conn = raw.conn
    if not raw.sqlite:
        conn.autocommit = True
    try:
        for subject_id, purpose_id in pairs:
            conn.execute(sql, (subject_id, purpose_id, at, subject_id, subject_id)).fetchall()
    finally:
        if not raw.sqlite:
            conn.autocommit = False
    return len(pairs)


def raw_batched_decisions(raw: Raw, subject_ids: Sequence[str], at: str, batch: int = 1000) -> int:
    """The three IN-list SELECTs per thousand subjects that ``check_many`` issues."""
    conn = raw.conn
    raw.begin()
    conn.execute(POLICY_KEY_SQL).fetchone()
    raw.commit()
    for lo in range(0, len(subject_ids), batch):
        ids = list(subject_ids[lo : lo + batch])
        marks = ", ".join(raw.mark for _ in ids)
        raw.begin()
        conn.execute(
            f"SELECT {CONSENT_COLUMNS} FROM consent_events WHERE subject_id IN ({marks}) "
            f"AND occurred_at <= {raw.mark} ORDER BY occurred_at, seq",
            (*ids, at),
        ).fetchall()
        conn.execute(
            "SELECT id, subject_id, scope, purpose_id, status, created_at, decided_at "
            f"FROM objections WHERE subject_id IN ({marks}) ORDER BY created_at",
            ids,
        ).fetchall()
        conn.execute(
            "SELECT id, subject_id, since, lifted_at FROM restrictions "
            f"WHERE subject_id IN ({marks}) AND lifted_at IS NULL",
            ids,
        ).fetchall()
        raw.commit()
    return len(subject_ids)


RAW_SEQ_START = 10**15
"""Raw floor rows go into ``consent_events`` itself, numbered far past the
chain, so they meet the same table size, keys and indexes as real appends;
:func:`remove_raw_rows` deletes them again before anything reads the chain."""


def remove_raw_rows(raw: Raw) -> None:
    raw.begin(write=True)
    raw.conn.execute(raw.sql("DELETE FROM consent_events WHERE seq >= ?"), (RAW_SEQ_START,))
    raw.commit()


class RawAppender:
    """Plain INSERTs of consent rows (same values, placeholder hashes, no
    head lock, no lookups)."""

    def __init__(self, raw: Raw, template: dict[str, Any]) -> None:
        self.raw = raw
        self.template = template
        self.seq = RAW_SEQ_START
        columns = [*chains.CONSENT.fields, "seq", "prev_hash", "hash"]
        self.sql = raw.sql(
            f"INSERT INTO consent_events ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )

    def rows(self, subject_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        out = []
        for subject_id in subject_ids:
            self.seq += 1
            row = {**self.template, "event_id": str(uuid.uuid4()), "subject_id": subject_id}
            out.append((*chains.CONSENT.values(row), self.seq, "0" * 64, "0" * 64))
        return out

    def append(self, subject_ids: Sequence[str]) -> None:
        rows = self.rows(subject_ids)
        self.raw.begin(write=True)
        if len(rows) == 1:
            self.raw.conn.execute(self.sql, rows[0])
        else:
            cursor = self.raw.conn.cursor()
            cursor.executemany(self.sql, rows)
        self.raw.commit()


# -- the measurements --------------------------------------------------------------------


@dataclass
class Workload:
    ids: list[str]
    at: datetime
    rng: random.Random

    def pairs(self, count: int) -> list[tuple[str, str]]:
        choice = self.rng.choice
        return [(choice(self.ids), choice(PURPOSES)) for _ in range(count)]

    def distinct_subjects(self, count: int) -> list[str]:
        return self.rng.sample(self.ids, min(count, len(self.ids)))


def bench_warm(bench: BenchStore, work: Workload, args: argparse.Namespace) -> None:
    name = bench.backend
    before = peak_rss_mib()
    started = time.perf_counter()
    cache = bench.ledger.warm_cache(work.ids, work.at)
    loaded = time.perf_counter() - started
    print(
        f"  warm cache loaded: {len(work.ids):,} subjects, {len(cache):,} (subject, purpose) "
        f"consent facts in {loaded:.1f} s ({len(work.ids) / loaded:,.0f} subjects/s); "
        f"peak RSS {before:,.0f} -> {peak_rss_mib():,.0f} MiB",
        flush=True,
    )
    pairs = work.pairs(args.warm_decisions)
    may, at = cache.may_process, work.at
    allowed = sum(1 for s, p in pairs[:100_000] if may(s, p, at).allowed)

    def run(_: int) -> int:
        for s, p in pairs:
            may(s, p, at)
        return len(pairs)

    rate, rates = timed_runs(args.runs, run)
    record(
        name,
        f"warm decisions, DecisionCache.may_process ({len(pairs):,} per run)",
        rate,
        None,
        rates,
    )
    print(f"  ({allowed / 1000:.1f}% of the first 100,000 decisions allow processing)")
    if args.profile:
        profile("warm may_process x 200,000", lambda: [may(s, p, at) for s, p in pairs[:200_000]])


def bench_cold(bench: BenchStore, work: Workload, args: argparse.Namespace) -> None:
    name = bench.backend
    ledger, at = bench.ledger, work.at
    at_text = format_time(at)
    raw = Raw(bench)
    try:
        samples = [work.pairs(args.cold_decisions) for _ in range(args.runs)]
        ledger.check_subject(*samples[0][0], at=at)  # policy compiled once, as in a server

        def single(run: int) -> int:
            for s, p in samples[run]:
                ledger.check_subject(s, p, at)
            return len(samples[run])

        floor, _ = timed_runs(
            args.runs, lambda run: raw_single_decisions(raw, samples[run], at_text)
        )
        one, one_runs = timed_runs(
            args.runs, lambda run: raw_one_statement_decisions(raw, samples[run], at_text)
        )
        record(
            name,
            "floor: the engine's one statement per decision, with the driver, no engine",
            one,
            None,
            one_runs,
        )
        rate, rates = timed_runs(args.runs, single)
        record(
            name,
            f"cold decisions, ConsentLedger.check_subject one by one "
            f"({args.cold_decisions:,} per run)",
            rate,
            floor,
            rates,
        )
        if args.profile:
            profile(
                "cold check_subject x 2,000",
                lambda: [ledger.check_subject(s, p, at) for s, p in samples[0][:2000]],
            )

        # batched: one purpose for each of many subjects (a mail-out), and all five
        n = args.batch_subjects
        subject_sets = [work.distinct_subjects(n) for _ in range(args.runs)]
        one_purpose = [[(s, work.rng.choice(PURPOSES)) for s in ids] for ids in subject_sets]
        floor, _ = timed_runs(
            args.runs, lambda run: raw_batched_decisions(raw, subject_sets[run], at_text)
        )
        rate, rates = timed_runs(
            args.runs, lambda run: len(ledger.check_many(one_purpose[run], at))
        )
        record(
            name,
            f"cold decisions, ConsentLedger.check_many, {n:,} subjects x 1 purpose per call",
            rate,
            floor,
            rates,
        )
        five = [[(s, p) for s in ids[: n // 5] for p in PURPOSES] for ids in subject_sets]
        rate, rates = timed_runs(args.runs, lambda run: len(ledger.check_many(five[run], at)))
        record(
            name,
            f"cold decisions, ConsentLedger.check_many, {n // 5:,} subjects x 5 purposes per call",
            rate,
            None,
            rates,
        )
        if args.profile:
            profile("cold check_many", lambda: ledger.check_many(one_purpose[0], at))
    finally:
        raw.close()


def bench_appends(bench: BenchStore, work: Workload, args: argparse.Namespace) -> None:
    name = bench.backend
    ledger = bench.ledger
    count = len(work.ids)
    consent_purposes = ("newsletter", "analytics")
    rng = work.rng

    def identities(k: int) -> list[Identity]:
        # built before timing: callers arrive with a parsed identity
        return [subject_identity(rng.randrange(count)) for _ in range(k)]

    head_before = bench.head_seq("consent")
    k = args.appends

    # floors: the same rows inserted with the driver, no chain, no lookups
    raw = Raw(bench)
    try:
        remove_raw_rows(raw)
        template = _row_template(bench)
        appender = RawAppender(raw, template)
        single_ids = [work.distinct_subjects(k) for _ in range(args.runs)]
        size = args.batch_size

        def raw_appends(run: int, per_tx: int) -> int:
            ids = single_ids[run]
            for lo in range(0, len(ids), per_tx):
                appender.append(ids[lo : lo + per_tx])
            return len(ids)

        single_floor, _ = timed_runs(args.runs, lambda run: raw_appends(run, 1))
        batch_floor, _ = timed_runs(args.runs, lambda run: raw_appends(run, size))
    finally:
        remove_raw_rows(raw)
        raw.close()

    # single-event transactions through give()
    people = [identities(k) for _ in range(args.runs)]

    def give_all(which: ConsentLedger, group: Sequence[Identity]) -> int:
        for i, identity in enumerate(group):
            which.give(identity, consent_purposes[i % 2], channel=Channel.BANNER, actor=ACTOR)
        return len(group)

    rate, rates = timed_runs(args.runs, lambda run: give_all(ledger, people[run]))
    record(
        name,
        f"appends, ConsentLedger.give, 1 event per transaction ({k:,} per run)",
        rate,
        single_floor,
        rates,
    )
    if args.profile:
        sample = identities(min(k, 1000))
        profile("give x 1,000", lambda: give_all(ledger, sample))

    # batches through record_many()
    def batches(which: ConsentLedger, group: Sequence[Identity]) -> int:
        for lo in range(0, len(group), size):
            which.record_many(
                [
                    ConsentRequest(
                        identity, consent_purposes[i % 2], ConsentKind.GIVEN, Channel.IMPORT
                    )
                    for i, identity in enumerate(group[lo : lo + size])
                ],
                actor=ACTOR,
            )
        return len(group)

    batch_people = [identities(k) for _ in range(args.runs)]
    rate, rates = timed_runs(args.runs, lambda run: batches(ledger, batch_people[run]))
    record(
        name,
        f"appends, ConsentLedger.record_many, batches of {size}",
        rate,
        batch_floor,
        rates,
    )
    if args.profile:
        sample = identities(min(k, 1000))
        profile(
            f"record_many, {len(sample) // size} batches of {size}", lambda: batches(ledger, sample)
        )

    # concurrent writers, single-event transactions
    for threads in args.threads:
        group = identities(k)
        shares = [group[t::threads] for t in range(threads)]
        errors: list[BaseException] = []

        def worker(share: Sequence[Identity], errors: list[BaseException] = errors) -> None:
            try:
                give_all(ledger, share)
            except BaseException as exc:  # reported below, never hidden
                errors.append(exc)

        started = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(s,)) for s in shares]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        record(name, f"appends, give from {threads} threads at once (1 run)", k / elapsed, None)

    # variants: with source details (sealed under the subject's key), new subjects
    with_source = identities(k // 2)
    source = SourceDetails(ip="203.0.113.77", user_agent="Mozilla/5.0 (bench)", reference="b-1")

    def give_with_source() -> int:
        for i, identity in enumerate(with_source):
            ledger.give(
                identity,
                consent_purposes[i % 2],
                channel=Channel.BANNER,
                actor=ACTOR,
                source=source,
            )
        return len(with_source)

    rate, _ = timed_runs(1, lambda _: give_with_source())
    record(name, "appends, give with source details (IP, user agent) sealed (1 run)", rate, None)

    token = secrets.token_hex(3)
    newcomers = [Identity("email", f"new-{token}-{i}@bench.example") for i in range(k // 2)]
    rate, _ = timed_runs(1, lambda _: give_all(ledger, newcomers))
    record(
        name, "appends, give for a new subject (subject, key, identity, audit) (1 run)", rate, None
    )

    check_tail(bench, head_before)


def _row_template(bench: BenchStore) -> dict[str, Any]:
    with bench.store.reading() as tx:
        active = bench.ledger.policies.get(tx)
    return {
        "purpose_id": "newsletter",
        "kind": "given",
        "occurred_at": format_time(bench.clock.now()),
        "expires_at": None,
        "policy_version": active.version,
        "purpose_hash": active.rules["newsletter"].consent_hash,
        "notice_hash": None,
        "channel": "banner",
        "source_enc": None,
        "actor": ACTOR,
    }


def check_tail(bench: BenchStore, head_before: int) -> None:
    """Every event appended during the run (threads included) is numbered
    without gaps, links to the one before and hashes right, and the head
    points at the last one: concurrent writers did not fork the chain."""
    spec = chains.CONSENT
    columns = [consent_events.c.seq, consent_events.c.prev_hash, consent_events.c.hash] + [
        consent_events.c[f] for f in spec.fields
    ]
    with bench.store.reading() as tx:
        head = chains.read_head(tx.connection, spec)
        prev_row = tx.connection.execute(
            select(consent_events.c.hash).where(consent_events.c.seq == head_before)
        ).first()
        rows = tx.connection.execute(
            select(*columns)
            .where(consent_events.c.seq > head_before)
            .order_by(consent_events.c.seq)
        ).all()
        total = tx.connection.execute(text("SELECT count(*) FROM consent_events")).scalar_one()
    prev = prev_row[0] if prev_row else "0" * 64
    expected = head_before + 1
    for r in rows:
        fields = tuple(bytes(v) if isinstance(v, memoryview) else v for v in r[3:])
        if r[0] != expected or r[1] != prev or row_hash(r[0], r[1], fields) != r[2]:
            raise SystemExit(f"consent chain broken at {r[0]}")
        prev, expected = r[2], expected + 1
    if head.seq != expected - 1 or head.hash != prev or total != head.seq:
        raise SystemExit("consent chain head does not match its rows")
    print(f"  consent chain checked: {len(rows):,} appended events linked, head {head.seq:,}")


# -- before/after: the same figure with another copy of the engine's code ------------------

AB_FIGURES = ("warm", "cold_single", "cold_many1", "cold_many5", "give", "batch", "threads16")


def ab_figure(bench: BenchStore, figure: str, run: int, args: argparse.Namespace) -> float:
    """One run of one figure, through public engine APIs only (so the same
    code measures any version of the engine); returns items per second.
    ``run`` seeds the workload: both versions get the same subjects."""
    rng = random.Random(1000 + run)
    ledger = bench.ledger
    ids = bench.subject_ids()
    at = bench.clock.now()
    ledger.check_subject(ids[0], PURPOSES[0], at)  # policy compiled, as in a server
    started = 0.0

    def rate(count: int) -> float:
        return count / (time.perf_counter() - started)

    if figure == "warm":
        loaded = rng.sample(ids, min(args.ab_warm_subjects, len(ids)))
        cache = ledger.warm_cache(loaded, at)
        pairs = [(rng.choice(loaded), rng.choice(PURPOSES)) for _ in range(args.warm_decisions)]
        may = cache.may_process
        started = time.perf_counter()
        for s, p in pairs:
            may(s, p, at)
        return rate(len(pairs))
    if figure == "cold_single":
        pairs = [(rng.choice(ids), rng.choice(PURPOSES)) for _ in range(args.cold_decisions)]
        started = time.perf_counter()
        for s, p in pairs:
            ledger.check_subject(s, p, at)
        return rate(len(pairs))
    if figure in ("cold_many1", "cold_many5"):
        n = args.batch_subjects
        chosen = rng.sample(ids, n if figure == "cold_many1" else n // 5)
        pairs = (
            [(s, rng.choice(PURPOSES)) for s in chosen]
            if figure == "cold_many1"
            else [(s, p) for s in chosen for p in PURPOSES]
        )
        started = time.perf_counter()
        ledger.check_many(pairs, at)
        return rate(len(pairs))
    people = [subject_identity(rng.randrange(len(ids))) for _ in range(args.appends)]
    purposes = ("newsletter", "analytics")
    if figure == "give":
        started = time.perf_counter()
        for i, identity in enumerate(people):
            ledger.give(identity, purposes[i % 2], channel=Channel.BANNER, actor=ACTOR)
        return rate(len(people))
    if figure == "batch":
        size = args.batch_size
        started = time.perf_counter()
        for lo in range(0, len(people), size):
            ledger.record_many(
                [
                    ConsentRequest(identity, purposes[i % 2], ConsentKind.GIVEN, Channel.IMPORT)
                    for i, identity in enumerate(people[lo : lo + size])
                ],
                actor=ACTOR,
            )
        return rate(len(people))
    if figure == "threads16":
        shares = [people[t::16] for t in range(16)]
        errors: list[BaseException] = []

        def worker(share: Sequence[Identity]) -> None:
            try:
                for i, identity in enumerate(share):
                    ledger.give(identity, purposes[i % 2], channel=Channel.BANNER, actor=ACTOR)
            except BaseException as exc:  # reported below, never hidden
                errors.append(exc)

        pool = [threading.Thread(target=worker, args=(share,)) for share in shares]
        started = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        if errors:
            raise errors[0]
        return rate(len(people))
    raise SystemExit(f"unknown figure {figure!r}")


def ab_child(bench: BenchStore, source: str | None, figure: str, run: int) -> float:
    """Run one figure in a fresh process, with ``source`` first on the path."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = source
    command = [sys.executable, __file__, "--ab-child", figure, "--ab-run", str(run)]
    command += ["--backend", bench.backend, "--subjects", "0"]
    command += ["--sqlite-dir", str(Path(bench.url.removeprefix("sqlite:///")).parent)]
    command += ["--pg-database", bench.url.rsplit("/", 1)[-1]]
    for option in ("warm_decisions", "cold_decisions", "batch_subjects", "appends", "batch_size"):
        command += [f"--{option.replace('_', '-')}", str(getattr(ARGS, option))]
    command += ["--ab-warm-subjects", str(ARGS.ab_warm_subjects)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_before_after(bench: BenchStore, args: argparse.Namespace) -> None:
    """Each figure with the code in ``--baseline-src`` (A) and today's (B),
    alternating A, B, A, B ... so both see the same machine load."""
    head_before = bench.head_seq("consent")
    for figure in args.ab:
        a_rates: list[float] = []
        b_rates: list[float] = []
        for run in range(args.runs):
            a_rates.append(ab_child(bench, args.baseline_src, figure, run))
            b_rates.append(ab_child(bench, None, figure, run))
        a, b = median(a_rates), median(b_rates)
        runs = "A " + ", ".join(f"{r:,.0f}" for r in a_rates)
        runs += "; B " + ", ".join(f"{r:,.0f}" for r in b_rates)
        what = f"before/after: {figure}"
        RESULTS.append((bench.backend, what, f"{a:,.0f} -> {b:,.0f}", "", f"x{b / a:.2f}", runs))
        print(f"  {what}: {a:,.0f}/s -> {b:,.0f}/s (x{b / a:.2f})  {runs}", flush=True)
    check_tail(bench, head_before)


ARGS = argparse.Namespace()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_store_arguments(parser)
    parser.add_argument("--runs", type=int, default=5, help="Runs per figure (median).")
    parser.add_argument("--warm-decisions", type=int, default=1_000_000)
    parser.add_argument("--cold-decisions", type=int, default=5_000)
    parser.add_argument("--batch-subjects", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=2_000, help="Events per append run.")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, nargs="*", default=[2, 4, 8])
    parser.add_argument("--skip", nargs="*", default=[], choices=["warm", "cold", "appends"])
    parser.add_argument("--profile", action="store_true", help="Print cProfile summaries.")
    parser.add_argument(
        "--baseline-src",
        default=None,
        help="Also measure the engine's code from this src directory (for example an "
        "export of an earlier commit) against today's, run by run: before/after figures.",
    )
    parser.add_argument(
        "--ab",
        nargs="*",
        default=list(AB_FIGURES),
        choices=AB_FIGURES,
        help="Before/after figures.",
    )
    parser.add_argument(
        "--ab-warm-subjects",
        type=int,
        default=200_000,
        help="Subjects loaded into the cache for the before/after warm figure.",
    )
    parser.add_argument("--ab-child", choices=AB_FIGURES, help=argparse.SUPPRESS)
    parser.add_argument("--ab-run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    ARGS.__dict__.update(vars(args))
    if args.ab_child:
        bench = open_bench_store(
            args.backend, directory=args.sqlite_dir, pg_database=args.pg_database
        )
        try:
            print(ab_figure(bench, args.ab_child, args.ab_run, args))
        finally:
            bench.close()
        return 0
    print_header("benchmarks/bench_consent.py")
    for bench in stores_from_args(args):
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
        ids = bench.subject_ids()
        work = Workload(ids, bench.clock.now(), random.Random(7))
        if "warm" not in args.skip:
            bench_warm(bench, work, args)
        if "cold" not in args.skip:
            bench_cold(bench, work, args)
        if "appends" not in args.skip:
            bench_appends(bench, work, args)
        if args.baseline_src is not None:
            bench_before_after(bench, args)
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
    print("\n| store | measurement | median per s | floor per s | engine/floor | runs |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in RESULTS:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
