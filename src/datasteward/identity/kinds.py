"""The kinds of identity a data subject can be found by, and how input is
quoted back in error messages.

A kind names both what the value is and which rules make it canonical, so
the list is closed: an unknown kind is an error, never a free-text label,
because two spellings of a kind would split one person's identities across
two blind-index namespaces.
"""

from __future__ import annotations

from datasteward.errors import InvalidIdentity
from datasteward.policy.references import did_you_mean

__all__ = [
    "IDENTITY_KINDS",
    "NATIONAL_ID_COUNTRIES",
    "NATIONAL_ID_PREFIX",
    "check_kind",
    "quoted",
]

NATIONAL_ID_PREFIX = "national_id."

NATIONAL_ID_COUNTRIES: tuple[str, ...] = ("lv", "bg", "ee", "lt", "pl")
"""Countries whose personal identification number the engine can check."""

IDENTITY_KINDS: tuple[str, ...] = (
    "email",
    "phone",
    "customer_id",
    "username",
    *(NATIONAL_ID_PREFIX + country for country in NATIONAL_ID_COUNTRIES),
)

_QUOTE_LIMIT = 80


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is known, else raise with a did-you-mean hint."""
    if kind in IDENTITY_KINDS:
        return kind
    hint = did_you_mean(kind, IDENTITY_KINDS)
    if not hint:
        hint = f" (known kinds: {', '.join(IDENTITY_KINDS)})"
    raise InvalidIdentity("identity", f"unknown identity kind {quoted(kind)}{hint}")


def quoted(raw: str) -> str:
    """``raw`` in single quotes, safe to print on one line.

    Control and other non-printable characters are shown as escapes (a tab
    or a zero-width space in the input must be visible in the message), and
    long input is cut so a pasted document does not flood the terminal.
    """
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in raw)
    if len(shown) > _QUOTE_LIMIT:
        shown = shown[: _QUOTE_LIMIT - 1] + "…"
    return f"'{shown}'"
