"""Turn a typed identity into its one canonical string.

The engine finds a data subject by a keyed blind index: an HMAC of the
canonical value. Two spellings of one identity must therefore produce the
same bytes, or a privacy request silently misses the person; and anything
that is not an identity must be refused with a sentence saying why, so it is
never indexed at all. Every function here is deterministic and idempotent:
normalising a canonical value returns it unchanged.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat

from datasteward.errors import InvalidIdentity
from datasteward.identity.kinds import NATIONAL_ID_PREFIX, check_kind, quoted
from datasteward.identity.national import normalise_national_id

__all__ = [
    "MAX_TEXT_IDENTITY_LENGTH",
    "normalise_email",
    "normalise_identity",
    "normalise_phone",
    "normalise_text_identity",
]

MAX_TEXT_IDENTITY_LENGTH = 256
"""Longest customer id or username accepted, in characters."""

# Control, invisible formatting (zero-width space, bidi overrides), lone
# surrogates (cannot be encoded for hashing), and line/paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_PHONE_PUNCTUATION = frozenset("+-.()/")


def normalise_identity(kind: str, raw: str, *, default_region: str | None = None) -> str:
    """The canonical form of ``raw`` as an identity of ``kind``.

    ``default_region`` (ISO 3166 alpha-2, e.g. ``"LV"``) is how a phone
    number written without ``+`` is read; other kinds ignore it, but a
    region that does not exist is refused whatever the kind, so a wrong
    setting is noticed at once.
    """
    check_kind(kind)
    region = _check_region(kind, default_region)
    if kind == "email":
        return normalise_email(raw)
    if kind == "phone":
        return normalise_phone(raw, default_region=region)
    if kind == "customer_id":
        return normalise_text_identity(kind, raw)
    if kind == "username":
        return normalise_text_identity(kind, raw, fold=str.lower)
    return normalise_national_id(kind.removeprefix(NATIONAL_ID_PREFIX), raw)


def normalise_email(raw: str) -> str:
    """``local@domain`` with the local part lower-cased and the domain in
    ASCII (IDNA A-label, "punycode") form, lower-case.

    Syntax and RFC length limits are checked by email-validator without any
    DNS lookup. Quoted local parts, IP-address domains and display names are
    refused: they are valid on the wire but not how people give their
    address, and accepting them would open more spellings of one mailbox.
    The local part is lower-cased on purpose (see docs/identities.md): a
    request must not miss a person because they typed a capital letter.
    """
    text = raw.strip()
    if not text:
        raise InvalidIdentity("email", "an email address cannot be empty")
    first = _validated_email(raw, text)
    local = unicodedata.normalize("NFC", first.local_part.lower())
    canonical = f"{local}@{first.ascii_domain.lower()}"
    # Lower-casing can change the length of a non-ASCII local part; the
    # result must itself be a valid address, or idempotence would break.
    second = _validated_email(raw, canonical)
    return f"{second.local_part}@{second.ascii_domain}"


def _validated_email(raw: str, text: str) -> ValidatedEmail:
    """Every option spelled out: email-validator's module-level defaults are
    mutable globals, and normalisation must not change if anything sets them.
    ``strict`` adds the RFC 5321 limit of 64 characters before the ``@``; the
    254-character limit on the whole address is always checked."""
    try:
        return validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_empty_local=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            globally_deliverable=True,
            test_environment=False,
            strict=True,
        )
    except EmailNotValidError as error:
        raise InvalidIdentity("email", f"{quoted(raw)} is not an email address: {error}") from None


def normalise_phone(raw: str, *, default_region: str | None = None) -> str:
    """The number in E.164 form (``+37120000000``): country code and national
    number, digits only.

    A number without ``+`` (or the region's international prefix) is read
    as a national number of ``default_region``; without one it is refused
    rather than guessed. The number must be valid for its country according
    to libphonenumber's metadata, not merely plausible. Numbers with an
    extension or letters are refused: E.164 has no place for an extension,
    so keeping it would be impossible and dropping it would merge the people
    behind one switchboard. Any other character than digits, spaces and
    ``+ - . ( ) /`` is refused too.
    """
    if not raw.strip():
        raise InvalidIdentity("phone", "a phone number cannot be empty")
    stray = next((ch for ch in raw.strip() if not _phone_character(ch)), None)
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException as error:
        if stray is None:
            reason = _phone_parse_reason(raw, default_region, error)
            raise InvalidIdentity("phone", reason) from None
    else:
        if number.extension:
            raise InvalidIdentity(
                "phone",
                f"{quoted(raw)} has an extension ({number.extension});"
                " an identity is the number without it",
            )
    if stray is not None:
        raise InvalidIdentity(
            "phone",
            f"{quoted(raw)} contains {quoted(stray)}; a phone number has only digits,"
            " spaces and + - . ( ) /",
        )
    if not phonenumbers.is_valid_number(number):
        code = number.country_code or 0
        region = phonenumbers.region_code_for_country_code(code)
        where = region if region != phonenumbers.UNKNOWN_REGION else f"+{code}"
        raise InvalidIdentity("phone", f"{quoted(raw)} is not a valid phone number for {where}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _phone_character(ch: str) -> bool:
    """Digits (any script libphonenumber reads), spaces and the usual
    punctuation. Letters are refused: libphonenumber would read "FLOWERS" as
    keypad digits and ignore trailing words, which hides typing mistakes."""
    return ch in _PHONE_PUNCTUATION or ch.isspace() or unicodedata.category(ch) == "Nd"


def _phone_parse_reason(raw: str, default_region: str | None, error: NumberParseException) -> str:
    kind = error.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if default_region is None and not raw.strip().startswith("+"):
            return (
                f"{quoted(raw)} has no country code: write it in international form"
                " (+371 ...) or give a default region"
            )
        return f"{quoted(raw)} has an unknown country code"
    if kind == NumberParseException.NOT_A_NUMBER:
        return f"{quoted(raw)} is not a phone number"
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return f"{quoted(raw)} is too short to be a phone number"
    if kind == NumberParseException.TOO_LONG:
        return f"{quoted(raw)} is too long to be a phone number"
    return f"{quoted(raw)} is not a phone number: {error}"


def _check_region(kind: str, region: str | None) -> str | None:
    if region is None:
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidIdentity(
            kind,
            f"unknown default region {quoted(region)}: expected an ISO 3166 country code"
            " such as LV",
        )
    return code


def normalise_text_identity(
    kind: str, raw: str, *, fold: Callable[[str], str] | None = None
) -> str:
    """An opaque identifier (customer id, username): trimmed, NFC-normalised.

    NFC makes the composed and decomposed spellings of "ņ" one string;
    ``fold`` (``str.lower`` for usernames) applies the kind's case rule.
    Customer ids keep their case: ``AB-1`` and ``ab-1`` may be two customers.
    Control and invisible characters are refused because they make two
    identifiers look equal on screen while hashing differently.
    """
    text = unicodedata.normalize("NFC", raw.strip())
    if fold is not None:
        text = unicodedata.normalize("NFC", fold(text))
    label = kind.replace("_", " ")
    if not text:
        raise InvalidIdentity(kind, f"a {label} cannot be empty")
    bad = next((ch for ch in text if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise InvalidIdentity(
            kind,
            f"{quoted(raw)} contains the control or invisible character"
            f" U+{ord(bad):04X}; a {label} must be plain text",
        )
    if len(text) > MAX_TEXT_IDENTITY_LENGTH:
        raise InvalidIdentity(
            kind,
            f"a {label} is at most {MAX_TEXT_IDENTITY_LENGTH} characters; this one has {len(text)}",
        )
    return text
