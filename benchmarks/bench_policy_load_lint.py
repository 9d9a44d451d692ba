"""How long a large policy takes to load and lint.

Target: loading and linting a policy with 200 purposes and 2,000 dataset
fields takes less than one second (median of 7 runs). ``steward lint`` runs
in editors and CI on every change, so it must feel instant.

    python benchmarks/bench_policy_load_lint.py [--purposes 200] [--fields 2000] [--runs 7]

Exits 1 when the load+lint median misses the target.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datasteward.lint import lint_policy
from datasteward.policy import load_policy_file
from generate_policy import generate_policy

TARGET_SECONDS = 1.0


def _median_seconds(action: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    timings: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time load_policy_file and lint_policy.")
    parser.add_argument("--purposes", type=int, default=200)
    parser.add_argument("--fields", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    text = generate_policy(args.purposes, args.fields)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "policy.yaml"
        path.write_text(text, encoding="utf-8")

        loaded = load_policy_file(path)  # also a warm-up: imports, caches
        findings = lint_policy(loaded)

        def load_and_lint() -> object:
            return lint_policy(load_policy_file(path))

        load, load_runs = _median_seconds(lambda: load_policy_file(path), args.runs)
        lint, lint_runs = _median_seconds(lambda: lint_policy(loaded), args.runs)
        both, both_runs = _median_seconds(load_and_lint, args.runs)

    command = "python benchmarks/bench_policy_load_lint.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"command: {command.strip()}")
    print(f"python {platform.python_version()} on {platform.machine()}")
    print(
        f"policy: {args.purposes} purposes, {args.fields} fields, "
        f"{len(text.splitlines()):,} lines, {len(text.encode()):,} bytes; "
        f"{len(findings)} findings"
    )
    print(f"median of {args.runs} runs (seconds):")
    print(f"  {'step':<12} {'median':>8} {'min':>8} {'max':>8}")
    for name, median, runs in (
        ("load", load, load_runs),
        ("lint", lint, lint_runs),
        ("load+lint", both, both_runs),
    ):
        print(f"  {name:<12} {median:>8.3f} {min(runs):>8.3f} {max(runs):>8.3f}")
    met = both < TARGET_SECONDS
    verdict = "met" if met else "MISSED"
    print(f"target load+lint < {TARGET_SECONDS:.1f} s: {verdict} ({both:.3f} s)")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
