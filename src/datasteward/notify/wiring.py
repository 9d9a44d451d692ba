"""Builds the outbox from settings: the composition the CLI (and later the
server and workers) share, so each entry point wires senders the same way.

* email: an :class:`SmtpSender` when ``STEWARD_SMTP_URL`` is set. The sender
  address is ``STEWARD_MAIL_FROM``, else the controller's contact email from
  the active policy. Without a server, emails wait in the outbox (and
  ``steward outbox send`` says so).
* webhook: always available; signed with ``STEWARD_WEBHOOK_SECRET`` or, when
  unset, a secret derived from the master key; URLs come from the process
  environment when each message is sent.
"""

from __future__ import annotations

from datasteward.clock import Clock
from datasteward.crypto import Keyring
from datasteward.errors import StoreError, UsageError
from datasteward.notify.messages import Channel
from datasteward.notify.outbox import Outbox
from datasteward.notify.senders import Sender
from datasteward.notify.smtp import SmtpSender
from datasteward.notify.webhook import WebhookSender, derived_webhook_secret
from datasteward.ports import EngineStore
from datasteward.settings import Settings

__all__ = ["build_outbox", "mail_from", "webhook_secret"]


def webhook_secret(settings: Settings, keyring: Keyring) -> str:
    """The key webhooks are signed with."""
    return settings.webhook_secret or derived_webhook_secret(keyring)


def mail_from(settings: Settings, store: EngineStore) -> str | None:
    """``STEWARD_MAIL_FROM``, else the active policy's controller email, else None."""
    if settings.mail_from:
        return settings.mail_from
    from datasteward.policy.active import load_active_policy

    try:
        with store.reading() as tx:
            controller = load_active_policy(tx).policy.controller
    except StoreError:
        return None
    return str(controller.contact_email) if controller.contact_email else None


def build_outbox(settings: Settings, store: EngineStore, keyring: Keyring, clock: Clock) -> Outbox:
    """The outbox with every sender the settings allow."""
    senders: dict[str, Sender] = {
        Channel.WEBHOOK.value: WebhookSender(webhook_secret(settings, keyring), settings.env)
    }
    if settings.smtp_url:
        sender = mail_from(settings, store)
        if sender is None:
            raise UsageError(
                "STEWARD_SMTP_URL is set but no sender address is known: set "
                "STEWARD_MAIL_FROM or give the controller a contact_email in the policy"
            )
        senders[Channel.EMAIL.value] = SmtpSender(settings.smtp_url, sender)
    return Outbox(store, keyring, clock, senders)
