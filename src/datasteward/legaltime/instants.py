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
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    if utc.year < 1000:  # isoformat would not pad the year to four digits
        return utc.strftime(_FORMAT)
    return utc.isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`. Takes only the engine's own fixed-width
    form (27 characters ending in ``Z``); ``fromisoformat`` reads it many
    times faster than ``strptime``, which matters on every decision."""
    if len(text) != 27 or text[-1] != "Z" or text[10] != "T":
        raise ValueError(f"not an engine instant: {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
