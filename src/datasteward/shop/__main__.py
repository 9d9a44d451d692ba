"""``python -m datasteward.shop``: generate the example shop into a database.

    python -m datasteward.shop --rows 1000000 --url postgresql://postgres@localhost/shop
    python -m datasteward.shop --rows 20000 --url sqlite:///shop.db --replace --heavy 100000

Prints the rows per table, the time taken, and the emails of a few known
data subjects to try requests with. The URL is never printed (it may hold a
password). Exit codes follow ``steward``: 0 done, 2 bad arguments, 3 the
database already holds shop tables (use ``--replace``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from datasteward.errors import StewardError
from datasteward.shop.generate import DEFAULT_BATCH, DEFAULT_NOW, DEFAULT_SEED, MIN_ROWS
from datasteward.shop.load import add_heavy_customer, load, sample_subjects_by_role

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasteward.shop",
        description="Generate the invented example shop into a database.",
    )
    parser.add_argument("--rows", type=int, required=True, help=f"rows in all (>= {MIN_ROWS})")
    parser.add_argument(
        "--url", required=True, help="database URL: sqlite:///..., postgresql://..., mysql://..."
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 1)")
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=DEFAULT_NOW,
        help="reference time in UTC, all dates lie before it (default 2026-11-01T00:00:00)",
    )
    parser.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help="rows per insert batch (default 10000)"
    )
    parser.add_argument("--replace", action="store_true", help="drop existing shop tables first")
    parser.add_argument(
        "--heavy",
        type=int,
        default=0,
        metavar="ROWS",
        help="also add one customer who owns ROWS rows (orders and access log)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.now.tzinfo is not None:  # 2026-11-01T02:00+02:00 is 2026-11-01T00:00 UTC
        args.now = args.now.astimezone(UTC).replace(tzinfo=None)
    step = max(args.rows // 10, 1)
    shown = [0]

    def progress(table: str, loaded: int) -> None:
        if not args.quiet and loaded // step > shown[0]:
            shown[0] = loaded // step
            print(f"  {loaded:>12,} rows ({table})", file=sys.stderr, flush=True)

    try:
        result = load(
            args.url,
            args.rows,
            args.seed,
            batch=args.batch,
            replace=args.replace,
            now=args.now,
            progress=progress,
        )
        heavy = ""
        if args.heavy:
            heavy = add_heavy_customer(
                args.url, args.heavy, seed=args.seed, now=args.now, batch=args.batch
            )
        samples = sample_subjects_by_role(args.url)
    except StewardError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return error.exit_code
    rate = result.total_rows / result.seconds if result.seconds else 0.0
    print(
        f"loaded {result.total_rows:,} rows into {result.backend} "
        f"in {result.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    for table, count in result.counts.items():
        print(f"  {table:<24}{count:>12,}")
    if heavy:
        print(f"heavy customer ({args.heavy:,} rows): {heavy}")
    print("sample subjects:")
    for role, email in samples.items():
        print(f"  {role:<16}{email}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
