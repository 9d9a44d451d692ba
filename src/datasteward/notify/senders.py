"""The seam between the outbox and the ways out: one :class:`Sender` per
channel (SMTP for email, HTTP for webhooks), and the failure they report.

A sender either returns (delivered) or raises :class:`DeliveryFailed`,
saying whether trying again later could help (``transient``). Its
``reason`` is stored in the outbox and shown to operators, so senders build
it from status codes and error kinds only, never from server replies that
may quote an address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from datasteward.errors import StewardError

__all__ = ["Delivery", "DeliveryFailed", "Sender", "Senders"]


@dataclass(frozen=True)
class Delivery:
    """One message as a sender sees it: rendered, decrypted, with its outbox
    id (the idempotency key receivers deduplicate on)."""

    id: str
    channel: str
    kind: str
    to: str
    subject: str
    text: str
    html: str
    body: str | None = None
    """The webhook's JSON document, exactly the bytes (UTF-8) to send and sign."""

    def __repr__(self) -> str:  # never print the addressee or the text
        return f"Delivery(id={self.id!r}, channel={self.channel!r}, kind={self.kind!r})"


class DeliveryFailed(StewardError):
    """A sender could not deliver.

    ``transient``: the outbox tries again later (connection refused, 4xx
    SMTP reply, HTTP 5xx, timeout). Otherwise the message is marked dead at
    once, because repeating the same request would get the same answer.
    Transient unless said otherwise: a doubtful failure is better retried."""

    code = "delivery_failed"

    def __init__(self, reason: str, *, transient: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class Sender(Protocol):
    """Delivers one message or raises :class:`DeliveryFailed`."""

    def send(self, delivery: Delivery) -> None: ...


Senders = Mapping[str, Sender]
"""Channel name (``email``, ``webhook``) -> its sender. A channel without a
sender is not delivered: its messages wait in the outbox (e.g. no SMTP server
configured yet). Manual messages never have a sender."""
