"""Packages at rest: encrypted in chunks, expiring, downloadable with a token.

A finished package zip is stored as ``<home>/packages/<package_id>.bin``::

    b"DSPKG\\x00\\x01\\n"                       magic and format version
    then per chunk:  length (4 bytes, big-endian) | token

where each token is :meth:`Keyring.encrypt` of up to ``chunk_size`` bytes
(1 MiB by default) of the zip, so neither storing nor opening ever holds more
than two chunks in memory. Each token's associated data binds it to its place::

    "datasteward/package/v1" NUL package_id NUL expires_at NUL index (8 bytes) | final (1 byte)

so a chunk altered, swapped with another, moved to another package, or
followed by a forged expiry fails to open, and a file cut short (or extended)
fails at its end because the last chunk read was not sealed as the final one
(or the final one is not last). Every failure is :class:`DecryptionFailed`.
Tokens carry the master key id, so packages stored before a key rotation still
open.

Beside it, ``<package_id>.json`` (mode 0600 like the ``.bin``) records
``created_at``, ``expires_at``, the SHA-256 and size of the zip and the chunk
size. It holds no personal data. The expiry in it is also inside every
chunk's associated data, so editing it does not extend a package's life: the
package no longer opens.

Download links carry a token ``<expiry in µs since 1970>.<hex HMAC>``: the
HMAC is the keyring's blind index of ``package_id:expiry`` under the kind
``package-token``, checked in constant time against every key held.
:func:`verify_token` accepts it strictly before its expiry.

An adapter: file I/O and the keyring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from datasteward.crypto import Keyring
from datasteward.errors import Conflict, DecryptionFailed, InvalidInput, NotFound
from datasteward.legaltime.instants import format_time, parse_time
from datasteward.packages.files import private_directory, private_output

__all__ = [
    "CHUNK_SIZE",
    "PackageExpired",
    "StoredPackage",
    "delete_package",
    "download_token",
    "export_package",
    "new_package_id",
    "open_package",
    "package_info",
    "packages_dir",
    "purge_expired",
    "purge_staging",
    "staging_path",
    "store_package",
    "verify_token",
]

CHUNK_SIZE = 1 << 20
PACKAGES_DIR = "packages"
STAGING_DIR = "staging"
STAGING_LIFETIME = timedelta(days=1)
SIDECAR_FORMAT = 1
MAGIC = b"DSPKG\x00\x01\n"
TOKEN_KIND = "package-token"  # noqa: S105 - a namespace label, not a secret

_AAD_PREFIX = b"datasteward/package/v1\x00"
_LENGTH = struct.Struct(">I")
_POSITION = struct.Struct(">QB")
_TOKEN_OVERHEAD = 1 + 1 + 64 + 12 + 16  # version, kid length, kid, nonce, tag
_MAX_CHUNK = 64 << 20
_PACKAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_DOWNLOAD_TOKEN = re.compile(r"([0-9]{1,20})\.([0-9a-f]{64})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PackageExpired(Conflict):
    """The package's download period is over; it no longer opens."""

    code = "package_expired"

    def __init__(self, package_id: str, expires_at: datetime | None = None) -> None:
        when = f" at {format_time(expires_at)}" if expires_at is not None else ""
        super().__init__(f"package '{package_id}' expired{when}")
        self.package_id = package_id
        self.expires_at = expires_at


@dataclass(frozen=True)
class StoredPackage:
    """The sidecar of a stored package: its life and what its zip must be."""

    package_id: str
    created_at: datetime
    expires_at: datetime
    sha256: str
    size: int
    chunk_size: int

    def expired(self, now: datetime) -> bool:
        """Expired from ``expires_at`` on (the instant itself included)."""
        return _aware(now) >= self.expires_at


# -- places --------------------------------------------------------------------------


def new_package_id() -> str:
    """A fresh random package id (128 bits, hex)."""
    return secrets.token_hex(16)


def _check_id(package_id: str) -> str:
    if not isinstance(package_id, str) or not _PACKAGE_ID.fullmatch(package_id):
        raise InvalidInput(
            "a package id is 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"
        )
    return package_id


def packages_dir(home: Path) -> Path:
    """``<home>/packages``, created with mode 0700."""
    return private_directory(home / PACKAGES_DIR)


def staging_path(home: Path, package_id: str) -> Path:
    """Where to write a package's plaintext zip before :func:`store_package`:
    ``<home>/packages/staging/<package_id>.zip``, in a directory of mode 0700."""
    return private_directory(packages_dir(home) / STAGING_DIR) / f"{_check_id(package_id)}.zip"


