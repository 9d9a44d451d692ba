"""Masked forms of canonical identities, for logs, audit messages and
screens where an identity must be recognisable but not readable.

A masked form keeps just enough for a person who already knows the value to
recognise it (first letter and domain of an email, country code and last
two digits of a phone number, last two digits of a national number) and
never the whole value.
"""

from __future__ import annotations

import phonenumbers

from datasteward.identity.kinds import NATIONAL_ID_PREFIX

__all__ = ["mask"]

_STARS = "***"
_SHORT_TEXT = 6


def mask(kind: str, value: str) -> str:
    """The masked form of the canonical ``value`` of ``kind`` (without the
    ``kind:`` prefix). It never contains ``value``."""
    if kind == "email":
        body = _mask_email(value)
    elif kind == "phone":
        body = _mask_phone(value)
    elif kind.startswith(NATIONAL_ID_PREFIX):
        body = _keep_tail(value, 2)
    else:
        body = _STARS + value[-2:] if len(value) >= _SHORT_TEXT else _STARS
    # Values built from asterisks could survive any star mask; fall back so
    # the promise holds for every value, however odd.
    for candidate in (body, _STARS, "[hidden]"):
        if value not in candidate:
            return candidate
    raise AssertionError("unreachable: a value cannot be inside both '***' and '[hidden]'")


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}{_STARS}@{domain}"


def _mask_phone(value: str) -> str:
    """``+371******67``: the country code stays, the rest is starred but the
    last two digits."""
    country = str(phonenumbers.parse(value).country_code)
    national = value[1 + len(country) :]
    return f"+{country}{_keep_tail(national, 2)}"


def _keep_tail(value: str, keep: int) -> str:
    """Star every letter and digit but the last ``keep``; separators stay so
    the shape (``******-***45``) is still recognisable."""
    hide = sum(ch.isalnum() for ch in value) - keep
    out: list[str] = []
    for ch in value:
        if ch.isalnum() and hide > 0:
            out.append("*")
            hide -= 1
        else:
            out.append(ch)
    return "".join(out)
