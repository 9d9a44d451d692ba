"""Verifying the hash chains: ``steward audit verify`` over a seeded store.

Target: both chains of a store with 1,000,000 subjects (more than a million
consent events and a million audit events) verified in under 10 seconds each,
on SQLite and PostgreSQL, with flat memory.

Every measurement runs in a fresh child process, so its peak resident memory
(``ru_maxrss``) belongs to that measurement alone. Beside each figure is a
*floor*: the same keyset-paginated SELECTs issued with the driver, rows
fetched and dropped without hashing. ``--flat-check`` also verifies a store a
tenth the size, to show that peak memory does not grow with the chain::

    python benchmarks/bench_audit_verify.py --subjects 1000000
    python benchmarks/bench_audit_verify.py --subjects 20000 --backend sqlite   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from seed_engine_store import (
    BenchStore,
    add_store_arguments,
    median,
    print_header,
    stores_from_args,
)

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- what each child process does ---------------------------------------------------------


def child_verify(url: str, chain: str) -> dict[str, Any]:
    """``verify_store`` on one chain (or both) through the engine's own store."""
    from datasteward.audit.service import CHAIN_NAMES, verify_store
    from datasteward.store.engine import make_engine
    from datasteward.store.sql_store import SqlEngineStore

    store = SqlEngineStore(make_engine(url))
    with store.reading():
        pass  # connect first, so the baseline includes the driver
    baseline = _rss_mib()
    names = CHAIN_NAMES if chain == "both" else (chain,)
    started = time.perf_counter()
    cpu = time.process_time()
    results = verify_store(store, names)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "rows": sum(r.checked for r in results.values()),
        "ok": all(r.ok for r in results.values()),
        "baseline_mib": baseline,
        "peak_mib": _rss_mib(),
    }


def child_floor(url: str, chain: str, batch: int = 20_000) -> dict[str, Any]:
    """The same paginated SELECTs as ``iter_chain_rows``, with the driver, no hashing."""
    from datasteward.store import chains as chain_specs

    names = ("audit", "consent") if chain == "both" else (chain,)
    sqlite = url.startswith("sqlite")
    if sqlite:
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        mark = "?"
    else:
        import psycopg

        conn = psycopg.connect(url.replace("+psycopg", ""))
        mark = "%s"
    baseline = _rss_mib()
    started = time.perf_counter()
    cpu = time.process_time()
    rows = 0
    for name in names:
        spec = chain_specs.CHAINS[name]
        columns = ", ".join(["seq", "prev_hash", "hash", *spec.fields])
        sql = (
            f"SELECT {columns} FROM {spec.table.name} WHERE seq > {mark} ORDER BY seq LIMIT {batch}"
        )
        last = 0
        while True:
            fetched = conn.execute(sql, (last,)).fetchall()
            if not fetched:
                break
            rows += len(fetched)
            last = fetched[-1][0]
        if not sqlite:
            conn.commit()
    seconds = time.perf_counter() - started
    conn.close()
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "rows": rows,
        "ok": True,
        "baseline_mib": baseline,
        "peak_mib": _rss_mib(),
    }


def row_hash_inline(seq: int, prev_hash: str, fields: Sequence[Any]) -> str:
    """The same digest as :func:`datasteward.audit.chain.row_hash`, with the
    common field types (str, None, int) encoded inline instead of through a
    function call and an ``isinstance`` chain per field."""
    from datasteward.audit.chain import _encode

    parts = [f"{seq}\n{prev_hash}\n"]
    add = parts.append
    for value in fields:
        kind = type(value)
        if kind is str:
            add(f"s{len(value)}:{value}")
        elif value is None:
            add("n;")
        elif kind is int:
            add(f"i{value};")
        else:
            add(_encode(value))
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def _produce(out: queue.Queue[Any], connection: Any, table: Any, columns: Any, batch: int) -> None:
    """Fetch keyset-paginated batches into ``out``; an empty batch ends it."""
    from sqlalchemy import select

    try:
        last = 0
        while True:
            rows = connection.execute(
                select(*columns).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
            ).all()
            out.put(rows)
            if not rows:
                return
            last = int(rows[-1][0])
    except BaseException as exc:  # handed to the consumer, which raises it
        out.put(exc)


