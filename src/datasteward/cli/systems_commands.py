"""``steward systems check``: compare the policy's systems with the live databases."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import runtime
from datasteward.errors import EXIT_FINDINGS
from datasteward.policy import load_policy_file
from datasteward.policy.model import ConnectorKind, Policy

__all__ = ["systems_app"]

systems_app = typer.Typer(help="The company systems the policy declares.", no_args_is_help=True)


@systems_app.command("check")
def check(
    ctx: typer.Context,
    policy_path: Path | None = typer.Option(
        None, "--policy", help="Policy file to check (default: the active policy in the store)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Compare each declared system with its live schema: missing tables or
    columns, wrong keys, missing relations, unfit erasure actions, and columns
    that look personal but are declared nowhere. Exit 0 when no errors, 1 otherwise."""
    from datasteward.connectors import SqlConnector

    with reporting_errors(as_json=as_json):
        policy = _policy(ctx, policy_path)
        results = []
        skipped = []
        for system in policy.systems:
            if system.connector is ConnectorKind.MANUAL:
                skipped.append(system.id)
                continue
            with SqlConnector.from_env(system, dict(os.environ)) as connector:
                results.append(connector.check(system))
    ok = all(r.ok for r in results)
    if as_json:
        emit_json({"ok": ok, "systems": [r.to_dict() for r in results], "manual_systems": skipped})
    else:
        for result in results:
            typer.echo(f"{result.system}: {'ok' if result.ok else 'PROBLEMS'}")
            for problem in result.problems:
                where = ".".join(p for p in (problem.dataset, problem.column) if p)
                typer.echo(f"  {problem.severity.value} {where}: {problem.message}")
        for system_id in skipped:
            typer.echo(f"{system_id}: manual system, nothing to connect to")
    raise typer.Exit(0 if ok else EXIT_FINDINGS)


def _policy(ctx: typer.Context, path: Path | None) -> Policy:
    if path is not None:
        return load_policy_file(path).policy
    from datasteward.policy.active import load_active_policy

    rt = runtime(ctx)
    with rt.engine.reading() as tx:
        return load_active_policy(tx).policy