def _paths(home: Path, package_id: str) -> tuple[Path, Path]:
    base = home / PACKAGES_DIR / _check_id(package_id)
    return base.with_suffix(".bin"), base.with_suffix(".json")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC)


def _aad(package_id: str, expires_at: datetime) -> bytes:
    return _AAD_PREFIX + f"{package_id}\x00{format_time(expires_at)}\x00".encode("ascii")


# -- storing -------------------------------------------------------------------------


def store_package(
    home: Path,
    keyring: Keyring,
    source: Path,
    *,
    package_id: str,
    created_at: datetime,
    expires_at: datetime,
    chunk_size: int = CHUNK_SIZE,
    remove_source: bool = True,
) -> StoredPackage:
    """Encrypt the zip ``source`` into the vault under ``package_id``.

    The plaintext ``source`` is deleted afterwards unless ``remove_source``
    is false. Refuses (:class:`Conflict`) an id already stored."""
    _check_id(package_id)
    created, expires = _aware(created_at), _aware(expires_at)
    if expires <= created:
        raise InvalidInput("a package must expire after it is created")
    if not 1 <= chunk_size <= _MAX_CHUNK:
        raise InvalidInput(f"chunk size must be between 1 and {_MAX_CHUNK} bytes")
    bin_path, meta_path = _paths(home, package_id)
    packages_dir(home)
    if meta_path.exists():
        raise Conflict(f"package '{package_id}' is already stored")
    aad = _aad(package_id, expires)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as plain, private_output(bin_path) as out:
        out.write(MAGIC)
        chunk, index = plain.read(chunk_size), 0
        while True:
            following = plain.read(chunk_size)
            final = not following
            digest.update(chunk)
            size += len(chunk)
            token = keyring.encrypt(chunk, aad=aad + _POSITION.pack(index, final))
            out.write(_LENGTH.pack(len(token)) + token)
            if final:
                break
            chunk, index = following, index + 1
    stored = StoredPackage(package_id, created, expires, digest.hexdigest(), size, chunk_size)
    try:
        with private_output(meta_path) as out:
            out.write(_sidecar(stored))
    except BaseException:
        bin_path.unlink(missing_ok=True)
        raise
    if remove_source:
        source.unlink()
    return stored


