"""``steward fulfil``: plan and carry out one subject's access, portability,
erasure, rectification or restriction request against the company systems
the policy declares.

Each command names the subject by one or more ``--subject KIND:VALUE``
identities. System URLs come from the environment variables the policy's
``url_env`` names; packages are stored encrypted under ``--home``, and the
reflected schemas of the systems are cached under ``HOME/cache/reflection``
so that a command does not reflect every table again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import runtime
from datasteward.errors import EXIT_FINDINGS, EXIT_OK, EXIT_UNUSABLE, UsageError

if TYPE_CHECKING:
    from datasteward.fulfilment.plan import Plan
    from datasteward.fulfilment.service import Fulfilment, PlanRefused
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
        connectors=sql_connectors(
            rt.settings.env, cache_dir=rt.settings.home / "cache" / "reflection"
        ),
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
        if system.note:
            typer.echo(f"  {system.note}")
        for dataset in system.datasets:
            rows = "?" if dataset.rows is None else str(dataset.rows)
            typer.echo(f"  {dataset.dataset}: {rows} row(s), {dataset.row_action}")
            if dataset.flag:
                typer.echo(f"    restriction flag: {dataset.flag}")
            for field in dataset.fields:
                typer.echo(f"    {field.name}: {field.explanation}")
    for problem in plan.problems:
        typer.echo(f"problem: {problem}")


def _refused(refused: PlanRefused, as_json: bool) -> typer.Exit:
    """Print a refused plan; the exit for it (2: nothing was done)."""
    if as_json:
        emit_json({"refused": True, "plan": refused.plan.to_dict()})
    else:
        typer.echo(refused.message, err=True)
        for problem in refused.plan.problems:
            typer.echo(f"problem: {problem}", err=True)
    return typer.Exit(EXIT_UNUSABLE)


@fulfil_app.command("plan")
def plan_command(
    ctx: typer.Context,
    kind: str = typer.Option(
        ...,
        "--type",
        help="access, portability, erasure, rectification or restriction.",
    ),
    changes: list[str] = typer.Option(
        [], "--set", help="For rectification: SYSTEM.DATASET.FIELD=VALUE; repeatable."
    ),
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
            raise UsageError(
                "--type is access, portability, erasure, rectification or restriction"
            ) from None
        identities = _identities(subjects)
        wanted = _changes(changes) if changes else None
        if wanted and plan_kind is not PlanKind.RECTIFICATION:
            raise UsageError("--set belongs to --type rectification")
        with _service(ctx, _policy(ctx, policy_path)) as service:
            plan = service.plan(plan_kind, identities, changes=wanted)
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
                raise _refused(refused, as_json) from None
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
            for held in entry.held:
                until = "no end date known"
                if held.kept_from and held.kept_until:
                    until = f"their holds end {held.kept_from} to {held.kept_until}"
                undated = f", {held.undated} with no end date yet" if held.undated else ""
                typer.echo(
                    f"    {held.rows_kept} row(s) held ({until}{undated}), "
                    f"{held.rows_released} row(s) past the hold erased"
                )
        for work in report.manual:
            typer.echo(f"  {work.system}: by hand, pending: {work.instructions}")
        for reason in report.reasons:
            typer.echo(f"reason: {reason}")
    raise typer.Exit(EXIT_OK if report.complete else EXIT_FINDINGS)


def _changes(settings: list[str]) -> dict[str, str]:
    """``SYSTEM.DATASET.FIELD=VALUE`` options as a mapping (the value may
    itself hold ``=``; a field named twice is refused)."""
    found: dict[str, str] = {}
    for setting in settings:
        key, equals, value = setting.partition("=")
        if not equals or not key.strip():
            raise UsageError("--set takes SYSTEM.DATASET.FIELD=VALUE")
        if key.strip() in found:
            raise UsageError(f"--set names {key.strip()} twice")
        found[key.strip()] = value
    return found


@fulfil_app.command("rectify")
def rectify_command(
    ctx: typer.Context,
    subjects: list[str] = typer.Option([], "--subject", help=_SUBJECT_HELP),
    changes: list[str] = typer.Option(
        [], "--set", help="SYSTEM.DATASET.FIELD=VALUE, the corrected value; repeatable."
    ),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Correct the subject's data (Art. 16). Every value is checked against
    its field and column first; nothing is written unless all of them fit.
    Exit 0 when done, 1 when a field found none of the subject's rows, 2 when
    the plan was refused and nothing changed."""
    from datasteward.fulfilment.service import PlanRefused

    with reporting_errors(as_json=as_json):
        identities = _identities(subjects)
        if not changes:
            raise UsageError("name at least one correction with --set SYSTEM.DATASET.FIELD=VALUE")
        wanted = _changes(changes)
        with _service(ctx, _policy(ctx, policy_path)) as service:
            try:
                report = service.rectify(identities, wanted)
            except PlanRefused as refused:
                raise _refused(refused, as_json) from None
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo("rectification complete" if report.complete else "rectification NOT complete")
        for entry in report.fields:
            typer.echo(f"  {entry.key}: {entry.rows_matched} row(s), {entry.rows_changed} changed")
        for reason in report.reasons:
            typer.echo(f"reason: {reason}")
    raise typer.Exit(EXIT_OK if report.complete else EXIT_FINDINGS)


@fulfil_app.command("restrict")
def restrict_command(
    ctx: typer.Context,
    subjects: list[str] = typer.Option([], "--subject", help=_SUBJECT_HELP),
    lift: bool = typer.Option(False, "--lift", help="Lift the restriction instead."),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Restrict processing of the subject's data (Art. 18), or lift it: set
    (clear) the restriction flag column on their rows wherever the policy
    names one. Exit 0 when done, 2 when the plan was refused."""
    from datasteward.fulfilment.service import PlanRefused

    with reporting_errors(as_json=as_json):
        identities = _identities(subjects)
        with _service(ctx, _policy(ctx, policy_path)) as service:
            try:
                report = service.restrict(identities, lift=lift)
            except PlanRefused as refused:
                raise _refused(refused, as_json) from None
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(f"restriction {'lifted' if lift else 'imposed'}")
        for system in report.systems:
            if system.engine_only:
                typer.echo(f"  {system.system}: {system.note}")
            for entry in system.datasets:
                typer.echo(
                    f"  {system.system}.{entry.dataset}.{entry.flag}: "
                    f"{entry.rows_matched} row(s), {entry.rows_changed} changed"
                )
    raise typer.Exit(EXIT_OK if report.complete else EXIT_FINDINGS)
