"""The pieces of the senders that need no server: SMTP URLs, the MIME
message, webhook signatures and status classification (through httpx's own
mock transport), the retry schedule, and the fake sender."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest

from datasteward.crypto import Keyring, MasterKey
from datasteward.errors import UsageError
from datasteward.notify.fake import RecordingSender
from datasteward.notify.outbox import RetryPolicy
from datasteward.notify.senders import Delivery, DeliveryFailed
from datasteward.notify.smtp import SmtpSender, build_email, parse_smtp_url
from datasteward.notify.webhook import WebhookSender, derived_webhook_secret, sign

MAIL = Delivery(
    id="5b0c7f52-7d3e-4f7e-9a55-2f0e8e3c1a10",
    channel="email",
    kind="verification_code",
    to="juris.ozols@example.lv",
    subject="Your verification code",
    text="Code: 604 211\n",
    html="<p>Code: <strong>604 211</strong></p>\n",
)
HOOK = Delivery(
    id="0d8d3a4e-2b7c-4a53-8a0e-3c3d6b9b7e21",
    channel="webhook",
    kind="recipient_notice",
    to="CRM_WEBHOOK_URL",
    subject="s",
    text="t",
    html="h",
    body='{"data":{"action":"erasure"},"id":"0d8d3a4e"}',
)


# -- SMTP ----------------------------------------------------------------------


def test_smtp_urls() -> None:
    plain = parse_smtp_url("smtp://mail.example.lv:2525")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example.lv",
        2525,
        False,
        False,
    )
    assert plain.username is None
    tls = parse_smtp_url("smtps://steward%40shop:p%40ss%3Aword@mail.example.lv")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (
        465,
        True,
        "steward@shop",
        "p@ss:word",
    )
    assert "p@ss" not in repr(tls)
    assert parse_smtp_url("smtp://mail.example.lv?starttls=1").starttls
    assert parse_smtp_url("smtp://mail.example.lv").port == 25


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.lv", "must start with smtp:// or smtps://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example.lv:notaport", "invalid port"),
        ("smtp://mail.example.lv?tls=1", "unknown option 'tls'"),
        ("smtps://mail.example.lv?starttls=1", "TLS already"),
    ],
)
def test_bad_smtp_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_smtp_url(url)


def test_bad_smtp_url_errors_never_repeat_the_password() -> None:
    with pytest.raises(UsageError) as caught:
        parse_smtp_url("smtp://user:hunter22@mail.example.lv:xx")
    assert "hunter22" not in caught.value.message


def test_email_has_text_and_html_alternatives_and_the_outbox_id() -> None:
    email = build_email(MAIL, "Paraugveikals <privacy@paraugveikals.example>")
    assert email["To"] == "juris.ozols@example.lv"
    assert email["From"] == "Paraugveikals <privacy@paraugveikals.example>"
    assert email["Message-ID"] == f"<{MAIL.id}@paraugveikals.example>"
    assert email["X-Steward-Delivery"] == MAIL.id
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in email.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "604 211" in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_an_address_with_a_line_break_is_a_permanent_failure() -> None:
    bad = Delivery(**{**MAIL.__dict__, "to": "a@example.lv\r\nBcc: b@example.lv"})
    with pytest.raises(DeliveryFailed) as caught:
        build_email(bad, "privacy@paraugveikals.example")
    assert caught.value.transient is False
    assert "example.lv" not in caught.value.reason


def test_sender_address_must_be_an_address() -> None:
    with pytest.raises(UsageError, match="STEWARD_MAIL_FROM"):
        SmtpSender("smtp://127.0.0.1:25", "Paraugveikals")


def test_deliveries_print_no_addressee() -> None:
    assert "juris" not in repr(MAIL) and "604" not in repr(MAIL)


# -- webhooks ----------------------------------------------------------------------


def receiver(status: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return httpx.MockTransport(handle)


def test_webhook_is_signed_and_carries_the_delivery_id() -> None:
    seen: list[httpx.Request] = []
    sender = WebhookSender(
        "s3cret",
        {"CRM_WEBHOOK_URL": "https://crm.example/hooks"},
        transport=receiver(204, seen),
    )
    sender.send(HOOK)
    (request,) = seen
    assert str(request.url) == "https://crm.example/hooks"
    assert request.content == HOOK.body.encode()  # type: ignore[union-attr]
    expected = hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Steward-Signature"] == f"sha256={expected}"
    assert request.headers["X-Steward-Delivery"] == HOOK.id
    assert request.headers["X-Steward-Event"] == "recipient_notice"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content)["data"] == {"action": "erasure"}
    assert "s3cret" not in repr(sender)


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (503, True), (429, True), (408, True), (400, False), (410, False), (301, False)],
)
def test_webhook_status_classification(status: int, transient: bool) -> None:
    sender = WebhookSender(
        "k", {"CRM_WEBHOOK_URL": "https://crm.example/h"}, transport=receiver(status, [])
    )
    with pytest.raises(DeliveryFailed) as caught:
        sender.send(HOOK)
    assert caught.value.transient is transient
    assert caught.value.reason == f"webhook answered HTTP {status}"


def test_webhook_connection_errors_are_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    env = {"CRM_WEBHOOK_URL": "https://crm.example/h?token=abc"}
    for handler, reason in (
        (refuse, "webhook unreachable (ConnectError)"),
        (slow, "webhook timed out"),
    ):
        sender = WebhookSender("k", env, transport=httpx.MockTransport(handler))
        with pytest.raises(DeliveryFailed) as caught:
            sender.send(HOOK)
        assert caught.value.transient and caught.value.reason == reason


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "webhook URL variable CRM_WEBHOOK_URL is not set"),
        ({"CRM_WEBHOOK_URL": "ftp://crm.example/"}, "does not hold an http(s) URL"),
    ],
)
def test_webhook_url_problems_wait_for_configuration(env: dict[str, str], reason: str) -> None:
    with pytest.raises(DeliveryFailed, match=reason.replace("(", r"\(").replace(")", r"\)")) as c:
        WebhookSender("k", env, transport=receiver(200, [])).send(HOOK)
    assert c.value.transient


def test_the_url_is_read_when_sending() -> None:
    env: dict[str, str] = {}
    seen: list[httpx.Request] = []
    sender = WebhookSender("k", env, transport=receiver(200, seen))
    env["CRM_WEBHOOK_URL"] = "https://crm.example/new"
    sender.send(HOOK)
    assert str(seen[0].url) == "https://crm.example/new"


def test_signature_helper_and_derived_secret() -> None:
    assert sign(b"k", b"{}") == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    ring = Keyring([key := MasterKey.generate()], key.kid)
    secret = derived_webhook_secret(ring)
    assert len(secret) == 64
    assert derived_webhook_secret(ring.rotated()) == secret  # survives rotation
    with pytest.raises(ValueError, match="empty"):
        WebhookSender("", {})


# -- retry schedule and the fake ----------------------------------------------------


def test_backoff_doubles_from_a_minute_up_to_six_hours() -> None:
    policy = RetryPolicy()
    delays = [policy.delay(n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[8] == timedelta(minutes=256)
    assert delays[9] == delays[10] == timedelta(hours=6)
    assert policy.max_attempts == 10
    assert RetryPolicy().delay(10_000) == timedelta(hours=6)


def test_recording_sender_scripts_failures() -> None:
    fake = RecordingSender()
    fake.fail_next("down", transient=True)
    with pytest.raises(DeliveryFailed, match="down"):
        fake.send(MAIL)
    fake.send(MAIL)
    assert fake.ids() == [MAIL.id]
    assert len(fake.attempts) == 2