def _sidecar(stored: StoredPackage) -> bytes:
    doc = {
        "format": SIDECAR_FORMAT,
        "package_id": stored.package_id,
        "created_at": format_time(stored.created_at),
        "expires_at": format_time(stored.expires_at),
        "sha256": stored.sha256,
        "size": stored.size,
        "chunk_size": stored.chunk_size,
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _parse_sidecar(data: bytes, where: Path) -> StoredPackage:
    try:
        doc: Any = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != SIDECAR_FORMAT:
            raise ValueError("unknown format")
        return StoredPackage(
            package_id=str(doc["package_id"]),
            created_at=parse_time(doc["created_at"]),
            expires_at=parse_time(doc["expires_at"]),
            sha256=str(doc["sha256"]),
            size=int(doc["size"]),
            chunk_size=int(doc["chunk_size"]),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise DecryptionFailed(f"package record {where} is damaged") from None


def package_info(home: Path, package_id: str) -> StoredPackage:
    """The sidecar of a stored package; :class:`NotFound` if there is none."""
    meta_path = _paths(home, package_id)[1]
    try:
        data = meta_path.read_bytes()
    except FileNotFoundError:
        raise NotFound("package", package_id) from None
    stored = _parse_sidecar(data, meta_path)
    if stored.package_id != package_id:
        raise DecryptionFailed(f"package record {meta_path} names another package")
    return stored


# -- opening -------------------------------------------------------------------------


def open_package(
    home: Path, keyring: Keyring, package_id: str, *, now: datetime
) -> Iterator[bytes]:
    """The zip of a stored package, decrypted chunk by chunk.

    Refuses at once an unknown (:class:`NotFound`) or expired
    (:class:`PackageExpired`) package. Every chunk yielded has been
    authenticated, but a file cut short is only detected at its end: treat
    the zip as good only when the iteration finishes without
    :class:`DecryptionFailed` (as :func:`export_package` does)."""
    stored = package_info(home, package_id)
    if stored.expired(now):
        raise PackageExpired(package_id, stored.expires_at)
    bin_path = _paths(home, package_id)[0]
    if not bin_path.is_file():
        raise NotFound("package", package_id)
    return _decrypt(bin_path, keyring, stored)


def _read_token(handle: IO[bytes], limit: int) -> bytes | None:
    prefix = handle.read(_LENGTH.size)
    if not prefix:
        return None
    if len(prefix) < _LENGTH.size:
        raise DecryptionFailed("package is truncated inside a chunk header")
    (length,) = _LENGTH.unpack(prefix)
    if length > limit:
        raise DecryptionFailed(f"package chunk claims {length} bytes; the file is damaged")
    token = handle.read(length)
    if len(token) < length:
        raise DecryptionFailed("package is truncated inside a chunk")
    return token


def _decrypt(bin_path: Path, keyring: Keyring, stored: StoredPackage) -> Iterator[bytes]:
    aad = _aad(stored.package_id, stored.expires_at)
    limit = stored.chunk_size + _TOKEN_OVERHEAD
    digest, size = hashlib.sha256(), 0
    with bin_path.open("rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise DecryptionFailed("not a stored package, or an unknown format version")
        token, index = _read_token(handle, limit), 0
        if token is None:
            raise DecryptionFailed("package holds no chunk")
        while token is not None:
            following = _read_token(handle, limit)
            chunk = keyring.decrypt(token, aad=aad + _POSITION.pack(index, following is None))
            digest.update(chunk)
            size += len(chunk)
            yield chunk
            token, index = following, index + 1
    if size != stored.size or not hmac.compare_digest(digest.hexdigest(), stored.sha256):
        raise DecryptionFailed("package does not match its recorded size and SHA-256")


def export_package(
    home: Path, keyring: Keyring, package_id: str, out_path: Path, *, now: datetime
) -> StoredPackage:
    """Decrypt a stored package to the zip ``out_path`` (mode 0600). The file
    appears only once every chunk opened and the SHA-256 matched."""
    chunks = open_package(home, keyring, package_id, now=now)
    with private_output(out_path) as out:
        for chunk in chunks:
            out.write(chunk)
    return package_info(home, package_id)


# -- download tokens ----------------------------------------------------------------------


def _micros(moment: datetime) -> int:
    return (_aware(moment) - _EPOCH) // timedelta(microseconds=1)


def download_token(keyring: Keyring, package_id: str, expires_at: datetime) -> str:
    """A token that lets ``package_id`` be downloaded until ``expires_at``
    (usually the package's own expiry, or earlier for a short-lived link)."""
    stamp = _micros(expires_at)
    mac = keyring.blind_index(TOKEN_KIND, f"{_check_id(package_id)}:{stamp}")
    return f"{stamp}.{mac}"


def verify_token(keyring: Keyring, package_id: str, token: str, *, now: datetime) -> bool:
    """Whether ``token`` was made for ``package_id`` and ``now`` is before its
    expiry. The HMAC is compared in constant time under every key held."""
    moment = _aware(now)
    found = _DOWNLOAD_TOKEN.fullmatch(token) if isinstance(token, str) else None
    if found is None or not _PACKAGE_ID.fullmatch(package_id):
        return False
    stamp, mac = int(found[1]), found[2].encode("ascii")
    if _micros(moment) >= stamp:
        return False
    good = False
    for expected in keyring.blind_indexes(TOKEN_KIND, f"{package_id}:{stamp}"):
        good |= hmac.compare_digest(expected.encode("ascii"), mac)
    return good


# -- removal -------------------------------------------------------------------------------


def delete_package(home: Path, package_id: str) -> bool:
    """Remove a stored package (e.g. when its subject is erased); whether it existed."""
    bin_path, meta_path = _paths(home, package_id)
    existed = bin_path.exists() or meta_path.exists()
    bin_path.unlink(missing_ok=True)  # the data first: a left sidecar is retried
    meta_path.unlink(missing_ok=True)
    return existed


def purge_expired(home: Path, now: datetime) -> tuple[str, ...]:
    """Delete every stored package expired at ``now``; their ids, sorted.

    Packages whose record cannot be read are left for a person to look at."""
    directory = home / PACKAGES_DIR
    if not directory.is_dir():
        return ()
    purged = []
    for meta_path in sorted(directory.glob("*.json")):
        package_id = meta_path.stem
        if not _PACKAGE_ID.fullmatch(package_id):
            continue
        try:
            stored = package_info(home, package_id)
        except (NotFound, DecryptionFailed):
            continue
        if stored.expired(now):
            delete_package(home, package_id)
            purged.append(package_id)
    return tuple(purged)


def purge_staging(
    home: Path, now: datetime, *, older_than: timedelta = STAGING_LIFETIME
) -> tuple[str, ...]:
    """Delete plaintext left in the staging directory: zips (and partly
    written zips) last modified more than ``older_than`` before ``now``, which
    a crash or a failed store left behind. Their names, sorted.

    A zip being written is modified continuously, so it is never this old."""
    directory = home / PACKAGES_DIR / STAGING_DIR
    if not directory.is_dir():
        return ()
    limit = _aware(now).timestamp() - older_than.total_seconds()
    removed = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return tuple(removed)
