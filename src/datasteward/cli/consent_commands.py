"""``steward consent ...``: record consent events and answer decisions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from datasteward.cli.engine_commands import default_region
from datasteward.cli.output import emit_json, reporting_errors, write_output
from datasteward.cli.runtime import Runtime, runtime
from datasteward.consent.model import Channel, ConsentKind, ConsentRecord
from datasteward.consent.receipt import build_receipt
from datasteward.consent.source import SourceDetails
from datasteward.identity import Identity, parse_identity
from datasteward.legaltime.instants import format_time
from datasteward.policy.active import load_active_policy

__all__ = ["consent_app"]

consent_app = typer.Typer(help="Record consent and decide on processing.", no_args_is_help=True)

SUBJECT = typer.Option(
    ..., "--subject", help="The data subject as KIND:VALUE, e.g. email:ana@example.com."
)
PURPOSE = typer.Option(..., "--purpose", help="Purpose id from the active policy.")
CHANNEL = typer.Option(Channel.STAFF, "--channel", help="Where the event came from.")
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
IP = typer.Option(None, "--ip", help="IP address of the request (kept truncated, encrypted).")
USER_AGENT = typer.Option(None, "--user-agent", help="User agent of the request (encrypted).")
AT = typer.Option(None, "--at", help="When it happened (ISO 8601), for paper or imported records.")


def _identity(rt: Runtime, text: str) -> Identity:
    return parse_identity(text, default_region=default_region(rt))


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _record_dict(record: ConsentRecord) -> dict[str, object]:
    return {
        "seq": record.seq,
        "event_id": record.event_id,
        "subject_id": record.subject_id,
        "purpose": record.purpose_id,
        "kind": record.kind.value,
        "at": format_time(record.occurred_at),
        "expires_at": format_time(record.expires_at) if record.expires_at else None,
        "policy_version": record.policy_version,
        "purpose_hash": record.purpose_hash,
        "channel": record.channel,
        "actor": record.actor,
    }


def _record(
    ctx: typer.Context,
    kind: ConsentKind,
    subject: str,
    purpose: str,
    channel: Channel,
    ip: str | None,
    user_agent: str | None,
    at: datetime | None,
    as_json: bool,
) -> None:
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        identity = _identity(rt, subject)
        source = SourceDetails(ip=ip, user_agent=user_agent) if (ip or user_agent) else None
        method = {
            ConsentKind.GIVEN: rt.ledger.give,
            ConsentKind.WITHDRAWN: rt.ledger.withdraw,
            ConsentKind.REFUSED: rt.ledger.refuse,
        }[kind]
        record = method(
            identity,
            purpose,
            channel=channel,
            actor=rt.settings.actor,
            source=source,
            occurred_at=_aware(at),
        )
    if as_json:
        emit_json(_record_dict(record))
    else:
        typer.echo(
            f"consent {record.kind.value} for '{record.purpose_id}' "
            f"(event {record.seq}, policy version {record.policy_version})"
        )


@consent_app.command("give")
def give(
    ctx: typer.Context,
    subject: str = SUBJECT,
    purpose: str = PURPOSE,
    channel: Channel = CHANNEL,
    ip: str | None = IP,
    user_agent: str | None = USER_AGENT,
    at: datetime | None = AT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record that the subject gave consent to a purpose."""
    _record(ctx, ConsentKind.GIVEN, subject, purpose, channel, ip, user_agent, at, as_json)


@consent_app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    subject: str = SUBJECT,
    purpose: str = PURPOSE,
    channel: Channel = CHANNEL,
    ip: str | None = IP,
    user_agent: str | None = USER_AGENT,
    at: datetime | None = AT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record that the subject withdrew consent (accepted on every channel)."""
    _record(ctx, ConsentKind.WITHDRAWN, subject, purpose, channel, ip, user_agent, at, as_json)


@consent_app.command("refuse")
def refuse(
    ctx: typer.Context,
    subject: str = SUBJECT,
    purpose: str = PURPOSE,
    channel: Channel = CHANNEL,
    ip: str | None = IP,
    user_agent: str | None = USER_AGENT,
    at: datetime | None = AT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record that the subject refused consent when asked."""
    _record(ctx, ConsentKind.REFUSED, subject, purpose, channel, ip, user_agent, at, as_json)


@consent_app.command("gpc")
def gpc(
    ctx: typer.Context,
    subject: str = SUBJECT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a Global Privacy Control signal: an objection to marketing and sharing."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        objection = rt.ledger.record_gpc(_identity(rt, subject), actor=rt.settings.actor)
    if as_json:
        emit_json(objection.evidence())
    else:
        typer.echo(f"objection {objection.ref} recorded (Global Privacy Control)")


@consent_app.command("expire")
def expire(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Record an "expired" event for every consent whose expiry has passed."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        count = rt.ledger.record_expiries(actor=rt.settings.actor)
    if as_json:
        emit_json({"expired": count})
    else:
        typer.echo(f"{count} consent(s) recorded as expired")


@consent_app.command("check")
def check(
    ctx: typer.Context,
    subject: str = SUBJECT,
    purpose: str = PURPOSE,
    at: datetime | None = typer.Option(None, "--at", help="Decide as of this time (ISO 8601)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """May we process the subject's data for the purpose? Always explained."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        decision = rt.ledger.check(_identity(rt, subject), purpose, _aware(at))
    if as_json:
        emit_json(decision.to_dict())
    else:
        verdict = "allowed" if decision.allowed else "not allowed"
        basis = f" on {decision.basis}" if decision.basis else ""
        typer.echo(f"{verdict}{basis}: {decision.reason}")


@consent_app.command("history")
def history(
    ctx: typer.Context,
    subject: str = SUBJECT,
    purpose: str | None = typer.Option(None, "--purpose", help="Only this purpose."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the subject's consent events, oldest first."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        records = rt.ledger.history(_identity(rt, subject), purpose)
    if as_json:
        emit_json({"events": [_record_dict(r) for r in records]})
        return
    for r in records:
        typer.echo(
            f"{format_time(r.occurred_at)} {r.purpose_id} {r.kind.value} via {r.channel} "
            f"(event {r.seq}, policy version {r.policy_version})"
        )


@consent_app.command("receipt")
def receipt(
    ctx: typer.Context,
    subject: str = SUBJECT,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
) -> None:
    """Export the subject's consent record (shaped after ISO/IEC TS 27560) as JSON."""
    with reporting_errors(as_json=True):
        rt = runtime(ctx)
        identity = _identity(rt, subject)
        now = rt.clock.now()
        with rt.engine.reading() as tx:
            subject_id = rt.directory.require(tx, identity)
            active = load_active_policy(tx)
            kinds = [i.kind for i in tx.identities_of(subject_id)]
            records = tx.consent_events(subject_id)
        decisions = {
            p.id: rt.ledger.check_subject(subject_id, p.id, now)
            for p in active.policy.purposes
            if "consent" in active.rules[p.id].bases
        }
        document = build_receipt(
            policy=active.policy,
            policy_version=active.version,
            subject_id=subject_id,
            identity_kinds=kinds,
            records=records,
            decisions=decisions,
            generated_at=now,
        )
        write_output(json.dumps(document, indent=2, ensure_ascii=False), output)
