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

Lines marked "A/B" compare today's engine (A) with a prototype of an engine
change (B) written in this file, run alternately so both see the same machine
load. ``--profile`` also prints where the time goes (cProfile) on each path.
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
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import bindparam, create_engine, desc, select, text

from datasteward.audit.chain import row_hash
from datasteward.consent import cache as consent_cache
from datasteward.consent import model as consent_model
from datasteward.consent.decisions import Decision, decide
from datasteward.consent.model import (
    Channel,
    ConsentKind,
    ConsentRecord,
    Objection,
    PurposeRule,
    Restriction,
    SubjectFacts,
)
from datasteward.consent.service import ConsentLedger, ConsentRequest
from datasteward.consent.source import SourceDetails
from datasteward.identity import Identity
from datasteward.legaltime.instants import format_time
from datasteward.store import chains, sql_store
from datasteward.store.sql_store import _CONSENT_COLUMNS, SqlEngineStore, SqlTx
from datasteward.store.tables import consent_events, objections, restrictions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from seed_engine_store import (
    PURPOSES,
    BenchStore,
    add_store_arguments,
    median,
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


# The append prototypes measured here earlier (the active policy from the
# ledger's cache, and one subject query per batch instead of one per event)
# are now the engine's own ``record_many``; see BENCHMARKS.md for the figures.


# -- prototypes of read-path changes, applied only inside ``prototypes()`` -----------------


def fast_parse_time(text_value: str) -> datetime:
    """``parse_time`` with ``datetime.fromisoformat`` (Python 3.11 reads the
    ``Z``); the fixed width keeps it as strict as the ``strptime`` format."""
    if len(text_value) != 27 or text_value[-1] != "Z":
        raise ValueError(f"not an engine instant: {text_value!r}")
    return datetime.fromisoformat(text_value)


def fast_format_time(moment: datetime) -> str:
    """``format_time`` without ``strftime``: same text for years 1000-9999."""
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


_T = consent_events
_LATEST = (
    select(*_CONSENT_COLUMNS)
    .where(
        _T.c.subject_id == bindparam("sid"),
        _T.c.purpose_id == bindparam("pid"),
        _T.c.occurred_at <= bindparam("at"),
    )
    .order_by(desc(_T.c.occurred_at), desc(_T.c.seq))
    .limit(1)
)
_LATEST_MANY = (
    select(*_CONSENT_COLUMNS)
    .where(
        _T.c.subject_id.in_(bindparam("ids", expanding=True)), _T.c.occurred_at <= bindparam("at")
    )
    .order_by(_T.c.occurred_at, _T.c.seq)
)
_OBJECTIONS = (
    select(objections)
    .where(objections.c.subject_id == bindparam("sid"))
    .order_by(objections.c.created_at)
)
_RESTRICTION = (
    select(restrictions)
    .where(restrictions.c.subject_id == bindparam("sid"), restrictions.c.lifted_at.is_(None))
    .order_by(restrictions.c.since)
    .limit(1)
)


def _proto_latest_consent(
    self: SqlTx, subject_id: str, purpose_id: str, at: datetime
) -> ConsentRecord | None:
    row = self.connection.execute(
        _LATEST, {"sid": subject_id, "pid": purpose_id, "at": fast_format_time(at)}
    ).first()
    return None if row is None else sql_store._consent_record(row)


def _proto_latest_consents(
    self: SqlTx, subject_ids: Sequence[str], at: datetime
) -> dict[tuple[str, str], ConsentRecord]:
    latest: dict[tuple[str, str], Any] = {}
    for row in self.connection.execute(
        _LATEST_MANY, {"ids": list(subject_ids), "at": fast_format_time(at)}
    ):
        latest[(row.subject_id, row.purpose_id)] = row
    return {key: sql_store._consent_record(row) for key, row in latest.items()}


def _proto_objections_of(self: SqlTx, subject_id: str) -> list[Objection]:
    return [
        sql_store._objection(r) for r in self.connection.execute(_OBJECTIONS, {"sid": subject_id})
    ]


def _proto_restriction_of(self: SqlTx, subject_id: str) -> Restriction | None:
    row = self.connection.execute(_RESTRICTION, {"sid": subject_id}).first()
    return None if row is None else Restriction(ref=row.id, since=fast_parse_time(row.since))


_CONSTANT_BASES = frozenset(
    {"contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interest"}
)
_DEFAULT_DECISIONS: dict[int, Decision] = {}


def decide_with_defaults(rule: PurposeRule, facts: SubjectFacts, at: datetime) -> Decision:
    """``decide`` that returns one shared :class:`Decision` per purpose when
    nothing about the subject can change the answer: no restriction, no
    objection, and a first basis that does not depend on consent. Decisions
    are immutable, so sharing one is safe; the answer is the one ``decide``
    gave the first time."""
    if (
        facts.restriction is None
        and not facts.objections
        and rule.bases
        and rule.bases[0] in _CONSTANT_BASES
    ):
        known = _DEFAULT_DECISIONS.get(id(rule))
        if known is None:
            known = _DEFAULT_DECISIONS[id(rule)] = decide(rule, facts, at)
        return known
    return decide(rule, facts, at)


@contextmanager
def prototypes() -> Iterator[None]:
    """Swap in the prototype read path for the duration of the block:
    ``fromisoformat`` for stored instants, an ``isoformat`` based
    ``format_time`` for evidence, one shared decision per purpose where the
    subject's facts cannot change it, statements built once with bind
    parameters, and ``latest_consents`` that builds a record only for the
    latest row."""
    sample = datetime(2026, 1, 31, 9, 0, 0, 123456, tzinfo=UTC)
    assert fast_format_time(sample) == format_time(sample)
    assert fast_parse_time(format_time(sample)) == sample
    patches: list[tuple[Any, str, Any]] = [
        (sql_store, "parse_time", fast_parse_time),
        (sql_store, "format_time", fast_format_time),
        (consent_model, "format_time", fast_format_time),
        (consent_cache, "decide", decide_with_defaults),
        (SqlTx, "latest_consent", _proto_latest_consent),
        (SqlTx, "latest_consents", _proto_latest_consents),
        (SqlTx, "objections_of", _proto_objections_of),
        (SqlTx, "restriction_of", _proto_restriction_of),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def ab_runs(
    runs: int, baseline: Callable[[int], int], prototype: Callable[[int], int]
) -> tuple[float, float, list[float], list[float]]:
    """Alternate baseline and prototype runs (A, B, A, B, ...), so both see
    the same machine load; returns both medians and all rates."""
    a_rates: list[float] = []
    b_rates: list[float] = []
    for run in range(runs):
        for body, rates in ((baseline, a_rates), (prototype, b_rates)):
            started = time.perf_counter()
            count = body(run)
            rates.append(count / (time.perf_counter() - started))
    return median(a_rates), median(b_rates), a_rates, b_rates


def record_ab(
    backend: str, what: str, result: tuple[float, float, list[float], list[float]]
) -> None:
    a, b, a_rates, b_rates = result
    runs = "A " + ", ".join(f"{r:,.0f}" for r in a_rates)
    runs += "; B " + ", ".join(f"{r:,.0f}" for r in b_rates)
    RESULTS.append((backend, f"A/B: {what}", f"{a:,.0f} -> {b:,.0f}", "", f"x{b / a:.2f}", runs))
    print(f"  A/B {what}: {a:,.0f}/s -> {b:,.0f}/s (x{b / a:.2f})  {runs}", flush=True)


def bench_prototypes(bench: BenchStore, work: Workload, args: argparse.Namespace) -> None:
    """Today's engine (A) against the prototype changes (B), interleaved."""
    name = bench.backend
    at = work.at
    ledger = bench.ledger
    proto = ledger
    proto_engine = None
    if bench.backend == "postgres":
        # B also runs without pool_pre_ping, which costs a round trip per checkout
        proto_engine = create_engine(bench.url)
        proto = ConsentLedger(SqlEngineStore(proto_engine), bench.directory, bench.clock)

    def patched(body: Callable[[int], int]) -> Callable[[int], int]:
        def run(run_number: int) -> int:
            with prototypes():
                return body(run_number)

        return run

    subset = work.ids[: min(len(work.ids), args.proto_warm_subjects)]
    cache = ledger.warm_cache(subset, at)
    pairs = [
        (work.rng.choice(subset), work.rng.choice(PURPOSES)) for _ in range(args.warm_decisions)
    ]
    may = cache.may_process

    def warm(_: int) -> int:
        for s, p in pairs:
            may(s, p, at)
        return len(pairs)

    record_ab(
        name,
        "warm may_process; B: one shared decision per purpose where facts cannot change it, "
        "isoformat evidence",
        ab_runs(args.runs, warm, patched(warm)),
    )
    del cache

    samples = [work.pairs(args.cold_decisions) for _ in range(2 * args.runs)]
    ledger.check_subject(*samples[0][0], at=at)
    proto.check_subject(*samples[0][0], at=at)

    def single(which: ConsentLedger, offset: int) -> Callable[[int], int]:
        def run(run_number: int) -> int:
            sample = samples[2 * run_number + offset]
            for s, p in sample:
                which.check_subject(s, p, at)
            return len(sample)

        return run

    extra = ", no pool_pre_ping" if bench.backend == "postgres" else ""
    record_ab(
        name,
        f"cold check_subject; B: statements built once, fromisoformat{extra}",
        ab_runs(args.runs, single(ledger, 0), patched(single(proto, 1))),
    )

    n = args.batch_subjects
    sets = [
        [(s, work.rng.choice(PURPOSES)) for s in work.distinct_subjects(n)]
        for _ in range(2 * args.runs)
    ]

    def many(which: ConsentLedger, offset: int) -> Callable[[int], int]:
        return lambda run_number: len(which.check_many(sets[2 * run_number + offset], at))

    record_ab(
        name,
        f"cold check_many, {n:,} subjects x 1 purpose; B: records built for the latest rows "
        "only, fromisoformat",
        ab_runs(args.runs, many(ledger, 0), patched(many(proto, 1))),
    )
    if args.profile:
        with prototypes():
            profile("PROTOTYPE check_many", lambda: proto.check_many(sets[1], at))
            profile("PROTOTYPE warm x 200,000", lambda: [may(s, p, at) for s, p in pairs[:200_000]])
    if proto_engine is not None:
        proto_engine.dispose()


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
    parser.add_argument(
        "--proto-warm-subjects",
        type=int,
        default=200_000,
        help="Subjects loaded for the prototype's warm figure.",
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["warm", "cold", "appends", "prototypes"]
    )
    parser.add_argument("--profile", action="store_true", help="Print cProfile summaries.")
    args = parser.parse_args(argv)
    print_header("benchmarks/bench_consent.py")
    for bench in stores_from_args(args):
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
        ids = bench.subject_ids()
        work = Workload(ids, bench.clock.now(), random.Random(7))
        if "warm" not in args.skip:
            bench_warm(bench, work, args)
        if "cold" not in args.skip:
            bench_cold(bench, work, args)
        if "prototypes" not in args.skip:
            bench_prototypes(bench, work, args)
        if "appends" not in args.skip:
            bench_appends(bench, work, args)
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
    print("\n| store | measurement | median per s | floor per s | engine/floor | runs |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for row in RESULTS:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
