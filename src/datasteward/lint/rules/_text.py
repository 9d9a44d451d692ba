"""Small wording helpers shared by the rule modules, so every message quotes
ids and lists them the same way."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["blank", "quoted"]


def blank(value: str | None) -> bool:
    """True for a missing or whitespace-only text value."""
    return value is None or not value.strip()


def quoted(ids: Iterable[str], limit: int = 5) -> str:
    """``'a', 'b' and 2 more``: ids in a stable order, a long list shortened."""
    items = sorted(set(ids))
    shown = ", ".join(f"'{i}'" for i in items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown
