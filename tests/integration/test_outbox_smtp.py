"""Email through a real SMTP server (aiosmtpd on 127.0.0.1, a free port):
what arrives, an outage in the middle (nothing lost, nothing sent twice),
refusals classified, and STARTTLS with authentication and implicit TLS.

``SmtpServer`` is also used by the command-line tests."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from tests.integration.conftest import MINIMAL, START, Steward

from datasteward.notify import messages
from datasteward.notify.outbox import Outbox
from datasteward.notify.smtp import SmtpSender
from datasteward.policy.loader import parse_policy
from datasteward.policy.model import Policy
from datasteward.store.tables import outbox

FROM = "Zaļā Pļava <privacy@zala-plava.example>"
ANA = "anna.liepina@example.lv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Handler:
    """Keeps what arrives; refuses recipients by the word in their local part:
    ``nobody`` gets 550 5.1.1, ``busy`` gets 450 4.2.1."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody"):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        if address.startswith("busy"):
            return f"450 4.2.1 <{address}>: Mailbox busy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again
    on the same port (an outage)."""

    def __init__(self, **smtp_options: Any) -> None:
        self.port = free_port()
        self.handler = Handler()
        self.options = smtp_options
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def policy() -> Policy:
    return parse_policy(MINIMAL.read_text(encoding="utf-8"), str(MINIMAL)).policy


def code_message(policy: Policy, to: str = ANA, code: str = "582 013") -> messages.Message:
    return messages.verification_code(
        policy, to=to, request_id="req-1", code=code, expires_at=START + timedelta(hours=1)
    )


def queue(steward: Steward, box: Outbox, message: messages.Message) -> str:
    with steward.store.transaction() as tx:
        return box.add(tx, message, request_id="req-1")


def smtp_outbox(steward: Steward, url: str, **options: Any) -> Outbox:
    sender = SmtpSender(url, FROM, timeout=5, **options)
    return Outbox(steward.store, steward.keyring, steward.clock, {"email": sender})


def status(steward: Steward, message_id: str) -> tuple[str, int, str, str | None]:
    with steward.engine.connect() as connection:
        r = connection.execute(select(outbox).where(outbox.c.id == message_id)).one()
    return r.status, r.attempts, r.next_attempt_at, r.last_error


def test_the_email_that_arrives(steward: Steward, smtp_server: SmtpServer, policy: Policy) -> None:
    box = smtp_outbox(steward, smtp_server.url)
    message_id = queue(steward, box, code_message(policy))
    assert box.deliver_due().sent == 1
    (got,) = smtp_server.received
    assert got.mail_from == "privacy@zala-plava.example"
    assert got.rcpt_tos == [ANA]
    email = got.message
    assert email["To"] == ANA
    assert email["From"] == FROM
    assert email["Subject"] == 'Your verification code for your request to SIA "Zaļā Pļava"'
    assert email["Message-ID"] == f"<{message_id}@zala-plava.example>"
    assert email["X-Steward-Delivery"] == message_id
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(("plain",))
    html = email.get_body(("html",))
    assert text is not None and html is not None
    assert "582 013" in text.get_content()
    assert "<strong>582 013</strong>" in html.get_content()
    assert "Zaļā Pļava" in text.get_content()  # UTF-8 survives the trip
    assert status(steward, message_id)[:2] == ("sent", 1)


def test_an_outage_loses_nothing_and_sends_nothing_twice(
    steward: Steward, smtp_server: SmtpServer, policy: Policy
) -> None:
    box = smtp_outbox(steward, smtp_server.url)
    ids = []
    for n in range(4):
        ids.append(queue(steward, box, code_message(policy, f"klients{n}@example.lv", f"10{n}")))
        steward.clock.advance(timedelta(seconds=1))
    assert box.deliver_due(limit=1).sent == 1  # the oldest went out before the outage

    smtp_server.stop()
    report = box.deliver_due()
    assert (report.sent, report.retrying) == (0, 3)
    assert all(r.error and "SMTP server unreachable" in r.error for r in report.results)
    now = steward.clock.now()
    for message_id in ids[1:]:
        state, attempts, next_at, error = status(steward, message_id)
        assert (state, attempts) == ("pending", 1)
        assert next_at == (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert error is not None and "Refused" in error

    steward.clock.advance(timedelta(minutes=1))
    assert box.deliver_due().retrying == 3  # still down: second attempt, 2 minutes later
    assert {status(steward, i)[1] for i in ids[1:]} == {2}
    assert box.pending_count() == 3

    smtp_server.start()
    assert box.deliver_due().results == ()  # the server is back, but nothing is due yet
    steward.clock.advance(timedelta(minutes=2))
    report = box.deliver_due()
    assert report.sent == 3
    assert box.deliver_due().results == ()
    assert box.pending_count() == 0

    delivered = [r.message["X-Steward-Delivery"] for r in smtp_server.received]
    assert sorted(delivered) == sorted(ids)  # every message, once
    assert [r.rcpt_tos[0] for r in smtp_server.received] == [
        f"klients{n}@example.lv" for n in range(4)
    ]
    assert {status(steward, i)[:2] for i in ids[1:]} == {("sent", 3)}


def test_refusals_are_classified(steward: Steward, smtp_server: SmtpServer, policy: Policy) -> None:
    box = smtp_outbox(steward, smtp_server.url)
    gone = queue(steward, box, code_message(policy, "nobody@example.lv"))
    busy = queue(steward, box, code_message(policy, "busy@example.lv"))
    outcomes = {r.id: (r.outcome, r.error) for r in box.deliver_due().results}
    assert outcomes == {
        gone: ("dead", "SMTP 550 5.1.1: recipient refused"),
        busy: ("retrying", "SMTP 450 4.2.1: recipient refused"),
    }
    assert smtp_server.received == []
    # the stored reasons quote no address
    assert "nobody" not in str(status(steward, gone)) and "busy@" not in str(status(steward, busy))


# -- TLS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1: (cert file, key file, PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem", pem


def server_context(certificate: tuple[Path, Path, bytes]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[0], certificate[1])
    return context


def client_context(certificate: tuple[Path, Path, bytes]) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=certificate[2].decode())


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"steward@zala-plava.example",
        b"pa:ss",
    )
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535


def test_starttls_with_login(
    steward: Steward, policy: Policy, certificate: tuple[Path, Path, bytes]
) -> None:
    server = SmtpServer(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    server.start()
    try:
        user = "steward%40zala-plava.example"
        good = smtp_outbox(
            steward,
            f"smtp://{user}:pa%3Ass@127.0.0.1:{server.port}?starttls=1",
            ssl_context=client_context(certificate),
        )
        message_id = queue(steward, good, code_message(policy))
        assert good.deliver_due().sent == 1
        assert server.received[0].message["X-Steward-Delivery"] == message_id

        wrong = smtp_outbox(
            steward,
            f"smtp://{user}:wrong@127.0.0.1:{server.port}?starttls=1",
            ssl_context=client_context(certificate),
        )
        other = queue(steward, wrong, code_message(policy))
        (result,) = wrong.deliver_due().results
        # our own configuration is wrong, not the message: it waits for a fix
        assert (result.id, result.outcome) == (other, "retrying")
        assert result.error is not None and "authentication failed" in result.error

        untrusted = smtp_outbox(
            steward, f"smtp://{user}:pa%3Ass@127.0.0.1:{server.port}?starttls=1"
        )
        steward.clock.advance(timedelta(minutes=1))
        (result,) = untrusted.deliver_due().results
        assert result.outcome == "retrying" and result.error is not None
        assert "TLS failed" in result.error
        assert len(server.received) == 1
    finally:
        server.stop()


def test_implicit_tls(
    steward: Steward, policy: Policy, certificate: tuple[Path, Path, bytes]
) -> None:
    server = SmtpServer(ssl_context=server_context(certificate))
    server.start()
    try:
        box = smtp_outbox(
            steward,
            f"smtps://127.0.0.1:{server.port}",
            ssl_context=client_context(certificate),
        )
        queue(steward, box, code_message(policy))
        assert box.deliver_due().sent == 1
        assert len(server.received) == 1
    finally:
        server.stop()
