"""Identifiers of consent events."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_event_id"]


def new_event_id() -> str:
    """A time-ordered UUID (version 7 layout of RFC 9562: milliseconds since
    the epoch, then 74 random bits) for a consent event.

    Unique like a random UUID, but ids made one after another sort together,
    so inserting them extends the unique index on ``event_id`` at its end
    instead of dirtying a random page of it for every event: on a large
    store that is a good part of an append's disk writes."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (rand >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | rand & (1 << 62) - 1
    )
    return str(uuid.UUID(int=value))
