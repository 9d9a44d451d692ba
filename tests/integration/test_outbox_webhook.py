"""Art. 19 notices to a recipient's real HTTP endpoint (``http.server`` in a
thread on 127.0.0.1): the receiver verifies the signature the way
docs/notifications.md tells recipients to, a 500 is retried with the same
bytes and delivery id, a 4xx is final, and the URL is read at send time."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests.integration.conftest import MINIMAL, Steward

from datasteward.notify.art19 import recipients_to_notify
from datasteward.notify.outbox import Outbox
from datasteward.notify.webhook import WebhookSender
from datasteward.policy.loader import parse_policy
from datasteward.policy.model import Policy

SECRET = "zvaigzne-7f3a9c"
URL_ENV = "CRM_WEBHOOK_URL"
PERSON = {"email": "laura.eglite@example.lv"}


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


class Receiver:
    """A recipient's endpoint: answers each POST with the next scripted
    status (then 200), and checks the signature with the shared secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.hits: list[Hit] = []
        self.statuses: list[int] = []
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Steward-Signature", "")
                receiver.hits.append(
                    Hit(dict(self.headers), body, hmac.compare_digest(expected, given))
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/art19"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as running:
        yield running


def crm_policy() -> Policy:
    data = parse_policy(MINIMAL.read_text(encoding="utf-8"), "p.yaml").policy.model_dump(
        mode="json", exclude_none=True
    )
    data["recipients"] = [
        {
            "id": "crm",
            "name": "SIA Klientu Serviss",
            "role": "processor",
            "notify": {"kind": "webhook", "url_env": URL_ENV},
        }
    ]
    data["processing_activities"][0]["recipients"] = ["crm"]
    return Policy.model_validate(data)


def queue_notice(steward: Steward, box: Outbox, action: str = "erasure") -> str:
    (notice,) = recipients_to_notify(
        crm_policy(), categories=None, action=action, identities=PERSON, request_id="req-9"
    )
    with steward.store.transaction() as tx:
        (message_id,) = box.add_notices(tx, [notice], subject_id="s-9", request_id="req-9")
    return message_id


def hook_outbox(steward: Steward, env: dict[str, str], secret: str = SECRET) -> Outbox:
    sender = WebhookSender(secret, env, timeout=5)
    return Outbox(steward.store, steward.keyring, steward.clock, {"webhook": sender})


def test_signed_notice_retried_after_a_500(steward: Steward, receiver: Receiver) -> None:
    box = hook_outbox(steward, {URL_ENV: receiver.url})
    message_id = queue_notice(steward, box)
    receiver.statuses = [500]

    report = box.deliver_due()
    assert report.retrying == 1 and report.results[0].error == "webhook answered HTTP 500"
    steward.clock.advance(timedelta(minutes=1))
    assert box.deliver_due().sent == 1
    assert box.deliver_due().results == ()

    first, second = receiver.hits
    assert first.signature_ok and second.signature_ok
    assert first.body == second.body  # the same bytes on every attempt
    for hit in (first, second):
        assert hit.headers["X-Steward-Delivery"] == message_id
        assert hit.headers["X-Steward-Event"] == "recipient_notice"
        assert hit.headers["Content-Type"] == "application/json"
    document = json.loads(first.body)
    assert document["id"] == message_id
    assert document["event"] == "recipient_notice"
    data = document["data"]
    assert data["action"] == "erasure"
    assert data["identities"] == PERSON
    assert data["request_id"] == "req-9"
    assert [c["id"] for c in data["categories"]] == ["email", "name"]
    assert data["recipient"]["id"] == "crm"
    assert data["controller"]["name"] == 'SIA "Zaļā Pļava"'


def test_a_wrong_secret_fails_verification_at_the_receiver(
    steward: Steward, receiver: Receiver
) -> None:
    box = hook_outbox(steward, {URL_ENV: receiver.url}, secret="not-the-shared-one")
    queue_notice(steward, box)
    assert box.deliver_due().sent == 1  # the receiver here accepts anything...
    assert receiver.hits[0].signature_ok is False  # ...but a real one would reject it


def test_a_4xx_is_final(steward: Steward, receiver: Receiver) -> None:
    box = hook_outbox(steward, {URL_ENV: receiver.url})
    message_id = queue_notice(steward, box, "rectification")
    receiver.statuses = [422]
    report = box.deliver_due()
    assert [(r.id, r.outcome, r.error) for r in report.results] == [
        (message_id, "dead", "webhook answered HTTP 422")
    ]
    steward.clock.advance(timedelta(hours=1))
    assert box.deliver_due().results == ()
    assert len(receiver.hits) == 1


def test_the_url_variable_is_read_when_sending(steward: Steward, receiver: Receiver) -> None:
    env: dict[str, str] = {}
    box = hook_outbox(steward, env)
    message_id = queue_notice(steward, box, "restriction")
    report = box.deliver_due()
    assert report.results[0].error == f"webhook URL variable {URL_ENV} is not set"
    assert report.retrying == 1
    env[URL_ENV] = receiver.url  # the operator sets it; the queued notice uses it
    steward.clock.advance(timedelta(minutes=1))
    assert box.deliver_due().sent == 1
    assert receiver.hits[0].headers["X-Steward-Delivery"] == message_id


def test_an_endpoint_that_is_down_is_retried(steward: Steward) -> None:
    with Receiver(SECRET) as gone:
        url = gone.url
    box = hook_outbox(steward, {URL_ENV: url})
    queue_notice(steward, box)
    (result,) = box.deliver_due().results
    assert result.outcome == "retrying"
    assert result.error == "webhook unreachable (ConnectError)"
