"""Authenticated encryption under a data subject's own data key.

Everything the engine keeps about one person is sealed with that person's
data key, not with the master key. Destroying the data key (crypto-shredding)
then makes every copy of that data unreadable, including copies in database
backups the engine can no longer reach.

A sealed token is ``version (1 byte) || nonce (12 bytes) || ciphertext || tag``.
The version byte is authenticated together with the caller's ``aad``, so a
token cannot be relabelled as another format version without the tag failing.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from datasteward.errors import DecryptionFailed

__all__ = [
    "DATA_KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "BytesLike",
    "new_data_key",
    "open_sealed",
    "seal",
]

DATA_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SEAL_VERSION = 0x01
_SEAL_HEADER = bytes([SEAL_VERSION])
_SEAL_MIN_LEN = 1 + NONCE_BYTES + TAG_BYTES

BytesLike = bytes | bytearray | memoryview
"""What a token may arrive as: database drivers hand back any of these."""


def new_data_key() -> bytes:
    """A fresh random 256-bit data key for one data subject."""
    return os.urandom(DATA_KEY_BYTES)


def seal(data_key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """Encrypt ``plaintext`` under ``data_key`` with AES-256-GCM and a random nonce.

    ``aad`` is bound to the token but not stored in it: the same ``aad`` must
    be given to :func:`open_sealed`. Use it to tie a value to where it lives
    (e.g. ``b"identity:email"``) so a token copied elsewhere does not open.
    """
    if len(data_key) != DATA_KEY_BYTES:
        raise ValueError(f"a data key is {DATA_KEY_BYTES} bytes, got {len(data_key)}")
    nonce = os.urandom(NONCE_BYTES)
    return _SEAL_HEADER + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _SEAL_HEADER + aad)


def open_sealed(data_key: bytes, token: BytesLike, *, aad: bytes = b"") -> bytes:
    """Decrypt a token made by :func:`seal`.

    Any problem (wrong key, wrong ``aad``, altered or truncated token, unknown
    version, a key of the wrong length) raises :class:`DecryptionFailed`; the
    reason never includes key material or plaintext.
    """
    data = token if type(token) is bytes else bytes(token)
    if len(data_key) != DATA_KEY_BYTES:
        raise DecryptionFailed(f"a data key is {DATA_KEY_BYTES} bytes, got {len(data_key)}")
    if len(data) < _SEAL_MIN_LEN:
        raise DecryptionFailed(f"sealed value is too short ({len(data)} bytes)")
    if data[0] != SEAL_VERSION:
        raise DecryptionFailed(f"sealed value has unknown format version {data[0]}")
    nonce = data[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, data[1 + NONCE_BYTES :], _SEAL_HEADER + aad)
    except InvalidTag:
        raise DecryptionFailed(
            "sealed value did not open: wrong data key, wrong context, or altered"
        ) from None
