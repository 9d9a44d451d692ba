"""Commands that work on the engine store: init, policy, keys, audit, subjects.

They parse arguments, call one use case and render its result; every
deliberate error goes through ``reporting_errors`` to the one error shape."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datasteward.audit.chain import ChainHead
from datasteward.audit.service import CHAIN_NAMES, verify_store
from datasteward.cli.output import emit_json, reporting_errors
from datasteward.cli.runtime import Runtime, runtime
from datasteward.errors import EXIT_FINDINGS, InvalidInput, StewardError, UsageError
from datasteward.identity import Identity, parse_identity
from datasteward.legaltime.instants import format_time
from datasteward.policy import load_policy_file
from datasteward.policy.active import load_active_policy

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["register"]

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")

policy_app = typer.Typer(help="Apply and show the active policy version.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the master key.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and list the audit log.", no_args_is_help=True)
subjects_app = typer.Typer(help="Find data subjects.", no_args_is_help=True)


def init(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Create the data directory, master key and engine store, or migrate them."""
    from datasteward.crypto import create_key_file
    from datasteward.store import migrate
    from datasteward.store.engine import make_engine

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        settings = rt.settings
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        created_key = False
        if "STEWARD_SECRET_KEY" not in settings.env and not settings.key_file.exists():
            create_key_file(settings.key_file)
            created_key = True
        rt.keyring  # noqa: B018 - fail now if the key is unusable
        engine = make_engine(settings.database_url)
        before = _revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
        migrate.init_keystore(make_engine(settings.keystore_url, secure_delete=True))
        _private_files(settings.home)
        if before != after:
            with rt.engine.transaction() as tx:
                tx.audit(
                    at=rt.clock.now(),
                    actor=settings.actor,
                    action="store.migrated",
                    object_type="store",
                    object_id=str(after),
                    reason=f"schema {before or 'empty'} -> {after}",
                    policy_version=None,
                )
        engine.dispose()
    result = {
        "home": str(settings.home),
        "database": _redacted(settings.database_url),
        "key": "STEWARD_SECRET_KEY"
        if "STEWARD_SECRET_KEY" in settings.env
        else str(settings.key_file),
        "key_created": created_key,
        "schema_before": before,
        "schema": after,
    }
    if as_json:
        emit_json(result)
    else:
        state = "created" if before is None else ("migrated" if before != after else "up to date")
        typer.echo(f"engine store {state} (schema {after}) in {settings.home}")
        if created_key:
            typer.echo(f"master key created: {settings.key_file} (mode 0600); back it up safely")


def _private_files(home: Path) -> None:
    """The store and key store hold pseudonymous and wrapped-key data: owner only."""
    for name in ("engine.sqlite", "keys.sqlite"):
        for suffix in ("", "-wal", "-shm"):
            path = home / f"{name}{suffix}"
            if path.exists():
                path.chmod(0o600)


