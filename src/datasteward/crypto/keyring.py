"""The master keyring: encryption at rest, blind indexes and wrapped data keys.

A master key is never used directly. From each one, HKDF-SHA256 derives two
independent keys with distinct labels: one for AES-256-GCM encryption and one
for the HMAC-SHA256 blind index. Knowing an index key therefore tells nothing
about the encryption key, and the reverse.

Every ciphertext names the master key that made it::

    0x01 | len(kid) (1 byte) | kid (ASCII) | nonce (12 bytes) | ciphertext || tag

so after a rotation old ciphertexts still open (their kid picks the old key)
while new ones use the active key. The header is authenticated as part of the
associated data, so changing the kid or the version breaks the tag.

Derived keys and cipher objects are built once per kid when the keyring is
made; encrypting, decrypting and indexing small values then cost microseconds.
Neither :class:`MasterKey` nor :class:`Keyring` prints or pickles its secrets.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from datasteward.crypto.aead import DATA_KEY_BYTES, NONCE_BYTES, TAG_BYTES, BytesLike
from datasteward.errors import DecryptionFailed, KeyUnavailable

__all__ = ["MASTER_KEY_BYTES", "Keyring", "MasterKey"]

MASTER_KEY_BYTES = 32
TOKEN_VERSION = 0x01
ENCRYPT_INFO = b"datasteward/v1/encrypt"
BLIND_INDEX_INFO = b"datasteward/v1/blind-index"
SUBJECT_KEY_AAD = b"subject-key:"
FILE_KID_PREFIX = "k-"

_KID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _no_pickle(obj: object) -> NoReturn:
    raise TypeError(
        f"{type(obj).__name__} holds secret key material and cannot be pickled; "
        "pass key ids, not keys, to other processes"
    )


@dataclass(frozen=True, repr=False)
class MasterKey:
    """One master key: its id and 32 secret bytes. ``repr`` shows only the id.

    ``created`` (UTC) is kept so the key file can say when each key was made;
    it plays no part in equality.
    """

    kid: str
    secret: bytes
    created: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not _KID_PATTERN.fullmatch(self.kid):
            raise KeyUnavailable(
                f"master key id {self.kid!r} is not valid: use 1 to 64 letters, digits, "
                "'.', '_' or '-', starting with a letter or digit"
            )
        if not isinstance(self.secret, bytes) or len(self.secret) != MASTER_KEY_BYTES:
            size = len(self.secret) if isinstance(self.secret, bytes) else "non-bytes"
            raise KeyUnavailable(
                f"master key '{self.kid}' must be {MASTER_KEY_BYTES} bytes, got {size}"
            )

    @classmethod
    def generate(cls, prefix: str = FILE_KID_PREFIX) -> MasterKey:
        """A fresh random key with a random id like ``k-1a2b3c4d``."""
        return cls(
            kid=prefix + secrets.token_hex(4),
            secret=os.urandom(MASTER_KEY_BYTES),
            created=datetime.now(UTC),
        )

    def __repr__(self) -> str:
        return f"MasterKey(kid={self.kid!r})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)

    def __copy__(self) -> MasterKey:
        return self

    def __deepcopy__(self, memo: object) -> MasterKey:
        return self


class _Derived(NamedTuple):
    """What one master key yields, built once: token header, cipher, index MAC."""

    master: MasterKey
    header: bytes
    aead: AESGCM
    index_mac: hmac.HMAC


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _derive(master: MasterKey) -> _Derived:
    kid = master.kid.encode("ascii")
    return _Derived(
        master=master,
        header=bytes([TOKEN_VERSION, len(kid)]) + kid,
        aead=AESGCM(_hkdf(master.secret, ENCRYPT_INFO)),
        index_mac=hmac.HMAC(_hkdf(master.secret, BLIND_INDEX_INFO), hashes.SHA256()),
    )


def _parse_header(data: bytes) -> tuple[str, int]:
    """The kid named by a token and where its nonce starts; DecryptionFailed if malformed."""
    if len(data) < 2:
        raise DecryptionFailed(f"ciphertext is too short ({len(data)} bytes)")
    if data[0] != TOKEN_VERSION:
        raise DecryptionFailed(f"ciphertext has unknown format version {data[0]}")
    end = 2 + data[1]
    if data[1] == 0 or len(data) < end:
        raise DecryptionFailed("ciphertext has a malformed key id")
    try:
        kid = data[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionFailed("ciphertext has a malformed key id") from None
    if not _KID_PATTERN.fullmatch(kid):
        raise DecryptionFailed("ciphertext has a malformed key id")
    return kid, end


class Keyring:
    """The master keys the engine holds, one of them active.

    The active key encrypts; every key decrypts what it made. Build a new
    keyring with :meth:`rotated` to add a key; keyrings never change.
    """

    def __init__(self, keys: Sequence[MasterKey], active_kid: str) -> None:
        if not keys:
            raise KeyUnavailable("a keyring needs at least one master key")
        derived: dict[str, _Derived] = {}
        for key in keys:
            if key.kid in derived:
                raise KeyUnavailable(f"master key id '{key.kid}' appears twice")
            derived[key.kid] = _derive(key)
        if active_kid not in derived:
            raise KeyUnavailable(
                f"active master key '{active_kid}' is not among the keys ({', '.join(derived)})"
            )
        self._derived = derived
        self._by_header = {d.header: d for d in derived.values()}
        self._active = derived[active_kid]
        self._kids = tuple(derived)

    @property
    def active_kid(self) -> str:
        """The id of the key that encrypts and indexes by default."""
        return self._active.master.kid

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id held, oldest first (the order the keys were given)."""
        return self._kids

    @property
    def keys(self) -> tuple[MasterKey, ...]:
        """The master keys themselves, for writing the key file; handle with care."""
        return tuple(d.master for d in self._derived.values())

    def _key(self, kid: str) -> _Derived:
        try:
            return self._derived[kid]
        except KeyError:
            raise KeyUnavailable(
                f"master key '{kid}' is not in this keyring (it holds {', '.join(self._kids)})"
            ) from None

    def encrypt(self, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        """Encrypt with the active key; the token carries that key's id.

        ``aad`` is authenticated, not stored: give the same value to
        :meth:`decrypt`. Nonces are random, so keep a single key under about
        two billion encryptions (rotate long before).
        """
        active = self._active
        nonce = os.urandom(NONCE_BYTES)
        return active.header + nonce + active.aead.encrypt(nonce, plaintext, active.header + aad)

    def decrypt(self, token: BytesLike, *, aad: bytes = b"") -> bytes:
        """Decrypt with the key named inside ``token``.

        Raises :class:`KeyUnavailable` when that key is not held and
        :class:`DecryptionFailed` for a malformed or altered token or a wrong
        ``aad``.
        """
        data = token if type(token) is bytes else bytes(token)
        start = 2 + data[1] if len(data) >= 2 else 0
        key = self._by_header.get(data[:start]) if start else None
        if key is None:  # not a held key: find out why, for a precise error
            key = self._key(_parse_header(data)[0])
        if len(data) - start < NONCE_BYTES + TAG_BYTES:
            raise DecryptionFailed(f"ciphertext is too short ({len(data)} bytes)")
        nonce = data[start : start + NONCE_BYTES]
        try:
            return key.aead.decrypt(nonce, data[start + NONCE_BYTES :], key.header + aad)
        except InvalidTag:
            raise DecryptionFailed(
                f"ciphertext under key '{key.master.kid}' did not open: wrong context, or altered"
            ) from None

    def kid_of(self, token: BytesLike) -> str:
        """The id of the master key that made ``token`` (no decryption)."""
        return _parse_header(bytes(token))[0]

    def blind_index(self, kind: str, value: str, *, kid: str | None = None) -> str:
        """A keyed, deterministic index of ``value`` for exact-match lookups.

        Hex HMAC-SHA256 over ``kind + "\\x00" + value`` with the index key of
        ``kid`` (default: the active key). ``kind`` separates namespaces, so an
        email and a customer id with the same text index differently.
        Normalise ``value`` before indexing; the index matches exact text only.
        """
        if "\x00" in kind:
            raise ValueError("a blind-index kind cannot contain NUL")
        mac = (self._active if kid is None else self._key(kid)).index_mac.copy()
        mac.update(kind.encode("utf-8") + b"\x00" + value.encode("utf-8"))
        return mac.finalize().hex()

    def blind_indexes(self, kind: str, value: str) -> tuple[str, ...]:
        """The index of ``value`` under every key held, in :attr:`kids` order.

        Look up with ``index IN (...)`` so rows indexed before a rotation are
        still found.
        """
        return tuple(self.blind_index(kind, value, kid=kid) for kid in self._kids)

    def wrap_data_key(self, data_key: bytes, subject_id: str) -> bytes:
        """Encrypt a subject's data key, bound to that subject's id."""
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError(f"a data key is {DATA_KEY_BYTES} bytes, got {len(data_key)}")
        return self.encrypt(data_key, aad=SUBJECT_KEY_AAD + subject_id.encode("utf-8"))

    def unwrap_data_key(self, wrapped: BytesLike, subject_id: str) -> bytes:
        """The data key wrapped for ``subject_id``; fails for any other subject."""
        data_key = self.decrypt(wrapped, aad=SUBJECT_KEY_AAD + subject_id.encode("utf-8"))
        if len(data_key) != DATA_KEY_BYTES:
            raise DecryptionFailed("wrapped value is not a data key")
        return data_key

    def rotated(self) -> Keyring:
        """A new keyring with a fresh random key appended and made active.

        Old keys stay, so everything they encrypted still opens.
        """
        fresh = MasterKey.generate()
        while fresh.kid in self._derived:  # 32-bit ids: a clash is rare, not impossible
            fresh = MasterKey.generate()
        return Keyring([*self.keys, fresh], fresh.kid)

    def __repr__(self) -> str:
        return f"Keyring(kids={self._kids!r}, active={self.active_kid!r})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        _no_pickle(self)

    def __copy__(self) -> Keyring:
        return self

    def __deepcopy__(self, memo: object) -> Keyring:
        return self
