"""``steward outbox ...``: see what the engine has to send, send what is due,
and confirm messages that staff deliver by hand.

Listings never show an address: emails are masked, webhooks show the name of
the variable holding the URL. ``show`` prints one message in full (for staff
who must act on a manual message) and is recorded in the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import runtime
from datasteward.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from datasteward.legaltime.instants import format_time

if TYPE_CHECKING:
    from datasteward.notify.outbox import OutboxEntry

__all__ = ["outbox_app"]

outbox_app = typer.Typer(
    help="Messages to data subjects and recipients: list, send, confirm.", no_args_is_help=True
)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
MESSAGE_ID = typer.Argument(..., help="The outbox message id (from `steward outbox list`).")
STATUSES = "pending, sending, sent, dead, manual or confirmed"


def _line(entry: OutboxEntry) -> str:
    when = entry.sent_at or entry.next_attempt_at or entry.created_at
    label = "sent" if entry.sent_at else ("next" if entry.next_attempt_at else "queued")
    error = f"  last error: {entry.last_error}" if entry.last_error else ""
    recipient = f"  recipient {entry.recipient_id}" if entry.recipient_id else ""
    return (
        f"{entry.id}  {entry.status:<9} {entry.channel:<7} {entry.kind:<19} {entry.to}  "
        f"attempts {entry.attempts}  {label} {format_time(when)}{recipient}{error}"
    )


@outbox_app.command("list")
def list_command(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help=f"Only messages {STATUSES}."),
    request_id: str | None = typer.Option(None, "--request", help="Only messages of a request."),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List messages, newest first, with addresses masked."""
    with reporting_errors(as_json=as_json):
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        outbox = runtime(ctx).outbox
        entries = outbox.entries(status=status, request_id=request_id, limit=limit)
        counts = outbox.counts()
    if as_json:
        emit_json({"counts": counts, "messages": [e.to_dict() for e in entries]})
        return
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    typer.echo(f"outbox: {summary or 'empty'}")
    for entry in entries:
        typer.echo(_line(entry))


@outbox_app.command("send")
def send_command(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", help="Send at most this many messages."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send what is due now. Exit 0 when nothing failed, 1 when a message
    failed (it is retried later, or is dead)."""
    with reporting_errors(as_json=as_json):
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        rt = runtime(ctx)
        report = rt.outbox.deliver_due(limit, actor=rt.settings.actor)
    if as_json:
        emit_json(report.to_dict())
    else:
        typer.echo(
            f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}"
            + (f", lost {report.count('lost')}" if report.count("lost") else "")
        )
        for result in report.results:
            if result.outcome != "sent":
                retry = (
                    f" (next attempt {format_time(result.next_attempt_at)})"
                    if result.next_attempt_at
                    else ""
                )
                typer.echo(f"{result.id}  {result.outcome}: {result.error}{retry}")
        for channel, waiting in report.waiting_without_sender.items():
            hint = " (set STEWARD_SMTP_URL)" if channel == "email" else ""
            typer.echo(f"{waiting} {channel} message(s) wait: no {channel} sender{hint}")
    failed = report.retrying + report.dead
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@outbox_app.command("confirm")
def confirm_command(
    ctx: typer.Context,
    message_id: str = MESSAGE_ID,
    note: str | None = typer.Option(None, "--note", help="What was done (kept encrypted)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record that a manual message was carried out."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        entry = rt.outbox.confirm(message_id, rt.settings.actor, note)
    if as_json:
        emit_json(entry.to_dict())
    else:
        typer.echo(f"{entry.id} confirmed")


@outbox_app.command("retry")
def retry_command(
    ctx: typer.Context, message_id: str = MESSAGE_ID, as_json: bool = JSON_OPTION
) -> None:
    """Queue a dead message again, with a fresh count of attempts."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        entry = rt.outbox.retry(message_id, rt.settings.actor)
    if as_json:
        emit_json(entry.to_dict())
    else:
        typer.echo(f"{entry.id} queued again")


@outbox_app.command("show")
def show_command(
    ctx: typer.Context, message_id: str = MESSAGE_ID, as_json: bool = JSON_OPTION
) -> None:
    """Print one message in full (addressee and text); recorded in the audit log."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        message = rt.outbox.show(message_id, rt.settings.actor)
    if as_json:
        emit_json(message.to_dict())
        return
    entry = message.entry
    typer.echo(f"id: {entry.id}\nstatus: {entry.status}\nchannel: {entry.channel}")
    typer.echo(f"to: {message.to}\nsubject: {message.subject}\n")
    typer.echo(message.text)


@outbox_app.command("secret")
def secret_command(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Print the key webhooks are signed with, to give to recipients; recorded
    in the audit log."""
    from datasteward.notify.wiring import webhook_secret

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        secret = webhook_secret(rt.settings, rt.keyring)
        source = "STEWARD_WEBHOOK_SECRET" if rt.settings.webhook_secret else "master key"
        with rt.engine.transaction() as tx:
            tx.audit(
                at=rt.clock.now(),
                actor=rt.settings.actor,
                action="webhook_secret.revealed",
                object_type="outbox",
                object_id="webhook-secret",
                reason="webhook signing key shown to staff",
                policy_version=None,
                details={"source": source},
            )
    if as_json:
        emit_json({"secret": secret, "source": source})
    else:
        typer.echo(secret)