def _revision(engine: Engine) -> str | None:
    from datasteward.store import migrate

    try:
        return migrate.current_revision(engine)
    except Exception:
        return None


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@policy_app.command("apply")
def policy_apply(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Policy file to make active."),
    force: bool = typer.Option(False, "--force", help="Apply despite lint errors (audited)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Store a policy as the new active version and show what changed."""
    from datasteward.policy.apply import apply_policy

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        loaded = load_policy_file(path)
        result = apply_policy(
            rt.engine, loaded, actor=rt.settings.actor, clock=rt.clock, force=force
        )
    if as_json:
        emit_json(result.to_dict())
        return
    if result.unchanged:
        typer.echo(f"policy unchanged: version {result.version} is already active")
        return
    typer.echo(f"policy version {result.version} applied ({loaded.policy.version})")
    if result.forced:
        typer.echo("applied despite lint errors (--force); the audit log records it")
    if result.diff is not None:
        for change in result.diff.changes:
            mark = "MATERIAL " if change.material else ""
            typer.echo(f"  {mark}{change.kind} {change.path}: {change.summary}")
        if result.diff.material:
            stale = ", ".join(result.diff.stale_purposes) or "none"
            typer.echo(f"material change: consent must be renewed for: {stale}")


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    text: bool = typer.Option(False, "--text", help="Print the stored policy text."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the active policy version."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        with rt.engine.reading() as tx:
            stored = tx.active_policy()
            if stored is None:
                raise InvalidInput(
                    "no policy has been applied yet: run `steward policy apply PATH`"
                )
            active = load_active_policy(tx)
    info = {
        "version": stored.id,
        "label": stored.label,
        "sha256": stored.sha256,
        "effective_date": stored.effective_date.isoformat(),
        "applied_at": format_time(stored.applied_at),
        "applied_by": stored.applied_by,
        "source_file": stored.source_file,
        "purposes": sorted(active.rules),
    }
    if as_json:
        emit_json({**info, "text": stored.text} if text else info)
    elif text:
        sys.stdout.write(stored.text)
    else:
        for key, value in info.items():
            typer.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Add a new master key, make it active, and re-wrap and re-index with it."""
    from datasteward.crypto import save_key_file
    from datasteward.subjects.rotation import rotate_keys

    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        if "STEWARD_SECRET_KEY" in rt.settings.env:
            raise UsageError(
                "the master key comes from STEWARD_SECRET_KEY; rotation needs the key file "
                "(unset the variable and run `steward init` to create one)"
            )
        report = rotate_keys(
            rt.engine,
            rt.keystore,
            rt.keyring,
            save=lambda ring: save_key_file(rt.settings.key_file, ring),
            actor=rt.settings.actor,
            clock=rt.clock,
        )
    if as_json:
        emit_json(report)
    else:
        typer.echo(
            f"new active key {report['active_kid']}; "
            f"{report['rewrapped']} subject keys re-wrapped, "
            f"{report['reindexed']} identities re-indexed"
        )


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    chain: list[str] = typer.Option(
        list(CHAIN_NAMES), "--chain", help="Which chain to verify (audit, consent); repeatable."
    ),
    expect_head: list[str] = typer.Option(
        [], "--expect-head", help="CHAIN:SEQ:HASH anchored elsewhere, checked too; repeatable."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check that no audit or consent event was edited, deleted, inserted or reordered.

    Exit 0 when every chain is intact, 1 when one is broken."""
    with reporting_errors(as_json=as_json):
        unknown = [c for c in chain if c not in CHAIN_NAMES]
        if unknown:
            raise UsageError(f"unknown chain '{unknown[0]}'; choose from {', '.join(CHAIN_NAMES)}")
        anchors = dict(_anchor(text) for text in expect_head)
        results = verify_store(runtime(ctx).engine, tuple(chain), expected_heads=anchors)
    ok = all(r.ok for r in results.values())
    if as_json:
        emit_json({"ok": ok, "chains": {name: r.to_dict() for name, r in results.items()}})
    else:
        for name, r in results.items():
            if r.ok:
                head = f" head {r.head.seq}:{r.head.hash}" if r.head else ""
                typer.echo(f"{name}: intact, {r.checked} events{head}")
            else:
                typer.echo(f"{name}: BROKEN at sequence {r.first_bad_seq}: {r.reason}")
    raise typer.Exit(0 if ok else EXIT_FINDINGS)


def _anchor(text: str) -> tuple[str, ChainHead]:
    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != 64:
        raise UsageError(f"--expect-head takes CHAIN:SEQ:HASH, got '{text}'")
    return parts[0], ChainHead(int(parts[1]), parts[2])


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    action: str | None = typer.Option(
        None, "--action", help="Only this action, e.g. policy.applied."
    ),
    object_type: str | None = typer.Option(None, "--object-type", help="Only this object type."),
    object_id: str | None = typer.Option(None, "--object-id", help="Only this object id."),
    since: datetime | None = typer.Option(
        None, "--since", help="Only events at or after this time."
    ),
    limit: int = typer.Option(
        50, "--limit", min=1, max=10_000, help="At most this many, newest first."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """List audit events, newest first."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        with rt.engine.reading() as tx:
            entries = tx.audit_entries(
                action=action,
                object_type=object_type,
                object_id=object_id,
                since=_aware(since) if since else None,
                limit=limit,
            )
    rows = [
        {
            "seq": e.seq,
            "at": format_time(e.occurred_at),
            "actor": e.actor,
            "action": e.action,
            "object": f"{e.object_type}:{e.object_id}",
            "reason": e.reason,
            "policy_version": e.policy_version,
            "details": dict(e.details),
        }
        for e in entries
    ]
    if as_json:
        emit_json({"events": rows})
        return
    for row in rows:
        typer.echo(
            f"{row['seq']:>8} {row['at']} {row['actor']} {row['action']} {row['object']} "
            f"- {row['reason']}"
        )


@subjects_app.command("find")
def subjects_find(
    ctx: typer.Context,
    email: str | None = typer.Option(None, "--email", help="Email address."),
    phone: str | None = typer.Option(None, "--phone", help="Phone number (E.164 or national)."),
    identity: str | None = typer.Option(None, "--identity", help="Any identity as KIND:VALUE."),
    reveal: bool = typer.Option(
        False, "--reveal", help="Show the subject's identities in clear (audited)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Find the data subject an identity belongs to."""
    with reporting_errors(as_json=as_json):
        rt = runtime(ctx)
        wanted = _one_identity(email, phone, identity, rt)
        with rt.engine.transaction() as tx:
            subject_id = rt.directory.require(tx, wanted)
            stored = tx.identities_of(subject_id)
            shown: list[str]
            if reveal:
                shown = [i.reveal() for i in rt.directory.reveal(tx, subject_id)]
                tx.audit(
                    at=rt.clock.now(),
                    actor=rt.settings.actor,
                    action="subject.revealed",
                    object_type="subject",
                    object_id=subject_id,
                    reason="identities shown to staff",
                    policy_version=None,
                )
            else:
                shown = sorted({s.kind for s in stored})
    result = {"subject_id": subject_id, "identities" if reveal else "identity_kinds": shown}
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"subject {subject_id}")
        for item in shown:
            typer.echo(f"  {item}")


def _one_identity(
    email: str | None, phone: str | None, identity: str | None, rt: Runtime
) -> Identity:
    given = [
        text
        for text in (
            f"email:{email}" if email is not None else None,
            f"phone:{phone}" if phone is not None else None,
            identity,
        )
        if text is not None
    ]
    if len(given) != 1:
        raise UsageError("give exactly one of --email, --phone or --identity")
    return parse_identity(given[0], default_region=default_region(rt))


def default_region(rt: Runtime) -> str | None:
    """The controller's country, for phone numbers written without +."""
    try:
        with rt.engine.reading() as tx:
            return load_active_policy(tx).policy.controller.country
    except StewardError:
        return None


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.add_typer(policy_app, name="policy")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(subjects_app, name="subjects")
