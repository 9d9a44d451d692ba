"""``steward fulfil``: plan and carry out one subject's access, portability or
erasure request against the company systems the policy declares.

Each command names the subject by one or more ``--subject KIND:VALUE``
identities. System URLs come from the environment variables the policy's
``url_env`` names; packages are stored encrypted under ``--home``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import runtime
from datasteward.errors import EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE, UsageError

if TYPE_CHECKING:
    from datasteward.fulfilment.plan import Plan
    from datasteward.fulfilment.service import Fulfilment
    from datasteward.identity import Identity
    from datasteward.policy.model import Policy

__all__ = ["fulfil_app"]

fulfil_app = typer.Typer(
    help="Carry out one data subject's request in the company systems.", no_args_is_help=True
)

_SUBJECT_HELP = "An identity of the subject, KIND:VALUE (e.g. email:ana@example.com); repeatable."
_POLICY_HELP = "Policy file (default: the active policy in the store)."


def _identities(subjects: list[str]) -> list[Identity]:
    from datasteward.identity import parse_identity

    if not subjects:
        raise UsageError("name the subject with at least one --subject KIND:VALUE")
    return [parse_identity(text) for text in subjects]


def _policy(ctx: typer.Context, path: Path | None) -> Policy:
    from datasteward.policy import load_policy_file

    if path is not None:
        return load_policy_file(path).policy
    from datasteward.policy.active import load_active_policy

    with runtime(ctx).engine.reading() as tx:
        return load_active_policy(tx).policy


def _service(ctx: typer.Context, policy: Policy) -> Fulfilment:
    from datasteward.connectors import sql_connectors
    from datasteward.fulfilment.service import Fulfilment, erasure_hash_key

    rt = runtime(ctx)
    return Fulfilment(
        policy,
        connectors=sql_connectors(rt.settings.env),
        keyring=rt.keyring,
        home=rt.settings.home,
        clock=rt.clock,
        hash_key=erasure_hash_key(rt.keyring),
    )


def _print_plan(plan: Plan) -> None:
    typer.echo(f"{plan.kind.value} plan: {'ok' if plan.ok else 'REFUSED'}")
    for system in plan.systems:
        typer.echo(f"{system.system} ({system.connector})")
        if system.manual_instructions:
            typer.echo(f"  by hand: {system.manual_instructions}")
        for dataset in system.datasets:
            rows = "?" if dataset.rows is None else str(dataset.rows)
            typer.echo(f"  {dataset.dataset}: {rows} row(s), {dataset.row_action}")
            for field in dataset.fields:
                typer.echo(f"    {field.name}: {field.explanation}")
    for problem in plan.problems:
        typer.echo(f"problem: {problem}")


@fulfil_app.command("plan")
def plan_command(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--type", help="access, portability or erasure."),
    subjects: list[str] = typer.Option([], "--subject", help=_SUBJECT_HELP),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show what a request would do, with the subject's rows counted. Nothing
    is changed. Exit 0 when the plan is sound, 1 when it has problems."""
    from datasteward.fulfilment.plan import PlanKind

    with reporting_errors(as_json=as_json):
        try:
            plan_kind = PlanKind(kind)
        except ValueError:
            raise UsageError("--type is access, portability or erasure") from None
        identities = _identities(subjects)
        with _service(ctx, _policy(ctx, policy_path)) as service:
            plan = service.plan(plan_kind, identities)
    if as_json:
        emit_json(plan.to_dict())
    else:
        _print_plan(plan)
    raise typer.Exit(EXIT_OK if plan.ok else EXIT_FINDINGS)


@fulfil_app.command("access")
def access_command(
    ctx: typer.Context,
    subjects: list[str] = typer.Option([], "--subject", help=_SUBJECT_HELP),
    portability: bool = typer.Option(
        False, "--portability", help="Write the portability package (Art. 20) instead."
    ),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Write the subject's access package (Art. 15), store it encrypted, and
    print its id, expiry and a download token."""
    from datasteward.packages import download_token

    with reporting_errors(as_json=as_json):
        identities = _identities(subjects)
        with _service(ctx, _policy(ctx, policy_path)) as service:
            _plan, stored = service.access(identities, portability=portability)
            token = download_token(service.keyring, stored.package_id, stored.expires_at)
    summary = {
        "package_id": stored.package_id,
        "kind": "portability" if portability else "access",
        "expires_at": stored.expires_at.isoformat(),
        "size": stored.size,
        "download_token": token,
    }
    if as_json:
        emit_json(summary)
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


@fulfil_app.command("export")
def export_command(
    ctx: typer.Context,
    package_id: str = typer.Argument(..., help="The package id `fulfil access` printed."),
    out: Path = typer.Option(..., "--out", help="Directory to write <id>.zip into."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Decrypt a stored package to DIR/<id>.zip (for staff handing it over)."""
    from datasteward.packages import export_package

    with reporting_errors(as_json=as_json):
        if not out.is_dir():
            raise UsageError(f"--out must be an existing directory: {out}")
        rt = runtime(ctx)
        target = out / f"{package_id}.zip"
        stored = export_package(
            rt.settings.home, rt.keyring, package_id, target, now=rt.clock.now()
        )
    if as_json:
        emit_json({"package_id": stored.package_id, "path": str(target), "size": stored.size})
    else:
        typer.echo(str(target))


@fulfil_app.command("erase")
def erase_command(
    ctx: typer.Context,
    subjects: list[str] = typer.Option([], "--subject", help=_SUBJECT_HELP),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Erase the subject as the policy says. Exit 0 when complete, 1 when not
    complete (the reasons are listed), 2 when the plan was refused and
    nothing was changed."""
    from datasteward.fulfilment.service import PlanRefused

    with reporting_errors(as_json=as_json):
        identities = _identities(subjects)
        with _service(ctx, _policy(ctx, policy_path)) as service:
            try:
                report = service.erase(identities)
            except PlanRefused as refused:
                if as_json:
                    emit_json({"refused": True, "plan": refused.plan.to_dict()})
                else:
                    typer.echo(refused.message, err=True)
                    for problem in refused.plan.problems:
                        typer.echo(f"problem: {problem}", err=True)
                raise typer.Exit(EXIT_UNUSABLE) from None
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo("erasure complete" if report.complete else "erasure NOT complete")
        for entry in report.datasets:
            typer.echo(
                f"  {entry.key}: {entry.rows_matched} row(s), {entry.rows_deleted} deleted, "
                f"{sum(entry.changed.values())} value(s) changed"
            )
            for kept in entry.kept:
                typer.echo(
                    f"    {kept.field} kept: {kept.hold.law} ({kept.hold.article}), "
                    f"{kept.hold.period.describe()} after {kept.hold.anchor_event}"
                )
        for work in report.manual:
            typer.echo(f"  {work.system}: by hand, pending: {work.instructions}")
        for reason in report.reasons:
            typer.echo(f"reason: {reason}")
    raise typer.Exit(EXIT_OK if report.complete else EXIT_FINDINGS)
