"""`steward request ...` and `steward requests due` in-process: the JSON
shapes, and bad input getting a precise error, its exit code, and no change
to the store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from tests.e2e.test_cli_engine import Steward, ready, steward

from datasteward.store.tables import request_events, requests

ANA = "email:ana.berzina@example.lv"
__all__ = ["ready", "steward"]  # the engine tests' fixtures, shared


def run_json(steward: Steward, *args: str, code: int = 0) -> Any:
    result = steward(*args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def rows(steward: Steward) -> tuple[int, int]:
    engine = create_engine(f"sqlite:///{steward.home / 'engine.sqlite'}")
    try:
        with engine.connect() as connection:
            return (
                int(connection.execute(select(func.count()).select_from(requests)).scalar_one()),
                int(
                    connection.execute(
                        select(func.count()).select_from(request_events)
                    ).scalar_one()
                ),
            )
    finally:
        engine.dispose()


def test_new_request_json_shape(ready: Steward) -> None:
    made = run_json(
        ready, "request", "new", "--type", "access", "--subject", ANA, "--received", "2026-01-31"
    )
    assert {"id", "type", "state", "received_at", "due_date"} <= set(made)
    assert made["type"] == "access" and made["received_at"] == "2026-01-31"
    assert made["due_date"] == "2026-02-28"
    shown = run_json(ready, "request", "show", made["id"])
    assert shown["due_date"] == "2026-02-28" and shown["extended_due_date"] is None
    assert [h["action"] for h in shown["history"]] == ["submit", "ask_identity"]
    listed = run_json(ready, "request", "list", "--state", "awaiting_identity")
    assert [r["id"] for r in listed] == [made["id"]]
    due = run_json(ready, "requests", "due", "--within", "P7D")
    assert [r["id"] for r in due["overdue"]] == [made["id"]]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--type", "deletion", "--subject", ANA], "usage_error", "not a request type"),
        (
            ["--type", "access", "--subject", ANA, "--received", "31.01.2026"],
            "usage_error",
            "not a date",
        ),
        (
            ["--type", "access", "--subject", ANA, "--received", "2999-01-01"],
            "invalid_input",
            "future",
        ),
        (["--type", "access", "--subject", "email:not-an-email"], "invalid_identity", ""),
        (
            ["--type", "rectification", "--subject", ANA, "--set", "nonsense"],
            "usage_error",
            "--set",
        ),
        (
            ["--type", "access", "--subject", ANA, "--purpose", "newsletter"],
            "usage_error",
            "--purpose",
        ),
    ],
)
def test_bad_intake_is_refused_and_writes_nothing(
    ready: Steward, args: list[str], code: str, needle: str
) -> None:
    before = rows(ready)
    body = run_json(ready, "request", "new", *args, code=2)
    assert body["error"]["code"] == code
    assert needle in body["error"]["message"]
    assert rows(ready) == before


def test_staff_decisions_and_their_errors(ready: Steward) -> None:
    late = run_json(
        ready, "request", "new", "--type", "access", "--subject", ANA, "--received", "2026-01-31"
    )["id"]
    body = run_json(ready, "request", "extend", late, "--reason", "busy", code=3)
    assert "first period" in body["error"]["message"]
    fresh = run_json(ready, "request", "new", "--type", "erasure", "--subject", ANA)["id"]
    assert run_json(ready, "request", "extend", fresh, "--reason", "", code=2)["error"]["code"] == (
        "invalid_input"
    )
    extended = run_json(ready, "request", "extend", fresh, "--reason", "eleven systems")
    assert extended["extended"] is True and extended["extended_due_date"]
    twice = run_json(ready, "request", "extend", fresh, "--reason", "again", code=3)
    assert "already extended" in twice["error"]["message"]
    before = rows(ready)
    no_reason = run_json(
        ready, "request", "refuse", fresh, "--ground", "excessive", "--reason", " ", code=2
    )
    assert no_reason["error"]["code"] == "invalid_input"
    bad_ground = run_json(
        ready, "request", "refuse", fresh, "--ground", "boring", "--reason", "x", code=2
    )
    assert "manifestly-unfounded" in bad_ground["error"]["message"]
    assert rows(ready) == before
    refused = run_json(
        ready, "request", "refuse", fresh, "--ground", "excessive", "--reason", "fifth this month"
    )
    assert refused["state"] == "refused"
    closed = run_json(ready, "request", "cancel", fresh, code=3)
    assert closed["error"]["code"] == "illegal_transition"


def test_wrong_code_and_unknown_request(ready: Steward) -> None:
    made = run_json(ready, "request", "new", "--type", "access", "--subject", ANA)["id"]
    wrong = run_json(ready, "request", "verify", made, "--code", "abcdef", code=3)
    assert wrong["error"]["code"] == "verification_failed"
    assert "4 attempt(s) left" in wrong["error"]["message"]
    both = run_json(ready, "request", "verify", made, "--code", "1", "--staff-check", "x", code=2)
    assert both["error"]["code"] == "usage_error"
    missing = run_json(ready, "request", "show", "0d6f6d52-0000-4000-8000-000000000000", code=2)
    assert missing["error"]["code"] == "not_found"
    not_started = run_json(ready, "request", "run", made, code=3)
    assert "identity" in not_started["error"]["message"]
    staff = run_json(ready, "request", "verify", made, "--staff-check", "ID card seen")
    assert staff["state"] == "verified"
    plan = run_json(ready, "request", "plan", made)
    assert plan["type"] == "access"


def test_withdrawal_by_request_is_applied_at_once(ready: Steward) -> None:
    gave = ready(
        "consent", "give", "--subject", ANA, "--purpose", "newsletter", "--channel", "form"
    )
    assert gave.exit_code == 0, gave.output
    done = run_json(
        ready, "request", "new", "--type", "withdraw_consent", "--subject", ANA, "--channel", "web"
    )
    assert done["state"] == "completed"
    check = ready("consent", "check", "--subject", ANA, "--purpose", "newsletter", "--json")
    assert json.loads(check.stdout)["allowed"] is False
