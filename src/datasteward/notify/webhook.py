"""Signed webhooks to recipients (Art. 19), over httpx.

The URL is read from the environment variable the recipient's channel names
when the message is *sent*, not when it was queued, so fixing a URL reaches
messages already waiting. The body is the JSON document rendered when the
message was queued, byte for byte the same on every retry, and is signed::

    X-Steward-Signature: sha256=<hex HMAC-SHA256(secret, body)>
    X-Steward-Delivery:  <outbox id>   (the receiver's idempotency key)
    X-Steward-Event:     recipient_notice

Outcomes: 2xx delivered; 5xx, 408, 429, time-outs and connection errors are
transient (retried with backoff); any other status is permanent (dead at
once): the receiver understood and said no, or redirected (redirects are not
followed, so a signed body never goes somewhere unexpected). A missing or
non-http(s) URL variable is transient: it is configuration, fixed once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from datasteward import __version__
from datasteward.crypto import Keyring
from datasteward.notify.senders import Delivery, DeliveryFailed

__all__ = ["WebhookSender", "derived_webhook_secret", "sign"]

DEFAULT_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Steward-Signature"
DELIVERY_HEADER = "X-Steward-Delivery"
EVENT_HEADER = "X-Steward-Event"
_TRANSIENT_STATUS = {408, 425, 429}


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def derived_webhook_secret(keyring: Keyring) -> str:
    """The signing secret used when ``STEWARD_WEBHOOK_SECRET`` is unset.

    Derived from the *oldest* master key held, so it survives key rotation
    (the active key changes; the first stays in the key file)."""
    return keyring.blind_index("webhook-secret", "v1", kid=keyring.kids[0])


class WebhookSender:
    """POSTs each delivery's body to the URL in its environment variable."""

    def __init__(
        self,
        secret: str | bytes,
        env: Mapping[str, str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not self._secret:
            raise ValueError("the webhook secret cannot be empty")
        self._env = env
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return "WebhookSender(secret=***)"

    def url_for(self, variable: str) -> str:
        """The URL in ``variable``, or :class:`DeliveryFailed` (transient) saying what is wrong."""
        url = (self._env.get(variable) or "").strip()
        if not url:
            raise DeliveryFailed(f"webhook URL variable {variable} is not set", transient=True)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryFailed(
                f"webhook URL variable {variable} does not hold an http(s) URL", transient=True
            )
        return url

    def send(self, delivery: Delivery) -> None:
        if delivery.body is None:
            raise DeliveryFailed("a webhook message has no body", transient=False)
        url = self.url_for(delivery.to)
        body = delivery.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"datasteward/{__version__}",
            SIGNATURE_HEADER: sign(self._secret, body),
            DELIVERY_HEADER: delivery.id,
            EVENT_HEADER: delivery.kind,
        }
        try:
            with httpx.Client(
                timeout=self._timeout, follow_redirects=False, transport=self._transport
            ) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryFailed("webhook timed out", transient=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                f"webhook unreachable ({type(exc).__name__})", transient=True
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        transient = status >= 500 or status in _TRANSIENT_STATUS
        raise DeliveryFailed(f"webhook answered HTTP {status}", transient=transient)
