"""``steward shop generate``: load the invented example shop into a database,
for trying requests, retention and benchmarks against realistic data."""

from __future__ import annotations

import typer

from datasteward.cli.output import emit_json, reporting_errors

__all__ = ["shop_app"]

shop_app = typer.Typer(help="The generated example shop.", no_args_is_help=True)


@shop_app.command("generate")
def generate(
    rows: int = typer.Option(..., "--rows", help="Rows in all tables together (at least 1,000)."),
    url: str = typer.Option(
        ..., "--url", help="Database URL: sqlite:///..., postgresql://..., mysql+pymysql://..."
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed; the same seed gives the same shop."),
    replace: bool = typer.Option(False, "--replace", help="Drop existing shop tables first."),
    heavy: int = typer.Option(0, "--heavy", help="Also add one customer who owns this many rows."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Generate the shop (11 tables, invented people) into the database at --url.

    Deterministic for a given seed and size. The URL is never printed."""
    from datasteward.shop import add_heavy_customer, load, sample_subjects_by_role

    with reporting_errors(as_json=as_json):
        result = load(url, rows, seed, replace=replace)
        heavy_email = add_heavy_customer(url, rows=heavy, seed=seed) if heavy else None
        samples = sample_subjects_by_role(url)
    summary = {
        "backend": result.backend,
        "rows": dict(result.counts),
        "seconds": round(result.seconds, 2),
        "sample_subjects": samples,
        "heavy_subject": heavy_email,
    }
    if as_json:
        emit_json(summary)
        return
    typer.echo(f"shop generated on {result.backend} in {result.seconds:.1f} s")
    for table, count in result.counts.items():
        typer.echo(f"  {table:<24} {count:>12,}")
    typer.echo("subjects to try requests with:")
    for role, email in samples.items():
        typer.echo(f"  {role:<16} email:{email}")
    if heavy_email:
        typer.echo(f"  {'heavy':<16} email:{heavy_email}")
