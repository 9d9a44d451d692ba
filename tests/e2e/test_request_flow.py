"""A whole access request, end to end, as a company runs it: the command
line, a real SMTP server (aiosmtpd), the embedded SQLite queue with a
`steward worker` process, and the generated shop. The person gets the
acknowledgment and a code by email, the code verifies them, the worker
builds the package, and the completion email carries a download link. The
SMTP server is down in the middle: nothing is lost, the completion email is
delivered once it is back."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from datasteward.cli.runtime import Runtime
from datasteward.clock import FixedClock, SystemClock
from datasteward.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[tuple[Inbox, Controller]]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield handler, controller
    finally:
        if getattr(controller, "_thread", None) is not None:
            controller.stop()


def test_access_request_by_email_through_the_queue(
    tmp_path: Path, smtp_port: int, inbox: tuple[Inbox, Controller]
) -> None:
    from datasteward.shop import load

    mail, server = inbox
    shop_url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    load(shop_url, 2_000, replace=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")},
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_ACTOR": "test:staff",
        "STEWARD_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "STEWARD_PUBLIC_URL": "https://privacy.shop.example",
        "SHOP_DATABASE_URL": shop_url,
    }

    def steward(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "datasteward.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def as_json(*args: str) -> Any:
        return json.loads(steward(*args, "--json").stdout)

    steward("init")
    steward("policy", "apply", str(EXAMPLE))
    import sqlite3

    with sqlite3.connect(tmp_path / "shop.sqlite") as db:
        email = str(db.execute("SELECT email FROM customers ORDER BY id LIMIT 1").fetchone()[0])

    created = as_json("request", "new", "--type", "access", "--subject", f"email:{email}")
    request_id = created["id"]
    assert created["state"] == "awaiting_identity"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", created["due_date"])

    sent = as_json("outbox", "send")
    assert sent["sent"] == 2
    received = mail.to(email)
    assert len(received) == 2
    texts = [text_of(m) for m in received]
    due = date.fromisoformat(created["due_date"])
    long_due = f"{due.day} {due:%B} {due.year}"
    assert any(long_due in t for t in texts), "the acknowledgment names the due date"
    code_mail = next(t for t in texts if re.search(r"\b\d{6}\b", t))
    code = re.search(r"\b(\d{6})\b", code_mail)
    assert code is not None

    wrong = steward("request", "verify", request_id, "--code", "000000", "--json", check=False)
    if code.group(1) != "000000":
        assert wrong.returncode == 3
        assert json.loads(wrong.stdout)["error"]["code"] == "verification_failed"
    verified = as_json("request", "verify", request_id, "--code", code.group(1))
    assert verified["state"] == "verified"

    server.stop()  # the mail server goes down
    queued = as_json("request", "run", request_id, "--queue")
    assert queued["state"] == "in_progress"
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "datasteward.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        state = ""
        while time.monotonic() < deadline:
            state = as_json("request", "show", request_id)["state"]
            if state not in ("in_progress", "verified"):
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.3)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert state == "completed"

    # the completion email is tried while the server is down (by this send,
    # or already by the worker's minute job): it stays in the outbox
    during = as_json("outbox", "send")
    assert during["sent"] == 0
    waiting = as_json("outbox", "list", "--request", request_id)["messages"]
    completion = [m for m in waiting if m["kind"] == "completion"]
    assert len(completion) == 1
    assert completion[0]["status"] == "pending" and completion[0]["attempts"] >= 1
    assert completion[0]["last_error"]

    restarted = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    restarted.start()
    try:
        # the retry is due a minute later: deliver with the clock moved on
        later = FixedClock(SystemClock().now() + timedelta(minutes=5))
        rt = Runtime(Settings.from_env(env), later)
        report = rt.outbox.deliver_due()
        rt.close()
        assert report.sent == 1
    finally:
        restarted.stop()
    final = mail.to(email)[-1]
    body = text_of(final)
    link = re.search(r"https://privacy\.shop\.example/packages/[\w-]+\?token=[\w.]+", body)
    assert link is not None, body
    assert email not in link.group(0)
    assert len(mail.to(email)) == 3  # acknowledgment, code, completion: each once

    out = tmp_path / "export"
    exported = as_json("request", "export", request_id, "--out", str(out))
    assert Path(exported["path"]).is_file()
    audit = as_json("audit", "show", "--object-id", request_id, "--limit", "50")
    entries = audit["events"] if isinstance(audit, dict) else audit
    actions = {entry["action"] for entry in entries}
    assert {"request.received", "request.verify", "request.complete", "task.run"} <= actions
    assert "package.exported" in actions
