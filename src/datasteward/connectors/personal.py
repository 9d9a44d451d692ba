"""Does a column the policy does not declare look like personal data?

``steward systems check`` asks this of every undeclared column of every
table the policy names, twice: by the column's *name* (``email``,
``iban_backup``, ``dateOfBirth``) and, for text columns, by a *sample* of its
values (most of them parse as email addresses, phone numbers, IBANs, IP
addresses or national identification numbers). Either is only a hint for a
person to look at, reported as a warning; a column the policy forgot is how
an erasure request ends up "complete" while personal data stays behind.

The checks use the engine's own identity rules (:mod:`datasteward.identity`)
and python-stdnum, so "looks like a Latvian personal code" means exactly
what the engine would accept as one. Sampled values are only counted, never
kept or returned. Pure: no database access here.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stdnum import iban

from datasteward.errors import InvalidIdentity
from datasteward.identity import normalise_identity
from datasteward.identity.kinds import NATIONAL_ID_COUNTRIES

__all__ = [
    "PERSONAL_NAME_WORDS",
    "ValueVerdict",
    "classify_values",
    "name_tokens",
    "personal_name",
]

PERSONAL_NAME_WORDS: tuple[str, ...] = (
    "email",
    "e_mail",
    "mail_address",
    "phone",
    "telephone",
    "tel",
    "mobile",
    "msisdn",
    "fax",
    "iban",
    "account",
    "ip",
    "ipv4",
    "ipv6",
    "ip_address",
    "birth",
    "birthday",
    "birthdate",
    "dob",
    "name",
    "firstname",
    "lastname",
    "surname",
    "fullname",
    "address",
    "street",
    "city",
    "postcode",
    "postal_code",
    "zip",
    "zipcode",
    "personal_code",
    "pk",
    "egn",
    "pesel",
    "isikukood",
    "asmens_kodas",
    "national",
    "passport",
    "document",
    "ssn",
    "tax_id",
    "vat",
    "user_agent",
    "useragent",
    "gender",
    "nationality",
    "latitude",
    "longitude",
    "geolocation",
)
"""Words (``_``-joined sequences of words) that make a column name look
personal when they appear as whole words of the name: ``billing_email``,
``contactEmail`` and ``iban_backup`` do, ``pipeline`` and ``zipper`` do not."""

_GLUED = ("email", "phone", "iban", "passport", "birth", "surname", "firstname", "lastname")
"""Words distinctive enough to count inside a longer word (``customeremail``)."""

_WORDS = tuple(tuple(word.split("_")) for word in PERSONAL_NAME_WORDS)
_SPLIT = re.compile(
    r"[^0-9a-zA-Z]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)


def name_tokens(name: str) -> list[str]:
    """The words of a column name, lower-case: ``dateOfBirth2`` →
    ``["date", "of", "birth", "2"]``, ``IP_Address`` → ``["ip", "address"]``."""
    return [token.lower() for token in _SPLIT.split(name) if token]


def personal_name(name: str) -> str | None:
    """The personal word ``name`` contains (``"email"`` for
    ``personal_note_email``), or ``None``."""
    tokens = name_tokens(name)
    for word in _WORDS:
        width = len(word)
        if any(tuple(tokens[i : i + width]) == word for i in range(len(tokens) - width + 1)):
            return "_".join(word)
    glued = "".join(tokens)
    return next((word for word in _GLUED if word in glued), None)


@dataclass(frozen=True, slots=True)
class ValueVerdict:
    """``matched`` of ``sampled`` values looked like ``kind`` (a plural noun
    phrase such as ``"email addresses"``)."""

    kind: str
    matched: int
    sampled: int


_LONGEST_IDENTIFIER = 320
"""No identifier checked here is longer (an email address can reach 254
characters, with room for surrounding spaces); longer text is prose."""


def _accepts(kind: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            normalise_identity(kind, value)
        except InvalidIdentity:
            return False
        return True

    return check


def _email(value: str) -> bool:
    return "@" in value and _accepts("email")(value)


def _phone(value: str) -> bool:
    # Only international numbers: read without a country, a bare run of
    # digits (an order number) would too often pass as someone's phone.
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    return text.startswith("+") and _accepts("phone")(text)


def _iban(value: str) -> bool:
    return bool(iban.is_valid(value))


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


_NATIONAL_CHECKS = tuple(_accepts(f"national_id.{country}") for country in NATIONAL_ID_COUNTRIES)


def _national(value: str) -> bool:
    return any(check(value) for check in _NATIONAL_CHECKS)


_DETECTORS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("email addresses", _email),
    ("IBANs", _iban),
    ("IP addresses", _ip),
    ("national identification numbers", _national),
    ("phone numbers", _phone),
)
"""Checked in this order; a value counts for the first kind it fits."""


def classify_values(values: Iterable[object]) -> ValueVerdict | None:
    """Whether most (more than half) of the sampled ``values`` look like one
    kind of personal identifier. Values that are not text count as sampled
    but never match."""
    counts: Counter[str] = Counter()
    sampled = 0
    for value in values:
        sampled += 1
        if not isinstance(value, str) or not value.strip() or len(value) > _LONGEST_IDENTIFIER:
            continue
        kind = next((name for name, detect in _DETECTORS if detect(value)), None)
        if kind is not None:
            counts[kind] += 1
    if not counts:
        return None
    kind, matched = counts.most_common(1)[0]
    if matched * 2 <= sampled:
        return None
    return ValueVerdict(kind, matched, sampled)
