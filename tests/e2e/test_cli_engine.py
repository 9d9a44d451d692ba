"""The engine commands end to end: ``steward init``, ``policy``, ``consent``,
``subjects``, ``audit``, run in-process against a data directory of their own.

Every run gets its environment explicitly (no ``STEWARD_*`` variable from
the shell leaks in) and ``--home`` pointing into the test's temporary
directory. JSON shapes and exit codes are the documented interface, so they
are asserted exactly."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from datasteward.cli.main import app
from datasteward.store import engine as store_engine
from datasteward.store import migrate

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"
ANA = "email:ana.berzina@example.lv"
HEAD = migrate.head_revision()

CLEAN_ENV: dict[str, str | None] = {
    "STEWARD_HOME": None,
    "STEWARD_DATABASE_URL": None,
    "STEWARD_KEYSTORE_URL": None,
    "STEWARD_SECRET_KEY": None,
    "STEWARD_ACTOR": "cli:tester",
}

RECORD_KEYS = {
    "seq",
    "event_id",
    "subject_id",
    "purpose",
    "kind",
    "at",
    "expires_at",
    "policy_version",
    "purpose_hash",
    "channel",
    "actor",
}


class Steward(Protocol):
    home: Path

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result: ...


class HomeRunner:
    """``steward --home HOME ...`` with a clean environment."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return self.runner.invoke(
            app, ["--home", str(self.home), *args], env={**CLEAN_ENV, **(env or {})}
        )


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Only the code, not the umask, may make files private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def steward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Steward]:
    made: list[Engine] = []
    original = store_engine.make_engine

    def tracked(url: str, **kwargs: Any) -> Engine:
        engine = original(url, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(store_engine, "make_engine", tracked)
    try:
        yield HomeRunner(tmp_path / "home")
    finally:
        for engine in made:
            engine.dispose()


@pytest.fixture
def ready(steward: Steward) -> Steward:
    """Initialised, with the minimal policy applied."""
    assert steward("init").exit_code == 0
    applied = steward("policy", "apply", str(MINIMAL))
    assert applied.exit_code == 0, applied.output
    return steward


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_json(result: Result, exit_code: int, code: str) -> str:
    assert result.exit_code == exit_code, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


def just_before(instant: str) -> str:
    """A naive ISO time (read as UTC) one second before ``instant``."""
    moment = datetime.strptime(instant, "%Y-%m-%dT%H:%M:%S.%fZ") - timedelta(seconds=1)
    return moment.isoformat(timespec="seconds")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- init -----------------------------------------------------------------------


def test_init_creates_private_files(steward: Steward, permissive_umask: None) -> None:
    result = steward("init")
    assert result.exit_code == 0, result.output
    assert f"engine store created (schema {HEAD}) in {steward.home}" in result.stdout
    assert "master key created" in result.stdout
    assert mode(steward.home) == 0o700
    assert mode(steward.home / "master.key") == 0o600
    for name in ("engine.sqlite", "keys.sqlite"):
        assert mode(steward.home / name) == 0o600, name
    key_text = (steward.home / "master.key").read_text()

    again = steward("init", "--json")
    body = ok_json(again)
    assert body == {
        "home": str(steward.home),
        "database": f"sqlite:///{steward.home / 'engine.sqlite'}",
        "key": str(steward.home / "master.key"),
        "key_created": False,
        "schema_before": HEAD,
        "schema": HEAD,
    }
    assert (steward.home / "master.key").read_text() == key_text
    assert "up to date" in steward("init").stdout


def test_init_is_audited_once(steward: Steward) -> None:
    steward("init")
    steward("init")
    events = ok_json(steward("audit", "show", "--json"))["events"]
    assert [e["action"] for e in events] == ["store.migrated"]
    assert events[0]["reason"] == f"schema empty -> {HEAD}"
    assert events[0]["actor"] == "cli:tester"


def test_home_option_wins_over_the_environment(steward: Steward, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    result = steward("init", env={"STEWARD_HOME": str(elsewhere)})
    assert result.exit_code == 0, result.output
    assert (steward.home / "engine.sqlite").exists()
    assert not elsewhere.exists()


@pytest.mark.parametrize("prepare", ["missing", "empty"])
def test_store_not_initialised(steward: Steward, prepare: str) -> None:
    if prepare == "empty":
        steward.home.mkdir()
    for args in (
        ["consent", "check", "--subject", ANA, "--purpose", "newsletter", "--json"],
        ["policy", "apply", str(MINIMAL), "--json"],
        ["audit", "verify", "--json"],
    ):
        message = error_json(steward(*args), 2, "store_error")
        assert "run `steward init`" in message, args


# -- policy -----------------------------------------------------------------------


def test_policy_apply_show_and_unchanged(steward: Steward) -> None:
    steward("init")
    applied = ok_json(steward("policy", "apply", str(MINIMAL), "--json"))
    assert set(applied) == {
        "version",
        "previous_version",
        "unchanged",
        "forced",
        "material",
        "diff",
        "findings",
    }
    assert applied["version"] == 1
    assert applied["previous_version"] is None
    assert applied["unchanged"] is False
    assert applied["diff"] is None
    assert all(f["severity"] != "error" for f in applied["findings"])

    again = steward("policy", "apply", str(MINIMAL))
    assert again.exit_code == 0
    assert "policy unchanged: version 1 is already active" in again.stdout
    assert ok_json(steward("policy", "apply", str(MINIMAL), "--json"))["unchanged"] is True

    shown = ok_json(steward("policy", "show", "--json"))
    assert shown == {
        "version": 1,
        "label": "1.0",
        "sha256": shown["sha256"],
        "effective_date": "2026-01-15",
        "applied_at": shown["applied_at"],
        "applied_by": "cli:tester",
        "source_file": str(MINIMAL),
        "purposes": ["newsletter", "orders"],
    }
    assert len(shown["sha256"]) == 64
    with_text = ok_json(steward("policy", "show", "--json", "--text"))
    assert with_text["text"] == MINIMAL.read_text(encoding="utf-8")
    assert steward("policy", "show", "--text").stdout == MINIMAL.read_text(encoding="utf-8")


def test_policy_show_before_any_apply(steward: Steward) -> None:
    steward("init")
    message = error_json(steward("policy", "show", "--json"), 2, "invalid_input")
    assert "steward policy apply" in message


def test_policy_with_lint_errors_needs_force(steward: Steward, tmp_path: Path) -> None:
    steward("init")
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        MINIMAL.read_text(encoding="utf-8").replace(
            "  contact_email: privacy@zala-plava.example\n", ""
        ),
        encoding="utf-8",
    )
    message = error_json(steward("policy", "apply", str(broken), "--json"), 1, "policy_lint_failed")
    assert "DS102" in message
    assert "--force" in message
    assert steward("policy", "show").exit_code == 2  # nothing applied

    forced = steward("policy", "apply", str(broken), "--force")
    assert forced.exit_code == 0, forced.output
    assert "applied despite lint errors (--force)" in forced.stdout
    events = ok_json(steward("audit", "show", "--action", "policy.applied", "--json"))["events"]
    assert events[0]["reason"] == "forced despite lint errors"
    assert events[0]["details"]["lint_errors"] == ["DS102"]


def test_material_change_is_reported(ready: Steward, tmp_path: Path) -> None:
    longer = tmp_path / "longer.yaml"
    longer.write_text(
        MINIMAL.read_text(encoding="utf-8").replace("    period: P1M", "    period: P6M"),
        encoding="utf-8",
    )
    result = ready("policy", "apply", str(longer))
    assert result.exit_code == 0, result.output
    assert "policy version 2 applied" in result.stdout
    assert "MATERIAL" in result.stdout
    assert "material change: consent must be renewed for: newsletter" in result.stdout


def test_policy_file_missing(ready: Steward, tmp_path: Path) -> None:
    error_json(ready("policy", "apply", str(tmp_path / "nope.yaml"), "--json"), 2, "policy_invalid")


# -- consent ------------------------------------------------------------------------


def test_consent_give_check_withdraw_history(ready: Steward) -> None:
    given = ok_json(
        ready(
            "consent",
            "give",
            "--subject",
            ANA,
            "--purpose",
            "newsletter",
            "--channel",
            "banner",
            "--ip",
            "203.0.113.77",
            "--user-agent",
            "Firefox",
            "--json",
        )
    )
    assert set(given) == RECORD_KEYS
    assert given["seq"] == 1
    assert given["kind"] == "given"
    assert given["purpose"] == "newsletter"
    assert given["channel"] == "banner"
    assert given["actor"] == "cli:tester"
    assert given["policy_version"] == 1
    assert given["expires_at"] is None

    check = ok_json(
        ready(
            "consent",
            "check",
            "--subject",
            "email:ANA.Berzina@Example.LV",
            "--purpose",
            "newsletter",
            "--json",
        )
    )
    assert set(check) == {"allowed", "reason", "basis", "purpose", "evidence"}
    assert check["allowed"] is True
    assert check["basis"] == "consent"
    assert check["evidence"][0]["seq"] == 1
    assert check["evidence"][0]["event_id"] == given["event_id"]
    text = ready("consent", "check", "--subject", ANA, "--purpose", "newsletter")
    assert text.stdout.startswith("allowed on consent: ")

    withdrawn = ok_json(
        ready(
            "consent",
            "withdraw",
            "--subject",
            ANA,
            "--purpose",
            "newsletter",
            "--channel",
            "email",
            "--json",
        )
    )
    assert withdrawn["kind"] == "withdrawn"
    assert withdrawn["subject_id"] == given["subject_id"]
    refused = ready("consent", "check", "--subject", ANA, "--purpose", "newsletter")
    assert refused.exit_code == 0
    assert refused.stdout.strip() == "not allowed: consent was withdrawn"
    past = ok_json(
        ready(
            "consent",
            "check",
            "--subject",
            ANA,
            "--purpose",
            "newsletter",
            "--at",
            just_before(given["at"]),
            "--json",
        )
    )
    assert past["allowed"] is False
    assert past["reason"] == "no consent was given for this purpose"

    history = ok_json(ready("consent", "history", "--subject", ANA, "--json"))
    assert set(history) == {"events"}
    assert [(e["seq"], e["kind"]) for e in history["events"]] == [(1, "given"), (2, "withdrawn")]
    assert all(set(e) == RECORD_KEYS for e in history["events"])
    lines = ready("consent", "history", "--subject", ANA, "--purpose", "newsletter").stdout
    assert len(lines.splitlines()) == 2
    assert "newsletter given via banner (event 1, policy version 1)" in lines

    assert ok_json(ready("audit", "verify", "--json"))["ok"] is True


def test_consent_refuse(ready: Steward) -> None:
    ready("consent", "give", "--subject", ANA, "--purpose", "newsletter")
    refused = ok_json(
        ready("consent", "refuse", "--subject", ANA, "--purpose", "newsletter", "--json")
    )
    assert refused["kind"] == "refused"
    text = ready("consent", "check", "--subject", ANA, "--purpose", "newsletter").stdout
    assert text.strip() == "not allowed: consent was refused"


def test_contract_purpose(ready: Steward) -> None:
    ready("consent", "give", "--subject", ANA, "--purpose", "newsletter")
    check = ok_json(ready("consent", "check", "--subject", ANA, "--purpose", "orders", "--json"))
    assert check["allowed"] is True
    assert check["basis"] == "contract"
    message = error_json(
        ready("consent", "give", "--subject", ANA, "--purpose", "orders", "--json"),
        2,
        "invalid_input",
    )
    assert "rests on contract, not consent" in message


def test_consent_errors_and_exit_codes(ready: Steward) -> None:
    message = error_json(
        ready(
            "consent",
            "give",
            "--subject",
            "email:not-an-address",
            "--purpose",
            "newsletter",
            "--json",
        ),
        2,
        "invalid_identity",
    )
    assert message.startswith("invalid email")
    error_json(
        ready(
            "consent",
            "give",
            "--subject",
            "mail:ana@example.lv",
            "--purpose",
            "newsletter",
            "--json",
        ),
        2,
        "invalid_identity",
    )
    message = error_json(
        ready("consent", "give", "--subject", ANA, "--purpose", "newsleter", "--json"),
        2,
        "not_found",
    )
    assert "did you mean 'newsletter'" in message
    unknown = error_json(
        ready("consent", "withdraw", "--subject", ANA, "--purpose", "newsletter", "--json"),
        2,
        "not_found",
    )
    assert unknown == "unknown subject 'email:a***@example.lv'"
    assert "ana.berzina" not in unknown

    ready("consent", "give", "--subject", ANA, "--purpose", "newsletter")
    ready("consent", "withdraw", "--subject", ANA, "--purpose", "newsletter")
    message = error_json(
        ready("consent", "withdraw", "--subject", ANA, "--purpose", "newsletter", "--json"),
        3,
        "conflict",
    )
    assert "nothing to withdraw" in message

    text = ready("consent", "withdraw", "--subject", ANA, "--purpose", "newsletter")
    assert text.exit_code == 3
    assert text.stderr.startswith("error: nothing to withdraw")
    future = error_json(
        ready(
            "consent",
            "give",
            "--subject",
            ANA,
            "--purpose",
            "newsletter",
            "--at",
            "2999-01-01T00:00:00",
            "--json",
        ),
        2,
        "invalid_input",
    )
    assert "in the future" in future
    error_json(
        ready(
            "consent",
            "give",
            "--subject",
            ANA,
            "--purpose",
            "newsletter",
            "--ip",
            "1.2.3",
            "--json",
        ),
        2,
        "invalid_input",
    )
    history = ok_json(ready("consent", "history", "--subject", ANA, "--json"))
    assert [e["kind"] for e in history["events"]] == ["given", "withdrawn"]


def test_consent_gpc(ready: Steward) -> None:
    ready("consent", "give", "--subject", ANA, "--purpose", "newsletter")
    objection = ok_json(ready("consent", "gpc", "--subject", ANA, "--json"))
    assert set(objection) == {"type", "id", "scope", "purpose", "status", "at"}
    assert objection["type"] == "objection"
    assert objection["scope"] == "gpc"
    assert objection["status"] == "upheld"
    assert objection["purpose"] is None
    check = ok_json(
        ready("consent", "check", "--subject", ANA, "--purpose", "newsletter", "--json")
    )
    assert check["allowed"] is False
    assert check["evidence"] == [objection]
    orders = ok_json(ready("consent", "check", "--subject", ANA, "--purpose", "orders", "--json"))
    assert orders["allowed"] is True
    text = ready("consent", "gpc", "--subject", "email:bruno@example.lv")
    assert text.exit_code == 0
    assert "recorded (Global Privacy Control)" in text.stdout


def test_consent_receipt(ready: Steward, tmp_path: Path) -> None:
    given = ok_json(ready("consent", "give", "--subject", ANA, "--purpose", "newsletter", "--json"))
    result = ready("consent", "receipt", "--subject", ANA)
    receipt = ok_json(result)
    assert set(receipt) == {"schema", "header", "processing", "parties", "events"}
    assert receipt["header"]["record_id"] == given["subject_id"]
    assert receipt["header"]["subject"] == {"id": given["subject_id"], "identity_kinds": ["email"]}
    assert receipt["header"]["policy_version"] == 1
    assert [p["purpose_id"] for p in receipt["processing"]] == ["newsletter"]
    assert receipt["processing"][0]["valid"] is True
    assert receipt["parties"][0]["role"] == "controller"
    assert [e["seq"] for e in receipt["events"]] == [given["seq"]]
    assert receipt["events"][0]["event_id"] == given["event_id"]
    assert "ana.berzina" not in result.stdout

    out = tmp_path / "receipt.json"
    written = ready("consent", "receipt", "--subject", ANA, "--output", str(out))
    assert written.exit_code == 0
    assert written.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["events"] == receipt["events"]

    error_json(ready("consent", "receipt", "--subject", "email:nobody@example.lv"), 2, "not_found")


# -- subjects -----------------------------------------------------------------------


def test_subjects_find_and_reveal(ready: Steward) -> None:
    given = ok_json(ready("consent", "give", "--subject", ANA, "--purpose", "newsletter", "--json"))
    found = ok_json(ready("subjects", "find", "--email", "Ana.Berzina@example.lv", "--json"))
    assert found == {"subject_id": given["subject_id"], "identity_kinds": ["email"]}
    assert ok_json(ready("subjects", "find", "--identity", ANA, "--json")) == found
    assert ok_json(ready("audit", "show", "--action", "subject.revealed", "--json"))["events"] == []

    revealed = ok_json(
        ready("subjects", "find", "--email", "ana.berzina@example.lv", "--reveal", "--json")
    )
    assert revealed == {"subject_id": given["subject_id"], "identities": [ANA]}
    events = ok_json(ready("audit", "show", "--action", "subject.revealed", "--json"))["events"]
    assert len(events) == 1
    assert events[0]["object"] == f"subject:{given['subject_id']}"
    assert events[0]["actor"] == "cli:tester"
    assert "ana" not in json.dumps(events[0]).replace("cli:tester", "")

    text = ready("subjects", "find", "--email", "ana.berzina@example.lv")
    assert text.stdout.splitlines() == [f"subject {given['subject_id']}", "  email"]


def test_subjects_find_errors(ready: Steward) -> None:
    error_json(ready("subjects", "find", "--email", "nobody@example.lv", "--json"), 2, "not_found")
    error_json(
        ready("subjects", "find", "--email", "a@example.lv", "--phone", "+37120000000", "--json"),
        2,
        "usage_error",
    )
    error_json(ready("subjects", "find", "--json"), 2, "usage_error")
    error_json(ready("subjects", "find", "--phone", "12", "--json"), 2, "invalid_identity")


def test_phone_without_country_code_uses_the_controller_country(ready: Steward) -> None:
    given = ok_json(
        ready(
            "consent", "give", "--subject", "phone:2000 0005", "--purpose", "newsletter", "--json"
        )
    )
    found = ok_json(ready("subjects", "find", "--phone", "+371 20000005", "--json"))
    assert found["subject_id"] == given["subject_id"]


# -- audit show ---------------------------------------------------------------------


def test_audit_show_filters(ready: Steward) -> None:
    first = ok_json(ready("consent", "give", "--subject", ANA, "--purpose", "newsletter", "--json"))
    ready("consent", "give", "--subject", "email:bruno@example.lv", "--purpose", "newsletter")
    ready("consent", "gpc", "--subject", ANA)

    everything = ok_json(ready("audit", "show", "--json"))["events"]
    assert [e["action"] for e in everything] == [
        "objection.recorded",
        "subject.created",
        "subject.created",
        "policy.applied",
        "store.migrated",
    ]
    assert [e["seq"] for e in everything] == [5, 4, 3, 2, 1]
    for event in everything:
        assert set(event) == {
            "seq",
            "at",
            "actor",
            "action",
            "object",
            "reason",
            "policy_version",
            "details",
        }

    created = ok_json(ready("audit", "show", "--action", "subject.created", "--json"))["events"]
    assert [e["seq"] for e in created] == [4, 3]
    on_ana = ok_json(
        ready(
            "audit",
            "show",
            "--object-type",
            "subject",
            "--object-id",
            first["subject_id"],
            "--json",
        )
    )["events"]
    assert [e["action"] for e in on_ana] == ["objection.recorded", "subject.created"]
    policy = ok_json(ready("audit", "show", "--object-type", "policy_version", "--json"))["events"]
    assert [e["object"] for e in policy] == ["policy_version:1"]
    assert [
        e["seq"] for e in ok_json(ready("audit", "show", "--limit", "2", "--json"))["events"]
    ] == [5, 4]
    assert ok_json(ready("audit", "show", "--since", "2999-01-01", "--json"))["events"] == []
    assert len(ok_json(ready("audit", "show", "--since", "2000-01-01", "--json"))["events"]) == 5
    assert ready("audit", "show", "--limit", "0").exit_code == 2

    lines = ready("audit", "show", "--action", "policy.applied").stdout.splitlines()
    assert len(lines) == 1
    assert "cli:tester policy.applied policy_version:1 - policy applied" in lines[0]


def test_audit_verify_text(ready: Steward) -> None:
    ready("consent", "give", "--subject", ANA, "--purpose", "newsletter")
    result = ready("audit", "verify")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("audit: intact, 3 events head 3:")
    assert lines[1].startswith("consent: intact, 1 events head 1:")
