"""Verifying the hash chains: ``steward audit verify`` over a seeded store.

Target: both chains of a store with 1,000,000 subjects (more than a million
consent events and a million audit events) verified in under 10 seconds each,
on SQLite and PostgreSQL, with flat memory.

Every measurement runs in a fresh child process, so its peak resident memory
(``ru_maxrss``) belongs to that measurement alone. Beside each figure is a
*floor*: the same keyset-paginated SELECTs issued with the driver, rows
fetched and dropped without hashing. ``--flat-check`` also verifies a store a
tenth the size, to show that peak memory does not grow with the chain.
``--baseline-src DIR`` also runs the verification with the engine's code
from ``DIR`` (``git archive HEAD src | tar -x -C /tmp/before`` gives the
code of the last commit), interleaved run by run with today's code::

    python benchmarks/bench_audit_verify.py --subjects 1000000
    python benchmarks/bench_audit_verify.py --subjects 20000 --backend sqlite   # quick
    python benchmarks/bench_audit_verify.py --baseline-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = verify_store(store, names)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        # worker processes (parallel verification of long SQLite chains)
        "workers_cpu": after.ru_utime + after.ru_stime - workers.ru_utime - workers.ru_stime,
        "workers_peak_mib": after.ru_maxrss / 1024,
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


def run_child(mode: str, url: str, chain: str, source: str | None = None) -> dict[str, Any]:
    """One measurement in a fresh process; ``source`` puts another copy of
    the engine's ``src`` first on the path (the code before a change)."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = source
    out = subprocess.run(
        [sys.executable, str(HERE), "--child", mode, "--url", url, "--chain", chain],
        check=True,
        capture_output=True,
        text=True,
        env=env,
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


def measure(
    bench: BenchStore,
    runs: int,
    label: str = "",
    chains: Sequence[str] = ("consent", "audit", "both"),
    baseline: str | None = None,
) -> None:
    heads = {c: bench.head_seq(c) for c in ("consent", "audit")}
    print(
        f"  chains: consent {heads['consent']:,} events, audit {heads['audit']:,} events",
        flush=True,
    )
    for chain in chains:
        floors: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        before: list[dict[str, Any]] = []
        for _ in range(runs):  # interleaved, so each kind sees the same load
            floors.append(run_child("floor", bench.url, chain))
            if baseline is not None:
                before.append(run_child("verify", bench.url, chain, baseline))
            results.append(run_child("verify", bench.url, chain))
        if not all(r["ok"] for r in results + before):
            raise SystemExit(f"{bench.backend}: the {chain} chain did not verify")
        seconds = median([r["seconds"] for r in results])
        floor = median([r["seconds"] for r in floors])
        rows = results[0]["rows"]
        peak = max(r["peak_mib"] for r in results)
        base = min(r["baseline_mib"] for r in results)
        cpu = median([r["cpu"] + r.get("workers_cpu", 0.0) for r in results])
        runs_text = ", ".join(f"{r['seconds']:.2f}" for r in results)
        print(
            f"  verify_store({chain}): {rows:,} rows in {seconds:.2f} s median "
            f"({rows / seconds:,.0f} rows/s, {seconds * 1e6 / rows:.2f} s per million, "
            f"CPU {cpu:.2f} s, worker processes included); runs {runs_text}; floor {floor:.2f} s "
            f"(engine/floor {seconds / floor:.1f}); peak RSS {peak:.0f} MiB "
            f"(after connecting {base:.0f} MiB)",
            flush=True,
        )
        then = ""
        if before:
            then_s = median([r["seconds"] for r in before])
            then = f"{then_s:.2f} -> {seconds:.2f} (x{then_s / seconds:.2f} faster)"
            then_runs = ", ".join(f"{r['seconds']:.2f}" for r in before)
            print(f"    before the change: {then_s:.2f} s median; runs {then_runs}", flush=True)
        ROWS.append(
            (
                bench.backend + label,
                chain,
                f"{rows:,}",
                f"{seconds:.2f}",
                f"{seconds * 1e6 / rows:.2f}",
                then,
                f"{floor:.2f}",
                f"{base:.0f} -> {peak:.0f}",
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
            f"{cli['seconds'] * 1e6 / cli['rows']:.2f}",
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
        "--baseline-src",
        default=None,
        help="Also verify with the engine's code from this src directory (for example "
        "an export of an earlier commit), interleaved with today's: before/after figures.",
    )
    parser.add_argument("--child", choices=["verify", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--chain", default="both", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        body = {"verify": child_verify, "floor": child_floor}[args.child]
        print(json.dumps(body(args.url, args.chain)))
        return 0
    print_header("benchmarks/bench_audit_verify.py")
    for bench in stores_from_args(args):
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
        measure(bench, args.runs, chains=args.chains, baseline=args.baseline_src)
        print(f"[{bench.backend}] load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.flat_check:
        small = argparse.Namespace(**{**vars(args), "subjects": max(args.subjects // 10, 1)})
        small.sqlite_dir = None
        small.pg_database = None
        for bench in stores_from_args(small):
            print(f"[{bench.backend}, {small.subjects:,} subjects] flat-memory check", flush=True)
            measure(bench, args.runs, label=f" ({small.subjects:,} subjects)", chains=args.chains)
    print(
        "\n| store | chain | rows | verify s (median) | s per million rows | before -> after "
        "| floor s | RSS MiB |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | --- |")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
