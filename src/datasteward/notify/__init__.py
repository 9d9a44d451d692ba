"""Notifications: what the engine tells data subjects and recipients, and the
outbox that delivers it by email, signed webhook or a person's hand.

* ``messages`` and ``art19`` (pure): builders that turn plain values into
  :class:`Message` objects, and the Art. 19 choice of recipients to tell.
* ``render``: words from the templates in ``templates/<language>/``.
* ``outbox`` (service): queue inside the caller's transaction, deliver with
  retries, confirm manual messages, list without personal data.
* ``smtp``, ``webhook`` (adapters, imported on demand): the real senders;
  ``fake.RecordingSender`` is the one tests use. ``wiring`` builds the
  outbox from settings.

See docs/notifications.md.
"""

from datasteward.notify.art19 import Art19Action, RecipientNotice, recipients_to_notify
from datasteward.notify.fake import RecordingSender
from datasteward.notify.messages import Channel, Message, MessageKind
from datasteward.notify.outbox import (
    DeliveryReport,
    DeliveryResult,
    Outbox,
    OutboxEntry,
    OutboxMessage,
    RetryPolicy,
)
from datasteward.notify.ports import OutboxStatus
from datasteward.notify.senders import Delivery, DeliveryFailed, Sender, Senders

__all__ = [
    "Art19Action",
    "Channel",
    "Delivery",
    "DeliveryFailed",
    "DeliveryReport",
    "DeliveryResult",
    "Message",
    "MessageKind",
    "Outbox",
    "OutboxEntry",
    "OutboxMessage",
    "OutboxStatus",
    "RecipientNotice",
    "RecordingSender",
    "RetryPolicy",
    "Sender",
    "Senders",
    "recipients_to_notify",
]
