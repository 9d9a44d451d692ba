"""Private files for packages: readable by their owner only, complete or absent.

Packages hold personal data, in plaintext while being written and encrypted
once stored. Either way a file is created with mode 0600 from its first byte
(whatever the umask), written under a temporary name in the same directory,
flushed to disk and renamed into place only when complete, so a crash leaves
the finished file or nothing, never part of one. Directories are made with
mode 0700.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from datasteward.errors import Conflict

__all__ = ["private_directory", "private_output"]


def private_directory(path: Path) -> Path:
    """``path`` as a directory, created with mode 0700 if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextmanager
def private_output(path: Path) -> Iterator[BinaryIO]:
    """A file to write that appears at ``path`` (mode 0600) only if the block
    completes. Refuses (:class:`Conflict`) when ``path`` already exists: a
    package is never overwritten."""
    if path.exists():
        raise Conflict(f"{path} already exists; a package file is never overwritten")
    private_directory(path.parent)
    part = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            raise Conflict(f"{path} appeared while it was being written; not overwritten")
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable; not every platform can open a directory."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
