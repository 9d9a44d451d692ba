"""The identity value: a kind and a canonical value, safe to log by accident.

An :class:`Identity` can only hold a canonical value (construction checks
it), so whatever builds a blind index from ``identity.value`` hashes the same
bytes for every spelling. Its ``str()`` and ``repr()`` are masked: an
identity interpolated into a log line or shown in a traceback does not leak
personal data. The full ``kind:value`` text is available only by asking for
it with :meth:`Identity.reveal`.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasteward.errors import InvalidIdentity
from datasteward.identity.kinds import check_kind
from datasteward.identity.masking import mask
from datasteward.identity.normalise import normalise_identity

__all__ = ["Identity", "parse_identity"]

_SYNTAX = "expected KIND:VALUE, e.g. email:ana@example.com"


@dataclass(frozen=True, slots=True, repr=False)
class Identity:
    """One identity of a data subject; ``value`` is canonical for ``kind``."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if normalise_identity(self.kind, self.value) != self.value:
            raise InvalidIdentity(
                self.kind,
                "the value is not in canonical form; build identities with parse_identity"
                " or normalise_identity",
            )

    def masked(self) -> str:
        """``kind:`` and a masked value, e.g. ``email:a***@example.com``."""
        return f"{self.kind}:{mask(self.kind, self.value)}"

    def reveal(self) -> str:
        """The full ``kind:value`` text, which :func:`parse_identity` reads back.

        Personal data: for storage encrypted at rest and for the data
        subject's own documents, never for logs.
        """
        return f"{self.kind}:{self.value}"

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"Identity({self.masked()!r})"


def parse_identity(text: str, *, default_region: str | None = None) -> Identity:
    """Read ``KIND:VALUE`` (e.g. ``phone:+371 2000 0000``) into an identity.

    The kind is matched without regard to case or surrounding spaces; the
    value is normalised for that kind. Only the first ``:`` separates, so
    values may contain colons.
    """
    kind, colon, value = text.partition(":")
    kind = kind.strip().lower()
    if not colon or not kind:
        raise InvalidIdentity("identity", _SYNTAX)
    return Identity(kind, normalise_identity(kind, value, default_region=default_region))
