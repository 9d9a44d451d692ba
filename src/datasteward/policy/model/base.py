"""Shared building blocks of the policy model: the strict base class and the
small value types (identifiers, durations, countries) every section uses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from datasteward.legaltime.duration import DURATION_REGEX, DurationSyntaxError, IsoDuration

__all__ = [
    "CountryCode",
    "Duration",
    "Identifier",
    "OptionalEmail",
    "PolicyModel",
    "Reference",
]


class PolicyModel(BaseModel):
    """Base of every policy section: unknown keys are rejected, values frozen.

    Numbers are accepted where text is expected (registration numbers written
    without quotes are still text)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
        use_enum_values=False,
    )


IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"

Identifier = Annotated[
    str,
    StringConstraints(pattern=IDENTIFIER_PATTERN, min_length=1, max_length=64),
]
"""A stable id: lower-case letters, digits, ``_``, ``-`` and ``.``."""

Reference = Identifier
"""An id that must name something declared elsewhere in the policy."""


def _parse_duration(value: Any) -> IsoDuration:
    if isinstance(value, IsoDuration):
        return value
    try:
        return IsoDuration.parse(value)
    except DurationSyntaxError as exc:
        raise ValueError(str(exc)) from None


Duration = Annotated[
    IsoDuration,
    PlainValidator(_parse_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_REGEX, "examples": ["P7D", "P1M"]}),
]
"""An ISO 8601 calendar duration such as ``P7D``, ``P3M`` or ``P11Y``."""

CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$", to_upper=True),
]
"""An ISO 3166-1 alpha-2 country code (``LV``, ``BG``, ``US``)."""


def _blank_to_none(value: Any) -> Any:
    """A blank value (``contact_email: ""``) means "not given", so the linter,
    not the loader, explains what is missing and why it matters."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalEmail = Annotated[EmailStr | None, BeforeValidator(_blank_to_none)]
"""An email address, or nothing; a blank string counts as nothing."""
