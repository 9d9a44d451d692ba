"""A sender that records instead of sending: the fake shipped beside the real
senders, so use cases and tests can check what would have gone out.

Failures can be scripted: each call to :meth:`RecordingSender.fail_next`
makes one upcoming delivery raise the given :class:`DeliveryFailed`.
Thread-safe, so concurrent delivery can be tested against it."""

from __future__ import annotations

import threading
from collections import deque

from datasteward.notify.senders import Delivery, DeliveryFailed

__all__ = ["RecordingSender"]


class RecordingSender:
    """Keeps every delivery it accepts, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[DeliveryFailed] = deque()
        self.delivered: list[Delivery] = []
        self.attempts: list[Delivery] = []

    def fail_next(self, reason: str = "scripted failure", *, transient: bool = True) -> None:
        """Make the next delivery fail with ``reason``."""
        with self._lock:
            self._failures.append(DeliveryFailed(reason, transient=transient))

    def send(self, delivery: Delivery) -> None:
        with self._lock:
            self.attempts.append(delivery)
            if self._failures:
                raise self._failures.popleft()
            self.delivered.append(delivery)

    def ids(self) -> list[str]:
        """Outbox ids delivered, in order."""
        with self._lock:
            return [d.id for d in self.delivered]
