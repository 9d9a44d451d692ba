"""Packages at rest: encrypted in chunks on disk, refusing any alteration,
expiring on time, downloadable with a token that expires with them."""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datasteward.crypto import Keyring, MasterKey
from datasteward.errors import Conflict, DecryptionFailed, InvalidInput, KeyUnavailable, NotFound
from datasteward.packages import (
    FieldInfo,
    PackageExpired,
    PackageSection,
    delete_package,
    download_token,
    export_package,
    new_package_id,
    open_package,
    package_info,
    purge_expired,
    purge_staging,
    staging_path,
    store_package,
    verify_token,
    write_access_package,
)
from datasteward.packages.vault import MAGIC
from datasteward.policy import load_policy_file

MINIMAL = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"
CREATED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EXPIRES = CREATED + timedelta(days=7)
CHUNK = 1024
PAYLOAD = os.urandom(CHUNK * 5 + 300)  # five full chunks and a partial one


@pytest.fixture
def keyring() -> Keyring:
    key = MasterKey.generate()
    return Keyring([key], key.kid)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "steward-data"


def stage(home: Path, package_id: str, data: bytes = PAYLOAD) -> Path:
    path = staging_path(home, package_id)
    path.write_bytes(data)
    return path


def store(
    home: Path,
    keyring: Keyring,
    package_id: str = "pkg-1",
    data: bytes = PAYLOAD,
    expires_at: datetime = EXPIRES,
) -> None:
    store_package(
        home,
        keyring,
        stage(home, package_id, data),
        package_id=package_id,
        created_at=CREATED,
        expires_at=expires_at,
        chunk_size=CHUNK,
    )


def read_all(home: Path, keyring: Keyring, package_id: str = "pkg-1") -> bytes:
    return b"".join(open_package(home, keyring, package_id, now=CREATED))


def bin_path(home: Path, package_id: str = "pkg-1") -> Path:
    return home / "packages" / f"{package_id}.bin"


def split(data: bytes) -> list[bytes]:
    """The length-prefixed chunk records of a stored package, after the magic."""
    assert data.startswith(MAGIC)
    records, at = [], len(MAGIC)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        records.append(data[at : at + 4 + length])
        at += 4 + length
    return records


def rewrite(home: Path, records: list[bytes]) -> None:
    bin_path(home).write_bytes(MAGIC + b"".join(records))


# -- round trip ------------------------------------------------------------------------------


def test_round_trip_of_a_real_package(home: Path, keyring: Keyring, tmp_path: Path) -> None:
    policy = load_policy_file(MINIMAL).policy
    package_id = new_package_id()
    zip_path = staging_path(home, package_id)
    fields = (FieldInfo("email", "email", "Email address"),)
    rows = ({"email": f"ana{i}@example.lv"} for i in range(5000))
    sections = [PackageSection("shopdb", "customers", fields, rows)]
    write_access_package(zip_path, policy, sections, generated_at=CREATED)
    original = zip_path.read_bytes()

    stored = store_package(
        home, keyring, zip_path, package_id=package_id, created_at=CREATED, expires_at=EXPIRES
    )

    assert not zip_path.exists(), "the plaintext zip is removed once stored"
    assert stored.size == len(original)
    assert package_info(home, package_id) == stored
    assert original not in bin_path(home, package_id).read_bytes()
    out = tmp_path / "download" / "access.zip"
    export_package(home, keyring, package_id, out, now=CREATED)
    assert out.read_bytes() == original
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None