def _consume(batches: queue.Queue[Any]) -> Iterator[Any]:
    from datasteward.audit.chain import ChainRow

    while True:
        item = batches.get()
        if isinstance(item, BaseException):
            raise item
        if not item:
            return
        for r in item:
            yield ChainRow(int(r[0]), r[1], r[2], tuple(r[3:]))


def child_inline(url: str, chain: str) -> dict[str, Any]:
    """``verify_store`` unchanged except for :func:`row_hash_inline`."""
    from datasteward.audit import chain as chain_module
    from datasteward.audit.chain import row_hash

    probe = ("a", None, 1, "given", b"\x00")
    assert row_hash_inline(7, "0" * 64, probe) == row_hash(7, "0" * 64, probe)
    chain_module.row_hash = row_hash_inline  # what verify_chain calls
    return child_verify(url, chain)


def child_proto(url: str, chain: str, batch: int = 20_000) -> dict[str, Any]:
    """``verify_chain`` unchanged, fed by a reader thread that fetches the
    next batch while this one is hashed, and with :func:`row_hash_inline`."""
    from datasteward.audit import chain as chain_module
    from datasteward.audit.chain import row_hash, verify_chain
    from datasteward.store import chains as chain_specs
    from datasteward.store.engine import make_engine
    from datasteward.store.sql_store import SqlEngineStore

    probe = ("a", None, 1, "given", b"\x00")
    assert row_hash_inline(7, "0" * 64, probe) == row_hash(7, "0" * 64, probe)
    chain_module.row_hash = row_hash_inline  # what verify_chain calls
    store = SqlEngineStore(make_engine(url))
    with store.reading():
        pass
    baseline = _rss_mib()
    names = ("audit", "consent") if chain == "both" else (chain,)
    started = time.perf_counter()
    cpu = time.process_time()
    checked = 0
    ok = True
    for name in names:
        spec = chain_specs.CHAINS[name]
        columns = [spec.table.c.seq, spec.table.c.prev_hash, spec.table.c.hash] + [
            spec.table.c[f] for f in spec.fields
        ]
        with store.reading() as tx:
            head = chain_specs.read_head(tx.connection, spec)
            batches: queue.Queue[Any] = queue.Queue(maxsize=2)
            reader = threading.Thread(
                target=_produce,
                args=(batches, tx.connection, spec.table, columns, batch),
                daemon=True,
            )
            reader.start()
            result = verify_chain(_consume(batches), head)
            if result.ok:  # a broken chain stops early; the reader then just dies
                reader.join()
        checked += result.checked
        ok = ok and result.ok
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rows": checked,
        "ok": ok,
        "baseline_mib": baseline,
        "peak_mib": _rss_mib(),
    }


def _pg_encoding(table: Any, field: str) -> str:
    """SQL for :func:`datasteward.audit.chain._encode` of one column, by the
    column's type: the same text, built by PostgreSQL."""
    column = table.c[field]
    python_type = column.type.python_type
    if python_type is bytes:
        value = f"'b' || octet_length({field}) || ':' || encode({field}, 'hex')"
    elif python_type is int:
        value = f"'i' || {field} || ';'"
    else:
        value = f"'s' || char_length({field}) || ':' || {field}"
    if column.nullable:
        return f"CASE WHEN {field} IS NULL THEN 'n;' ELSE {value} END"
    return value


