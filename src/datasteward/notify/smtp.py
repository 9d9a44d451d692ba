"""Email through an SMTP server (``STEWARD_SMTP_URL``), with the standard
library's smtplib and email packages.

Each message is ``multipart/alternative`` (plain text first, HTML second),
with ``Message-ID: <outbox id@sender domain>`` and ``X-Steward-Delivery`` so
a message sent twice (a worker that died between sending and recording) is
recognisable as one, and ``Auto-Submitted: auto-generated`` so autoresponders
stay quiet (RFC 3834).

Failures are classified so the outbox knows whether to try again:

* **permanent** (the message is marked dead at once): the server refused the
  recipient or the message content with a 5xx reply, or the address cannot
  be put in a header at all. Sending the same message again gets the same
  answer; an operator can fix the cause and ``steward outbox retry`` it.
* **transient** (retried with backoff): connection refused or reset, time
  outs, TLS errors, 4xx replies, and also replies that concern *our own*
  configuration rather than this message (authentication, refused sender,
  STARTTLS unsupported), because those affect every message alike and are
  fixed once by the operator, after which queued messages go out unharmed.

The stored reason holds the reply code and enhanced status code only
(``SMTP 550 5.1.1``): server replies often quote the address.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from datasteward.errors import UsageError
from datasteward.notify.senders import Delivery, DeliveryFailed

__all__ = ["SmtpSender", "SmtpTarget", "build_email", "parse_smtp_url"]

DEFAULT_TIMEOUT = 30.0
_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, repr=False)
class SmtpTarget:
    """Where and how to connect; ``repr`` hides the password."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    def __repr__(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpTarget({scheme}://{user}{self.host}:{self.port}, starttls={self.starttls})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``.

    Default ports: 25 for smtp, 465 for smtps. User and password may be
    percent-encoded. Errors never repeat the URL (it may hold a password)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise UsageError("STEWARD_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise UsageError("STEWARD_SMTP_URL names no host")
    try:
        port = parts.port
    except ValueError:
        raise UsageError("STEWARD_SMTP_URL has an invalid port") from None
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise UsageError(f"STEWARD_SMTP_URL has unknown option '{unknown[0]}' (known: starttls)")
    starttls = any(v.lower() in _TRUE for v in query.get("starttls", []))
    implicit = parts.scheme == "smtps"
    if implicit and starttls:
        raise UsageError("STEWARD_SMTP_URL: smtps:// is TLS already; drop ?starttls=1")
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _address(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    if "@" not in address:
        raise UsageError("the sender address (STEWARD_MAIL_FROM) is not an email address")
    return address


def build_email(delivery: Delivery, mail_from: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, identified by the outbox id.

    Raises :class:`DeliveryFailed` (permanent) when a header cannot hold the
    values (e.g. an address with a line break)."""
    domain = _address(mail_from).rpartition("@")[2]
    message = EmailMessage(policy=SMTP_POLICY)
    try:
        message["From"] = mail_from
        message["To"] = delivery.to
        message["Subject"] = delivery.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{delivery.id}@{domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Steward-Delivery"] = delivery.id
        message.set_content(delivery.text)
        message.add_alternative(delivery.html, subtype="html")
    except (ValueError, TypeError, IndexError) as exc:
        raise DeliveryFailed(
            f"the message cannot be written as email ({type(exc).__name__})", transient=False
        ) from None
    return message


def _reply(code: int, text: bytes | str | None) -> str:
    raw = text.encode("utf-8", "replace") if isinstance(text, str) else (text or b"")
    match = _ENHANCED.match(raw)
    return f"SMTP {code} {match.group(1).decode()}" if match else f"SMTP {code}"


class SmtpSender:
    """Sends each delivery over a fresh SMTP connection (with a timeout on
    every socket operation), so a broken connection never carries over."""

    def __init__(
        self,
        url: str,
        mail_from: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.target = parse_smtp_url(url)
        self.mail_from = mail_from
        self.envelope_from = _address(mail_from)
        self.timeout = timeout
        self._ssl_context = ssl_context

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        helo = self.envelope_from.rpartition("@")[2]  # no slow getfqdn() lookup
        if t.implicit_tls:
            return smtplib.SMTP_SSL(
                t.host, t.port, local_hostname=helo, timeout=self.timeout, context=self._context()
            )
        return smtplib.SMTP(t.host, t.port, local_hostname=helo, timeout=self.timeout)

    def send(self, delivery: Delivery) -> None:
        message = build_email(delivery, self.mail_from)
        t = self.target
        try:
            with self._connect() as smtp:
                if t.starttls:
                    smtp.starttls(context=self._context())
                if t.username:
                    smtp.login(t.username, t.password or "")
                smtp.send_message(message, from_addr=self.envelope_from, to_addrs=[delivery.to])
        except smtplib.SMTPRecipientsRefused as exc:
            replies = list(exc.recipients.values())
            code, text = replies[0] if replies else (550, b"")
            permanent = all(500 <= c < 600 for c, _ in replies) and bool(replies)
            raise DeliveryFailed(
                f"{_reply(code, text)}: recipient refused", transient=not permanent
            ) from None
        except smtplib.SMTPDataError as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryFailed(
                f"{_reply(exc.smtp_code, exc.smtp_error)}: message refused", transient=not permanent
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(
                f"{_reply(exc.smtp_code, exc.smtp_error)}: authentication failed", transient=True
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            raise DeliveryFailed(
                f"{_reply(exc.smtp_code, exc.smtp_error)}: sender address refused", transient=True
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(_reply(exc.smtp_code, exc.smtp_error), transient=True) from None
        except ssl.SSLError as exc:
            raise DeliveryFailed(f"TLS failed ({type(exc).__name__})", transient=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"SMTP server unreachable ({type(exc).__name__})", transient=True
            ) from None
