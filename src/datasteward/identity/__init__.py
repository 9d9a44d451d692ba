"""Identities of data subjects: kinds, canonical forms, and masked display.

Canonical forms feed the keyed blind index the engine looks people up by, so
they are exact and deterministic; see docs/identities.md for each kind.
"""

from datasteward.identity.kinds import IDENTITY_KINDS
from datasteward.identity.model import Identity, parse_identity
from datasteward.identity.normalise import normalise_identity

__all__ = ["IDENTITY_KINDS", "Identity", "normalise_identity", "parse_identity"]