def child_pg_hash(url: str, chain: str, batch: int = 20_000) -> dict[str, Any]:
    """PostgreSQL computes each row's hash (``sha256`` is built in); Python
    checks numbering, links and the server's verdict. Same chain rules, the
    hashing moved into the database's C code."""
    import psycopg

    from datasteward.audit.chain import GENESIS_HASH, row_hash
    from datasteward.store import chains as chain_specs

    names = ("audit", "consent") if chain == "both" else (chain,)
    conn = psycopg.connect(url.replace("+psycopg", ""))
    baseline = _rss_mib()
    started = time.perf_counter()
    cpu = time.process_time()
    checked = 0
    ok = True
    for name in names:
        spec = chain_specs.CHAINS[name]
        encoded = " || ".join(_pg_encoding(spec.table, f) for f in spec.fields)
        digest = (
            "encode(sha256(convert_to(seq::text || E'\\n' || prev_hash || E'\\n' || "
            f"{encoded}, 'UTF8')), 'hex')"
        )
        sql = (
            f"SELECT seq, prev_hash, hash, {digest} = hash FROM {spec.table.name} "
            f"WHERE seq > %s ORDER BY seq LIMIT {batch}"
        )
        # the SQL encoding must agree with row_hash: check it on the first row
        first = conn.execute(
            f"SELECT seq, prev_hash, hash, {digest}, "
            f"{', '.join(spec.fields)} FROM {spec.table.name} ORDER BY seq LIMIT 1"
        ).fetchone()
        if first is not None:
            assert first[3] == row_hash(first[0], first[1], tuple(first[4:])) == first[2]
        head = conn.execute(
            "SELECT seq, hash FROM chain_heads WHERE chain = %s", (name,)
        ).fetchone()
        expected, prev, last = 1, GENESIS_HASH, 0
        while ok:
            rows = conn.execute(sql, (last,)).fetchall()
            if not rows:
                break
            for seq, prev_hash, stored, intact in rows:
                if seq != expected or prev_hash != prev or not intact:
                    ok = False
                    break
                prev, expected = stored, expected + 1
            checked += len(rows)
            last = rows[-1][0]
        ok = ok and head is not None and (head[0], head[1]) == (expected - 1, prev)
        conn.commit()
    conn.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rows": checked,
        "ok": ok,
        "baseline_mib": baseline,
        "peak_mib": _rss_mib(),
    }


def run_child(mode: str, url: str, chain: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HERE), "--child", mode, "--url", url, "--chain", chain],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


