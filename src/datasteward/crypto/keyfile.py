"""Where the master key comes from: the ``STEWARD_SECRET_KEY`` variable or a key file.

The key file is JSON, readable by its owner only (mode 0600)::

    {"format": 1, "active": "k-1a2b3c4d",
     "keys": [{"kid": "k-1a2b3c4d", "key": "<urlsafe base64>", "created": "<ISO UTC>"}]}

It is created with ``O_CREAT | O_EXCL`` and mode 0600 from the first byte, so
it is never readable by others even briefly, and is never overwritten by
accident: losing a master key loses everything it encrypted. Rewrites (after a
rotation) go through a temporary file in the same directory and an atomic
rename, so a crash leaves the old file or the new one, never half of one.

Error messages name the file, the key id and what is wrong; they never contain
key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasteward.crypto.keyring import MASTER_KEY_BYTES, Keyring, MasterKey
from datasteward.errors import KeyUnavailable, UsageError

__all__ = [
    "ENV_KID_PREFIX",
    "KEY_ENV_VAR",
    "KEY_FILE_NAME",
    "create_key_file",
    "load_keyring",
    "save_key_file",
]

KEY_FILE_NAME = "master.key"
KEY_ENV_VAR = "STEWARD_SECRET_KEY"
ENV_KID_PREFIX = "env-"
KEY_FILE_FORMAT = 1
_MAX_KEY_FILE_BYTES = 1 << 20
NO_MASTER_KEY = f"no master key: run `steward init` or set {KEY_ENV_VAR}"


def _decode_key(text: str) -> bytes | None:
    """32 bytes from urlsafe base64 (padding optional), or None if it is not that."""
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == MASTER_KEY_BYTES else None


def _encode_key(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).decode("ascii")


def _env_keyring(value: str) -> Keyring:
    if not value.strip():
        raise KeyUnavailable(f"{KEY_ENV_VAR} is set but empty")
    secret = _decode_key(value)
    if secret is None:
        raise KeyUnavailable(
            f"{KEY_ENV_VAR} must be {MASTER_KEY_BYTES} random bytes in urlsafe base64 "
            f"(44 characters); the value given ({len(value.strip())} characters) is not. "
            'Generate one with: python -c "import base64, os; '
            'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
        )
    kid = ENV_KID_PREFIX + hashlib.sha256(secret).hexdigest()[:8]
    return Keyring([MasterKey(kid=kid, secret=secret)], kid)


def _read_private_file(path: Path) -> bytes:
    """The bytes of ``path``, once the open descriptor shows only its owner can access it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyUnavailable(f"{NO_MASTER_KEY} (no key file at {path})") from None
    except OSError as e:
        raise KeyUnavailable(f"cannot open key file {path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyUnavailable(f"key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise KeyUnavailable(
                f"key file {path} is accessible to group or others (mode {mode:04o}); "
                f"refusing to use it. Run `chmod 600 {path}`"
            )
        return handle.read(_MAX_KEY_FILE_BYTES + 1)


def _field(entry: Mapping[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise KeyUnavailable(f"{where}: '{name}' must be a non-empty string")
    return value


def _parse_key_file(data: bytes, path: Path) -> Keyring:
    where = f"key file {path}"
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise KeyUnavailable(f"{where} is larger than {_MAX_KEY_FILE_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeyUnavailable(f"{where} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise KeyUnavailable(
            f"{where} is not valid JSON ({e.msg} at {e.lineno}:{e.colno})"
        ) from None
    if not isinstance(doc, dict):
        raise KeyUnavailable(f"{where} must hold a JSON object")
    if doc.get("format") != KEY_FILE_FORMAT:
        raise KeyUnavailable(
            f"{where} has format {doc.get('format')!r}; expected {KEY_FILE_FORMAT}"
        )
    active = _field(doc, "active", where)
    entries = doc.get("keys")
    if not isinstance(entries, list) or not entries:
        raise KeyUnavailable(f"{where}: 'keys' must be a non-empty list")
    keys: list[MasterKey] = []
    for number, entry in enumerate(entries):
        here = f"{where}: keys[{number}]"
        if not isinstance(entry, dict):
            raise KeyUnavailable(f"{here} must be an object")
        kid = _field(entry, "kid", here)
        secret = _decode_key(_field(entry, "key", here))
        if secret is None:
            raise KeyUnavailable(
                f"{here} ('{kid}'): 'key' must be {MASTER_KEY_BYTES} bytes in urlsafe base64"
            )
        created = None
        if entry.get("created") is not None:
            try:
                created = datetime.fromisoformat(_field(entry, "created", here))
            except ValueError:
                raise KeyUnavailable(
                    f"{here} ('{kid}'): 'created' is not an ISO date-time"
                ) from None
        try:
            keys.append(MasterKey(kid=kid, secret=secret, created=created))
        except KeyUnavailable as e:
            raise KeyUnavailable(f"{here}: {e.message}") from None
    try:
        return Keyring(keys, active)
    except KeyUnavailable as e:
        raise KeyUnavailable(f"{where}: {e.message}") from None


def load_keyring(*, env: Mapping[str, str], key_file: Path | None) -> Keyring:
    """The engine's keyring: from ``STEWARD_SECRET_KEY`` if set, else from ``key_file``.

    Raises :class:`KeyUnavailable` when there is no key, the value is
    malformed, or the key file is accessible to group or others.
    """
    if KEY_ENV_VAR in env:
        return _env_keyring(env[KEY_ENV_VAR])
    if key_file is None:
        raise KeyUnavailable(NO_MASTER_KEY)
    return _parse_key_file(_read_private_file(key_file), key_file)


def _document(keyring: Keyring) -> bytes:
    now = datetime.now(UTC)
    doc = {
        "format": KEY_FILE_FORMAT,
        "active": keyring.active_kid,
        "keys": [
            {
                "kid": key.kid,
                "key": _encode_key(key.secret),
                "created": (key.created or now).astimezone(UTC).isoformat(timespec="seconds"),
            }
            for key in keyring.keys
        ],
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _write_all(fd: int, data: bytes) -> None:
    os.fchmod(fd, 0o600)  # exact mode, whatever the umask
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _sync_directory(directory: Path) -> None:
    """Make a create or rename durable; not every platform can open a directory."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_key_file(path: Path) -> Keyring:
    """Create a new key file at ``path`` holding one fresh random key.

    Refuses (:class:`UsageError`) if anything already exists at ``path``.
    Missing parent directories are created with mode 0700.
    """
    keyring = Keyring([key := MasterKey.generate()], key.kid)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(
            f"{path} already exists; refusing to overwrite a master key, since anything "
            "encrypted with it would become unreadable. Use the existing key, or move "
            "the file away yourself if you really mean to start over"
        ) from None
    try:
        _write_all(fd, _document(keyring))
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    _sync_directory(path.parent)
    return keyring


def save_key_file(path: Path, keyring: Keyring, *, allow_key_removal: bool = False) -> None:
    """Atomically replace the key file at ``path`` with ``keyring`` (used by rotation).

    Refuses (:class:`UsageError`) a keyring holding a key from
    ``STEWARD_SECRET_KEY``: that key must stay in the environment, never on
    disk. Also refuses to drop a key the current file holds unless
    ``allow_key_removal`` is set, because whatever that key encrypted would be
    lost.
    """
    from_env = [kid for kid in keyring.kids if kid.startswith(ENV_KID_PREFIX)]
    if from_env:
        raise UsageError(
            f"the master key comes from {KEY_ENV_VAR}, so there is no key file to update "
            "and it will not be written to disk. Rotating by changing the variable is not "
            "possible either: data encrypted under the old value would no longer open. "
            f"To rotate, move to a key file (`steward init`) and unset {KEY_ENV_VAR}"
        )
    if not allow_key_removal and path.exists():
        current = _parse_key_file(_read_private_file(path), path)
        dropped = [kid for kid in current.kids if kid not in keyring.kids]
        if dropped:
            raise UsageError(
                f"saving would remove master key(s) {', '.join(dropped)} from {path}; "
                "whatever they encrypted would become unreadable"
            )
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            _write_all(fd, _document(keyring))
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)
