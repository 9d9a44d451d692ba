"""``steward outbox`` end to end: a data directory initialised by the CLI,
messages queued by the engine's outbox service, then listed, sent to a real
SMTP server, shown, confirmed and retried through the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.integration.test_outbox_smtp import SmtpServer
from typer.testing import CliRunner, Result

from datasteward.cli.main import app
from datasteward.clock import SystemClock
from datasteward.crypto import load_keyring
from datasteward.notify import messages
from datasteward.notify.art19 import recipients_to_notify
from datasteward.notify.outbox import Outbox
from datasteward.notify.webhook import derived_webhook_secret
from datasteward.policy.loader import parse_policy
from datasteward.store import engine as store_engine
from datasteward.store.sql_store import SqlEngineStore
from datasteward.store.tables import audit_events

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"
ANA = "anna.ziedina@example.lv"
CLEAN_ENV: dict[str, str | None] = {
    "STEWARD_HOME": None,
    "STEWARD_DATABASE_URL": None,
    "STEWARD_KEYSTORE_URL": None,
    "STEWARD_SECRET_KEY": None,
    "STEWARD_SMTP_URL": None,
    "STEWARD_MAIL_FROM": None,
    "STEWARD_WEBHOOK_SECRET": None,
    "STEWARD_ACTOR": "cli:dpo",
}


class Home:
    """``steward --home HOME ...`` with a clean environment, and the engine's
    own outbox over the same data directory."""

    def __init__(self, home: Path, made: list[Engine]) -> None:
        self.home = home
        self.runner = CliRunner()
        self.made = made

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return self.runner.invoke(
            app, ["--home", str(self.home), *args], env={**CLEAN_ENV, **(env or {})}
        )

    def outbox(self) -> tuple[SqlEngineStore, Outbox]:
        engine = store_engine.make_engine(f"sqlite:///{self.home / 'engine.sqlite'}")
        keyring = load_keyring(env={}, key_file=self.home / "master.key")
        store = SqlEngineStore(engine)
        return store, Outbox(store, keyring, SystemClock(), {})

    def audit_actions(self) -> list[str]:
        engine = store_engine.make_engine(f"sqlite:///{self.home / 'engine.sqlite'}")
        with engine.connect() as connection:
            return list(connection.execute(select(audit_events.c.action)).scalars())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    made: list[Engine] = []
    original = store_engine.make_engine

    def tracked(url: str, **kwargs: Any) -> Engine:
        engine = original(url, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(store_engine, "make_engine", tracked)
    runner = Home(tmp_path / "home", made)
    assert runner("init").exit_code == 0
    applied = runner("policy", "apply", str(MINIMAL))
    assert applied.exit_code == 0, applied.output
    try:
        yield runner
    finally:
        for engine in made:
            engine.dispose()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def queue_two(home: Home) -> tuple[str, str]:
    """A verification code by email and an Art. 19 notice staff must deliver."""
    policy = parse_policy(MINIMAL.read_text(encoding="utf-8"), str(MINIMAL)).policy
    data = policy.model_dump(mode="json", exclude_none=True)
    data["recipients"] = [{"id": "mailhouse", "name": "SIA Pasta Nams", "role": "processor"}]
    data["processing_activities"][1]["recipients"] = ["mailhouse"]
    (notice,) = recipients_to_notify(
        type(policy).model_validate(data),
        categories=["email"],
        action="erasure",
        identities={"email": ANA},
        request_id="req-1",
    )
    code = messages.verification_code(
        policy,
        to=ANA,
        request_id="req-1",
        code="305 118",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    store, box = home.outbox()
    with store.transaction() as tx:
        email_id = box.add(tx, code, request_id="req-1")
        manual_id = box.add(tx, notice.message, request_id="req-2", recipient_id="mailhouse")
    return email_id, manual_id


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_code(result: Result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    return str(json.loads(result.stdout)["error"]["code"])


def test_list_send_show_confirm(home: Home, smtp_server: SmtpServer) -> None:
    email_id, manual_id = queue_two(home)

    listed = ok_json(home("outbox", "list", "--json"))
    assert listed["counts"]["pending"] == 1 and listed["counts"]["manual"] == 1
    by_id = {m["id"]: m for m in listed["messages"]}
    assert by_id[email_id]["to"] == "a***@example.lv"
    assert by_id[email_id]["kind"] == "verification_code"
    assert by_id[manual_id]["to"] == "staff"
    assert by_id[manual_id]["recipient_id"] == "mailhouse"
    assert ANA not in json.dumps(listed)
    only = ok_json(home("outbox", "list", "--request", "req-2", "--json"))
    assert [m["id"] for m in only["messages"]] == [manual_id]
    text = home("outbox", "list", "--status", "manual")
    assert text.exit_code == 0 and manual_id in text.stdout and email_id not in text.stdout

    # no SMTP server configured: the email waits, and the command says why
    waiting = home("outbox", "send")
    assert waiting.exit_code == 0
    assert "1 email message(s) wait: no email sender (set STEWARD_SMTP_URL)" in waiting.stdout

    sent = ok_json(home("outbox", "send", "--json", env={"STEWARD_SMTP_URL": smtp_server.url}))
    assert (sent["sent"], sent["retrying"], sent["dead"]) == (1, 0, 0)
    (got,) = smtp_server.received
    assert got.rcpt_tos == [ANA]
    assert got.mail_from == "privacy@zala-plava.example"  # the controller's, from the policy
    assert got.message["X-Steward-Delivery"] == email_id

    shown = ok_json(home("outbox", "show", manual_id, "--json"))
    assert shown["status"] == "manual"
    assert "no notification channel is declared" in shown["text"]
    assert ANA in shown["text"]

    confirmed = ok_json(home("outbox", "confirm", manual_id, "--note", "Posted a letter", "--json"))
    assert confirmed["status"] == "confirmed" and confirmed["sent_at"]
    assert error_code(home("outbox", "confirm", manual_id, "--json"), 3) == "conflict"
    assert error_code(home("outbox", "confirm", "no-such-id", "--json"), 2) == "not_found"
    assert ok_json(home("outbox", "show", manual_id, "--json"))["confirmation"]["note"] == (
        "Posted a letter"
    )

    actions = home.audit_actions()
    assert actions.count("outbox.sent") == 1
    assert actions.count("outbox.revealed") == 2
    assert actions.count("outbox.confirmed") == 1


def test_failed_send_exits_1_and_retry_requeues(home: Home, smtp_server: SmtpServer) -> None:
    policy = parse_policy(MINIMAL.read_text(encoding="utf-8"), str(MINIMAL)).policy
    store, box = home.outbox()
    with store.transaction() as tx:
        dead_id = box.add(
            tx,
            messages.more_information(
                policy, to="nobody@example.lv", request_id="req-3", question="Order number?"
            ),
        )
    env: dict[str, str | None] = {
        "STEWARD_SMTP_URL": smtp_server.url,
        "STEWARD_MAIL_FROM": "dpo@zala-plava.example",
    }
    failed = home("outbox", "send", env=env)
    assert failed.exit_code == 1, failed.output
    assert f"{dead_id}  dead: SMTP 550 5.1.1: recipient refused" in failed.stdout
    assert "nobody" not in failed.stdout

    requeued = ok_json(home("outbox", "retry", dead_id, "--json"))
    assert (requeued["status"], requeued["attempts"]) == ("pending", 0)
    assert error_code(home("outbox", "retry", dead_id, "--json"), 3) == "conflict"
    listed = home("outbox", "list")
    assert "1 pending" in listed.stdout and "last error: SMTP 550 5.1.1" in listed.stdout


def test_secret_and_bad_arguments(home: Home) -> None:
    keyring = load_keyring(env={}, key_file=home.home / "master.key")
    derived = ok_json(home("outbox", "secret", "--json"))
    assert derived == {"secret": derived_webhook_secret(keyring), "source": "master key"}
    given = ok_json(
        home("outbox", "secret", "--json", env={"STEWARD_WEBHOOK_SECRET": "shared-with-crm"})
    )
    assert given == {"secret": "shared-with-crm", "source": "STEWARD_WEBHOOK_SECRET"}
    assert home.audit_actions().count("webhook_secret.revealed") == 2

    assert error_code(home("outbox", "list", "--status", "lost", "--json"), 2) == "usage_error"
    assert error_code(home("outbox", "send", "--limit", "0", "--json"), 2) == "usage_error"
    bad_smtp = home("outbox", "send", "--json", env={"STEWARD_SMTP_URL": "mail.example.lv"})
    assert error_code(bad_smtp, 2) == "usage_error"
    empty = home("outbox", "list")
    assert empty.exit_code == 0 and "outbox: empty" in empty.stdout