def test_chunks_reassemble_exactly(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    chunks = list(open_package(home, keyring, "pkg-1", now=CREATED))
    assert [len(c) for c in chunks] == [CHUNK] * 5 + [300]
    assert b"".join(chunks) == PAYLOAD
    assert len(split(bin_path(home).read_bytes())) == 6


@pytest.mark.parametrize("data", [b"", b"x" * CHUNK], ids=["empty", "one-full-chunk"])
def test_edge_sizes_round_trip(home: Path, keyring: Keyring, data: bytes) -> None:
    store(home, keyring, data=data)
    assert read_all(home, keyring) == data
    assert len(split(bin_path(home).read_bytes())) == 1


def test_package_opens_after_key_rotation(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    assert read_all(home, keyring.rotated()) == PAYLOAD


def test_package_does_not_open_without_its_key(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    other = MasterKey.generate()
    with pytest.raises(KeyUnavailable):
        read_all(home, Keyring([other], other.kid))


# -- tampering ------------------------------------------------------------------------------


def test_altered_chunk_fails(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    records = split(bin_path(home).read_bytes())
    damaged = bytearray(records[2])
    damaged[-20] ^= 0x01
    records[2] = bytes(damaged)
    rewrite(home, records)
    with pytest.raises(DecryptionFailed):
        read_all(home, keyring)


def test_reordered_chunks_fail(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    records = split(bin_path(home).read_bytes())
    records[1], records[2] = records[2], records[1]
    rewrite(home, records)
    with pytest.raises(DecryptionFailed):
        read_all(home, keyring)


@pytest.mark.parametrize(
    "cut",
    [
        lambda records: records[:-1],  # the final chunk dropped
        lambda records: records[:3],  # cut at a chunk boundary
        lambda records: [*records[:-1], records[-1][:-5]],  # cut inside the last chunk
        lambda records: [*records[:-1], records[-1][:2]],  # cut inside a length prefix
        lambda records: [],  # only the magic left
    ],
    ids=["last-dropped", "boundary", "inside-chunk", "inside-prefix", "no-chunk"],
)
def test_truncated_package_fails(
    home: Path, keyring: Keyring, cut: Callable[[list[bytes]], list[bytes]]
) -> None:
    store(home, keyring)
    records = split(bin_path(home).read_bytes())
    rewrite(home, cut(records))
    with pytest.raises(DecryptionFailed):
        read_all(home, keyring)


def test_appended_chunk_fails(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    records = split(bin_path(home).read_bytes())
    rewrite(home, [*records, records[-1]])
    with pytest.raises(DecryptionFailed):
        read_all(home, keyring)


def test_package_moved_to_another_id_fails(home: Path, keyring: Keyring) -> None:
    store(home, keyring, package_id="pkg-1")
    store(home, keyring, package_id="pkg-2", data=b"other package")
    bin_path(home, "pkg-2").write_bytes(bin_path(home, "pkg-1").read_bytes())
    sidecar = json.loads((home / "packages" / "pkg-1.json").read_text())
    sidecar["package_id"] = "pkg-2"
    (home / "packages" / "pkg-2.json").write_text(json.dumps(sidecar))
    with pytest.raises(DecryptionFailed):
        read_all(home, keyring, "pkg-2")


def test_extending_the_expiry_in_the_record_breaks_the_package(
    home: Path, keyring: Keyring
) -> None:
    store(home, keyring)
    meta = home / "packages" / "pkg-1.json"
    sidecar = json.loads(meta.read_text())
    sidecar["expires_at"] = "2099-01-01T00:00:00.000000Z"
    meta.write_text(json.dumps(sidecar))
    with pytest.raises(DecryptionFailed):
        read_all(home, keyring)


def test_recorded_digest_is_checked_and_a_failed_export_leaves_no_file(
    home: Path, keyring: Keyring, tmp_path: Path
) -> None:
    store(home, keyring)
    meta = home / "packages" / "pkg-1.json"
    sidecar = json.loads(meta.read_text())
    sidecar["sha256"] = "0" * 64
    meta.write_text(json.dumps(sidecar))
    out = tmp_path / "out.zip"
    with pytest.raises(DecryptionFailed, match="SHA-256"):
        export_package(home, keyring, "pkg-1", out, now=CREATED)
    assert not out.exists()
    assert list(tmp_path.glob(".out.zip*")) == []


def test_damaged_record_is_a_decryption_failure(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    (home / "packages" / "pkg-1.json").write_text("{not json")
    with pytest.raises(DecryptionFailed, match="damaged"):
        read_all(home, keyring)


# -- expiry ---------------------------------------------------------------------------------


def test_package_opens_until_its_expiry_and_not_at_it(
    home: Path, keyring: Keyring, tmp_path: Path
) -> None:
    store(home, keyring)
    just_before = EXPIRES - timedelta(microseconds=1)
    assert b"".join(open_package(home, keyring, "pkg-1", now=just_before)) == PAYLOAD
    with pytest.raises(PackageExpired, match=re.escape("expired at 2026-03-09T09:30:00.000000Z")):
        open_package(home, keyring, "pkg-1", now=EXPIRES)
    with pytest.raises(PackageExpired):
        export_package(home, keyring, "pkg-1", tmp_path / "late.zip", now=EXPIRES)
    assert not (tmp_path / "late.zip").exists()


def test_token_expires_exactly_at_its_expiry(keyring: Keyring) -> None:
    token = download_token(keyring, "pkg-1", EXPIRES)
    assert verify_token(keyring, "pkg-1", token, now=CREATED)
    assert verify_token(keyring, "pkg-1", token, now=EXPIRES - timedelta(microseconds=1))
    assert not verify_token(keyring, "pkg-1", token, now=EXPIRES)
    assert not verify_token(keyring, "pkg-1", token, now=EXPIRES + timedelta(days=1))


def test_token_is_bound_to_package_expiry_and_key(keyring: Keyring) -> None:
    token = download_token(keyring, "pkg-1", EXPIRES)
    stamp, mac = token.split(".")
    later = str(int(stamp) + 86_400_000_000)
    assert not verify_token(keyring, "pkg-2", token, now=CREATED)
    assert not verify_token(keyring, "pkg-1", f"{later}.{mac}", now=CREATED)
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert not verify_token(keyring, "pkg-1", f"{stamp}.{flipped}", now=CREATED)
    other = MasterKey.generate()
    assert not verify_token(Keyring([other], other.kid), "pkg-1", token, now=CREATED)
    for junk in ("", ".", "abc", f"{stamp}.", f".{mac}", f"{stamp}.{mac}x", f"-1.{mac}", "ā.ā"):
        assert not verify_token(keyring, "pkg-1", junk, now=CREATED)
    assert not verify_token(keyring, "../pkg-1", token, now=CREATED)


def test_token_survives_key_rotation(keyring: Keyring) -> None:
    token = download_token(keyring, "pkg-1", EXPIRES)
    assert verify_token(keyring.rotated(), "pkg-1", token, now=CREATED)


def test_purge_removes_only_expired_packages(home: Path, keyring: Keyring) -> None:
    store(home, keyring, "early", expires_at=CREATED + timedelta(days=1))
    store(home, keyring, "exact", expires_at=CREATED + timedelta(days=2))
    store(home, keyring, "late", expires_at=CREATED + timedelta(days=3))
    (home / "packages" / "notes.json").write_text("{}")  # not a package record

    assert purge_expired(home, CREATED + timedelta(days=2)) == ("early", "exact")

    left = sorted(p.name for p in (home / "packages").iterdir() if p.is_file())
    assert left == ["late.bin", "late.json", "notes.json"]
    assert read_all(home, keyring, "late") == PAYLOAD
    with pytest.raises(NotFound, match="unknown package 'early'"):
        open_package(home, keyring, "early", now=CREATED)
    assert purge_expired(home, CREATED + timedelta(days=2)) == ()


def test_purge_of_a_home_without_packages_does_nothing(tmp_path: Path) -> None:
    assert purge_expired(tmp_path / "nothing-here", CREATED) == ()
    assert purge_staging(tmp_path / "nothing-here", CREATED) == ()


def test_purge_staging_removes_only_stale_plaintext(home: Path) -> None:
    now = datetime.now(UTC)
    stale = stage(home, "crashed")
    partial = stale.with_name(".crashed2.zip.1a2b.part")
    partial.write_bytes(b"PK")
    fresh = stage(home, "in-progress")
    old = (now - timedelta(days=1, seconds=1)).timestamp()
    for path in (stale, partial):
        os.utime(path, (old, old))
    assert purge_staging(home, now) == (".crashed2.zip.1a2b.part", "crashed.zip")
    assert [p.name for p in fresh.parent.iterdir()] == ["in-progress.zip"]


def test_delete_package(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    assert delete_package(home, "pkg-1") is True
    assert delete_package(home, "pkg-1") is False
    with pytest.raises(NotFound):
        open_package(home, keyring, "pkg-1", now=CREATED)


# -- files and refusals ---------------------------------------------------------------------------


def test_files_are_private(home: Path, keyring: Keyring, tmp_path: Path) -> None:
    store(home, keyring)
    out = tmp_path / "exported.zip"
    export_package(home, keyring, "pkg-1", out, now=CREATED)
    for path in (bin_path(home), home / "packages" / "pkg-1.json", out):
        assert (path.stat().st_mode & 0o777) == 0o600, path
    for directory in (home / "packages", home / "packages" / "staging"):
        assert (directory.stat().st_mode & 0o777) == 0o700, directory
    assert sorted(p.name for p in (home / "packages").iterdir()) == [
        "pkg-1.bin",
        "pkg-1.json",
        "staging",
    ]


def test_store_refuses_a_stored_id_bad_ids_and_backwards_expiry(
    home: Path, keyring: Keyring
) -> None:
    store(home, keyring)
    with pytest.raises(Conflict, match="already stored"):
        store(home, keyring)
    with pytest.raises(InvalidInput, match="package id"):
        staging_path(home, "../escape")
    with pytest.raises(InvalidInput, match="expire after"):
        store(home, keyring, "pkg-2", expires_at=CREATED)
    with pytest.raises(NotFound):
        open_package(home, keyring, "pkg-3", now=CREATED)
    assert read_all(home, keyring) == PAYLOAD


def test_docs_show_the_record_the_vault_writes(home: Path, keyring: Keyring) -> None:
    store(home, keyring)
    docs = Path(__file__).resolve().parents[2] / "docs" / "packages.md"
    text = docs.read_text(encoding="utf-8")
    after = text[text.index("\n### The stored package\n") :]
    start = after.index("```json\n") + len("```json\n")
    shown = json.loads(after[start : after.index("```", start)])
    real = json.loads((home / "packages" / "pkg-1.json").read_text())
    assert list(shown) == list(real)
    assert shown["format"] == real["format"]
    assert MAGIC == b"DSPKG\x00\x01\n"
    assert '"DSPKG" 0x00 0x01 "\\n"' in after