_CLI_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "exit": out.returncode,
    "stdout": out.stdout,
    "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def run_cli(bench: BenchStore) -> dict[str, Any]:
    """The command a person types, timed with start-up; a small wrapper
    process runs it so that ``RUSAGE_CHILDREN`` holds only that command."""
    steward = Path(sys.executable).parent / "steward"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "STEWARD_HOME": home, "STEWARD_DATABASE_URL": bench.url}
        out = subprocess.run(
            [sys.executable, "-c", _CLI_WRAPPER, str(steward), "audit", "verify", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    wrapped = json.loads(out.stdout)
    report = json.loads(wrapped["stdout"])
    return {
        "seconds": wrapped["seconds"],
        "exit": wrapped["exit"],
        "ok": report["ok"],
        "rows": sum(c["checked"] for c in report["chains"].values()),
        "peak_mib": wrapped["peak_mib"],
    }


# -- the parent: seeds, then measures in children ----------------------------------------------


ROWS: list[tuple[str, ...]] = []
PROTOTYPES = {
    "inline": ("inline", "inline field encoding"),
    "thread": ("proto", "inline encoding + reader thread"),
    "pghash": ("pghash", "hashes computed by PostgreSQL (sha256), links checked in Python"),
}


def measure(
    bench: BenchStore,
    runs: int,
    label: str = "",
    prototypes: Sequence[str] = (),
    chains: Sequence[str] = ("consent", "audit", "both"),
) -> None:
    heads = {c: bench.head_seq(c) for c in ("consent", "audit")}
    print(
        f"  chains: consent {heads['consent']:,} events, audit {heads['audit']:,} events",
        flush=True,
    )
    for chain in chains:
        floors: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        chosen = [
            p for p in prototypes if bench.backend == "postgres" or PROTOTYPES[p][0] != "pghash"
        ]
        measured: dict[str, list[dict[str, Any]]] = {p: [] for p in chosen}
        for _ in range(runs):  # interleaved, so each kind sees the same load
            floors.append(run_child("floor", bench.url, chain))
            results.append(run_child("verify", bench.url, chain))
            for p in chosen:
                measured[p].append(run_child(PROTOTYPES[p][0], bench.url, chain))
        extra = [r for m in measured.values() for r in m]
        if not all(r["ok"] for r in results + extra):
            raise SystemExit(f"{bench.backend}: the {chain} chain did not verify")
        seconds = median([r["seconds"] for r in results])
        floor = median([r["seconds"] for r in floors])
        rows = results[0]["rows"]
        peak = max(r["peak_mib"] for r in results)
        base = min(r["baseline_mib"] for r in results)
        floor_peak = max(r["peak_mib"] for r in floors)
        cpu = median([r["cpu"] for r in results])
        runs_text = ", ".join(f"{r['seconds']:.2f}" for r in results)
        print(
            f"  verify_store({chain}): {rows:,} rows in {seconds:.2f} s median "
            f"({rows / seconds:,.0f} rows/s, process CPU {cpu:.2f} s); runs "
            f"{runs_text}; floor {floor:.2f} s "
            f"(engine/floor {seconds / floor:.1f}); peak RSS {peak:.0f} MiB "
            f"(after connecting {base:.0f} MiB; floor process {floor_peak:.0f} MiB)",
            flush=True,
        )
        ROWS.append(
            (
                bench.backend + label,
                chain,
                f"{rows:,}",
                f"{seconds:.2f}",
                f"{floor:.2f}",
                f"{seconds / floor:.1f}",
                f"{base:.0f} -> {peak:.0f}",
            )
        )
        for p, runs_of in measured.items():
            what = "PROTOTYPE " + PROTOTYPES[p][1]
            proto_s = median([r["seconds"] for r in runs_of])
            proto_peak = max(r["peak_mib"] for r in runs_of)
            proto_runs = ", ".join(f"{r['seconds']:.2f}" for r in runs_of)
            print(
                f"  {what} ({chain}): {proto_s:.2f} s median; runs {proto_runs}; "
                f"peak RSS {proto_peak:.0f} MiB",
                flush=True,
            )
            ROWS.append(
                (
                    bench.backend + label,
                    f"{chain}, {what}",
                    f"{rows:,}",
                    f"{proto_s:.2f}",
                    f"{floor:.2f}",
                    f"{proto_s / floor:.1f}",
                    f"{proto_peak:.0f}",
                )
            )
    cli = run_cli(bench)
    print(
        f"  steward audit verify --json: exit {cli['exit']}, {cli['rows']:,} rows, "
        f"{cli['seconds']:.2f} s wall including start-up, peak RSS {cli['peak_mib']:.0f} MiB",
        flush=True,
    )
    ROWS.append(
        (
            bench.backend + label,
            "both, `steward audit verify` (1 run, start-up included)",
            f"{cli['rows']:,}",
            f"{cli['seconds']:.2f}",
            "",
            "",
            f"{cli['peak_mib']:.0f}",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_store_arguments(parser)
    parser.add_argument("--runs", type=int, default=3, help="Runs per figure (median).")
    parser.add_argument(
        "--flat-check",
        action="store_true",
        help="Also measure a store a tenth the size (peak memory must not grow).",
    )
    parser.add_argument(
        "--chains",
        nargs="+",
        default=["consent", "audit", "both"],
        choices=["consent", "audit", "both"],
        help="What to verify: each chain alone, and both as `steward audit verify` does.",
    )
    parser.add_argument(
        "--prototype",
        nargs="*",
        choices=list(PROTOTYPES),
        default=None,
        help="Also measure these prototypes (all when none is named): inline field "
        "encoding, inline encoding with a reader thread, hashing in PostgreSQL.",
    )
    parser.add_argument(
        "--child", choices=["verify", "floor", "proto", "inline", "pghash"], help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--chain", default="both", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        body = {
            "verify": child_verify,
            "floor": child_floor,
            "proto": child_proto,
            "inline": child_inline,
            "pghash": child_pg_hash,
        }[args.child]
        print(json.dumps(body(args.url, args.chain)))
        return 0
    print_header("benchmarks/bench_audit_verify.py")
    for bench in stores_from_args(args):
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
        chosen = [] if args.prototype is None else (args.prototype or list(PROTOTYPES))
        measure(bench, args.runs, prototypes=chosen, chains=args.chains)
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.flat_check:
        small = argparse.Namespace(**{**vars(args), "subjects": max(args.subjects // 10, 1)})
        small.sqlite_dir = None
        small.pg_database = None
        for bench in stores_from_args(small):
            print(f"[{bench.backend}, {small.subjects:,} subjects] flat-memory check", flush=True)
            measure(bench, args.runs, label=f" ({small.subjects:,} subjects)", chains=args.chains)
    print("\n| store | chain | rows | verify s (median) | floor s | engine/floor | RSS MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
