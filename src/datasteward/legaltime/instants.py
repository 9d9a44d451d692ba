"""The one text form of instants in the engine's store: UTC, microseconds, ``Z``.

Fixed width, so text order is time order in SQLite, PostgreSQL and MariaDB
alike, and the exact text is what hash chains cover."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_time", "parse_time"]

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(moment: datetime) -> str:
    """``2026-01-31T09:00:00.000000Z``; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC).strftime(_FORMAT)


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
