"""``steward retention``: plan and run the policy's retention rules in the
company systems, and end the engine's own expired records.

System URLs come from the environment variables the policy's ``url_env``
names; progress, audit events and the records of restricted subjects and
open requests live in the engine store."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import Runtime, runtime
from datasteward.errors import EXIT_FINDINGS, EXIT_OK, UsageError

if TYPE_CHECKING:
    from datasteward.policy.model import Policy
    from datasteward.retention import RetentionPlan, SweepReport, UnitReport

__all__ = ["retention_app"]

retention_app = typer.Typer(
    help="Carry out the policy's retention rules and end the engine's expired records.",
    no_args_is_help=True,
)

_AT_HELP = "The moment to sweep at: YYYY-MM-DD (midnight UTC) or an ISO time (default: now)."
_POLICY_HELP = "Policy file (default: the active policy in the store)."
_JSON_HELP = "Print machine-readable JSON."


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--at must be a date (2026-11-01) or an ISO time (2026-11-01T12:00:00Z), not {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _policy(rt: Runtime, path: Path | None) -> tuple[Policy, int | None]:
    if path is not None:
        from datasteward.policy import load_policy_file

        return load_policy_file(path).policy, None
    from datasteward.policy.active import load_active_policy

    with rt.engine.reading() as tx:
        active = load_active_policy(tx)
    return active.policy, active.version


def _hash_key(rt: Runtime) -> bytes:
    from datasteward.fulfilment.service import erasure_hash_key

    return erasure_hash_key(rt.keyring)


def _print_plan(plan: RetentionPlan) -> None:
    typer.echo(f"retention plan at {plan.at.isoformat()}: {'ok' if plan.ok else 'PROBLEMS'}")
    for entry in plan.units:
        unit = entry.unit
        what = unit.action.value
        if unit.fields:
            what += " " + ", ".join(f"{f.name} ({f.operator.action.value})" for f in unit.fields)
        typer.echo(f"{unit.rule_id}: {unit.system}.{unit.dataset}: {what}")
        typer.echo(
            f"  anchor {unit.anchor.describe(unit.dataset)} + {unit.period}: "
            f"due when at or before {entry.cutoff.isoformat()}"
        )
        for child in unit.children:
            typer.echo(
                f"  first {'unlinks' if child.unlink else 'deletes'} rows of {child.dataset}"
            )
        if entry.problem:
            typer.echo(f"  problem: {entry.problem}")
        else:
            typer.echo(f"  due: {entry.rows_due} row(s), kept: {entry.rows_held} row(s)")
        for reason in entry.held:
            typer.echo(f"  kept {reason.rows} by {reason.label}: {reason.reason}")
        for note in unit.notes:
            typer.echo(f"  note: {note}")
        for statement in entry.statements:
            typer.echo(f"  sql ({statement.label}): {statement.sql}")
    for blocked in plan.blocked:
        where = f" in {blocked.system}.{blocked.dataset}" if blocked.dataset else ""
        tag = "by hand" if blocked.by_hand else "not swept"
        typer.echo(f"{blocked.rule_id}{where}: {tag}: {blocked.reason}")


@retention_app.command("plan")
def plan_command(
    ctx: typer.Context,
    at: str | None = typer.Option(None, "--at", help=_AT_HELP),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Show, per rule and dataset, the rows due, the rows kept and why, and the
    statements a sweep would run. Writes nothing. Exit 0 when every rule can
    be swept, 1 when some cannot (the reasons are listed)."""
    from datasteward.retention import plan_retention

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        moment = _at(at) or rt.clock.now()
        policy, _version = _policy(rt, policy_path)
        backend = rt.retention_backend(policy)
        try:
            plan = plan_retention(
                policy, backend, rt.retention_subjects(), at=moment, hash_key=_hash_key(rt)
            )
        finally:
            backend.close()
    if as_json:
        emit_json(plan.to_dict())
    else:
        _print_plan(plan)
    raise typer.Exit(EXIT_OK if plan.ok else EXIT_FINDINGS)


def _print_run(report: SweepReport) -> None:
    if report.dry_run:
        head = "dry run: nothing changed"
    else:
        head = f"run {report.run_id}{' (resumed)' if report.resumed else ''}"
        head += ": complete" if report.complete else ": NOT complete"
    typer.echo(f"{head} (at {report.at.isoformat()})")
    for entry in report.units:
        unit = entry.unit
        verb = (
            "would change"
            if report.dry_run
            else ("deleted" if unit.action.value == "delete" else "anonymised")
        )
        line = (
            f"  {unit.rule_id}: {unit.system}.{unit.dataset}: {entry.state}, "
            f"{entry.rows_done} row(s) {verb}, {entry.rows_held} kept, {entry.batches} batch(es)"
        )
        children = [f"{n} of {name}" for name, n in entry.children.items() if n]
        if children:
            line += ", first " + ", ".join(children)
        typer.echo(line)
    for blocked in report.blocked:
        tag = "by hand" if blocked.by_hand else "not swept"
        typer.echo(f"  {blocked.rule_id}: {tag}: {blocked.reason}")
    for reason in report.reasons:
        typer.echo(f"reason: {reason}")


class _Bar:
    """A progress bar on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.progress: Any = None
        self.task: Any = None
        if enabled:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed:,.0f} row(s)"),
                TimeElapsedColumn(),
            )

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("retention", total=None)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, entry: UnitReport) -> None:
        if self.progress is not None:
            description = f"{entry.unit.rule_id} {entry.unit.dataset}"
            self.progress.update(self.task, description=description, completed=entry.rows_done)


@retention_app.command("run")
def run_command(
    ctx: typer.Context,
    at: str | None = typer.Option(None, "--at", help=_AT_HELP + " Not later than now."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what would change; change and record nothing."
    ),
    batch_size: int = typer.Option(
        50_000,
        "--batch-size",
        help="Most rows per batch (default 50000); batches adapt to take about 0.25 s.",
    ),
    max_seconds: float | None = typer.Option(
        None, "--max-seconds", help="Stop after the batch that passes this many seconds."
    ),
    policy_path: Path | None = typer.Option(None, "--policy", help=_POLICY_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Sweep every rule in batches, resuming an unfinished run first. Exit 0
    when the run is complete, 1 when it is not (stopped by --max-seconds, a
    rule that cannot be swept, a failed dataset, refused values)."""

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        policy, version = _policy(rt, policy_path)
        sweeper, backend = rt.retention_sweeper(policy, version, actor=rt.settings.actor)
        try:
            with _Bar(sys.stdout.isatty() and not as_json) as bar:
                report = sweeper.run(
                    at=_at(at),
                    batch_size=batch_size,
                    max_seconds=max_seconds,
                    dry_run=dry_run,
                    on_batch=bar,
                )
        finally:
            backend.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_run(report)
    raise typer.Exit(EXIT_OK if report.complete else EXIT_FINDINGS)


@retention_app.command("housekeeping")
def housekeeping_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """End the engine's own expired records: verification codes a day after
    use or expiry, sent messages after 30 days, expired packages. The audit
    log is never touched."""
    from datasteward.retention import housekeeping
    from datasteward.retention.engine_store import SqlHousekeeping

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        report = housekeeping(
            SqlHousekeeping(rt.engine),
            home=rt.settings.home,
            clock=rt.clock,
            actor=rt.settings.actor,
        )
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(f"verification codes deleted: {report.verification_codes}")
        typer.echo(f"sent messages deleted: {report.outbox_messages}")
        typer.echo(f"expired packages deleted: {len(report.packages)}")
        typer.echo(f"staging files deleted: {report.staging_files}")
