"""Crypto-shredding: once a person's data key is destroyed, nothing the engine
ever stored about them opens again, not even from a copy of the engine
database taken before, with the keyring and the key store in hand.

The copy is what a backup would hold: the SQLite file itself, or on
PostgreSQL every row of the tables that carry ciphertexts."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from tests.integration.conftest import Engines, Steward

from datasteward.audit.service import verify_store
from datasteward.consent.source import SourceDetails
from datasteward.crypto import open_sealed
from datasteward.errors import DecryptionFailed, KeyUnavailable, NotFound
from datasteward.store.tables import consent_events, identities

ANA = "email:ana.berzina@example.lv"
ANA_PHONE = "phone:+37120000003"
BOB = "email:bruno@example.lv"


@dataclass
class Backup:
    """The ciphertext-bearing rows of the engine store, as a copy holds them."""

    identities: list[dict[str, Any]]
    consent_events: list[dict[str, Any]]

    def of(self, subject_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (
            [r for r in self.identities if r["subject_id"] == subject_id],
            [r for r in self.consent_events if r["subject_id"] == subject_id],
        )


def take_backup(steward: Steward, directory: Path, engines: Engines) -> Backup:
    """Copy the database file (SQLite) or dump its rows (PostgreSQL), then read
    the copy back through a connection of its own."""
    if steward.backend == "sqlite":
        source = Path(str(steward.engine.url.database))
        copy = directory / "backup-engine.sqlite"
        for suffix in ("", "-wal"):  # what a file-level backup of the directory holds
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{copy}{suffix}")
        engine = engines.adopt(create_engine(f"sqlite:///{copy}"))
    else:
        engine = steward.engine
    with engine.connect() as connection:
        return Backup(
            [dict(r._mapping) for r in connection.execute(select(identities))],
            [dict(r._mapping) for r in connection.execute(select(consent_events))],
        )


def record_people(steward: Steward) -> tuple[str, str]:
    ana = steward.give(
        ANA, source=SourceDetails(ip="198.51.100.23", user_agent="Zaļā Pļava app", reference="r-1")
    ).subject_id
    with steward.store.transaction() as tx:
        steward.directory.add_identity(tx, ana, steward.identity(ANA_PHONE), actor="staff:a")
    bob = steward.give(BOB, source=SourceDetails(ip="198.51.100.99")).subject_id
    return ana, bob


def keys_to_try(steward: Steward) -> list[bytes]:
    """Every data key that anyone holding the keyring and the key store can unwrap."""
    return [
        steward.keyring.unwrap_data_key(k.wrapped, k.subject_id)
        for k in steward.keystore.all_keys()
        if k.wrapped is not None
    ]


def test_shredded_subject_cannot_be_read_from_an_earlier_copy(
    steward: Steward, tmp_path: Path, engines: Engines
) -> None:
    ana, bob = record_people(steward)
    wrapped_before = steward.keystore.get(ana)
    assert wrapped_before is not None
    assert wrapped_before.wrapped is not None
    backup = take_backup(steward, tmp_path, engines)
    ana_identities, ana_events = backup.of(ana)
    assert len(ana_identities) == 2
    assert len(ana_events) == 1
    assert ana_events[0]["source_enc"] is not None

    with steward.store.transaction() as tx:
        assert steward.directory.shred(tx, ana, actor="staff:dpo", reason="erasure request")

    # The key is gone from the key store: asking for it says so.
    with pytest.raises(KeyUnavailable, match="destroyed or is missing"):
        steward.directory.data_key(ana)
    stored = steward.keystore.get(ana)
    assert stored is not None
    assert stored.wrapped is None
    assert stored.destroyed_at == steward.clock.now()

    # No key anyone still holds opens anything of hers in the copy.
    candidates = keys_to_try(steward)
    assert len(candidates) == 1  # Bob's
    for item in ana_identities:
        aad = f"identity:{ana}:{item['kind']}".encode()
        for key in candidates:
            with pytest.raises(DecryptionFailed):
                open_sealed(key, bytes(item["value_enc"]), aad=aad)
    event = ana_events[0]
    for key in candidates:
        with pytest.raises(DecryptionFailed):
            open_sealed(
                key, bytes(event["source_enc"]), aad=f"consent-source:{event['event_id']}".encode()
            )
    # Bob, in the same copy, still opens.
    bob_identities, bob_events = backup.of(bob)
    bob_key = steward.directory.data_key(bob)
    assert [
        open_sealed(bob_key, bytes(i["value_enc"]), aad=f"identity:{bob}:{i['kind']}".encode())
        for i in bob_identities
    ] == [b"bruno@example.lv"]
    source = open_sealed(
        bob_key,
        bytes(bob_events[0]["source_enc"]),
        aad=f"consent-source:{bob_events[0]['event_id']}".encode(),
    )
    assert b"198.51.100.0" in source


def test_shredding_removes_identities_and_keeps_the_ledger(steward: Steward) -> None:
    ana, bob = record_people(steward)
    with steward.store.transaction() as tx:
        assert steward.directory.shred(tx, ana, actor="staff:dpo", reason="erasure request")

    with steward.store.reading() as tx:
        assert tx.identities_of(ana) == []
        assert steward.directory.find(tx, steward.identity(ANA)) is None
        assert steward.directory.find(tx, steward.identity(ANA_PHONE)) is None
        with pytest.raises(KeyUnavailable):
            steward.directory.reveal(tx, ana)
        assert steward.directory.reveal(tx, bob) == [steward.identity(BOB)]
        assert len(tx.consent_events(ana)) == 1  # pseudonymous history stays
        entry = tx.audit_entries(action="subject.shredded")[0]
    assert entry.object_id == ana
    assert entry.reason == "erasure request"
    assert entry.details == {"key_destroyed": True, "identities_removed": 2}
    assert [r["shredded_at"] is not None for r in steward.rows("subjects") if r["id"] == ana] == [
        True
    ]
    with pytest.raises(NotFound):
        steward.ledger.check(steward.identity(ANA), "newsletter")
    assert steward.ledger.check(steward.identity(BOB), "newsletter").allowed
    assert all(r.ok for r in verify_store(steward.store).values())

    # Shredding again destroys nothing more, and says so.
    with steward.store.transaction() as tx:
        assert not steward.directory.shred(tx, ana, actor="staff:dpo", reason="again")


def test_the_same_person_returning_is_a_new_subject(steward: Steward) -> None:
    ana, _ = record_people(steward)
    with steward.store.transaction() as tx:
        steward.directory.shred(tx, ana, actor="staff:dpo", reason="erasure request")
    again = steward.give(ANA)
    assert again.subject_id != ana
    live = {r["id"] for r in steward.rows("subjects") if r["shredded_at"] is None}
    assert live == {again.subject_id, steward.subject_of(BOB)}
    with steward.store.reading() as tx:
        assert steward.directory.reveal(tx, again.subject_id) == [steward.identity(ANA)]


def test_destroyed_key_is_not_left_in_the_key_store_file(steward: Steward) -> None:
    ana, _ = record_people(steward)
    stored = steward.keystore.get(ana)
    assert stored is not None
    assert stored.wrapped is not None
    old = stored.wrapped

    def key_store_bytes() -> bytes:
        files = sorted(steward.keystore_path.parent.glob(steward.keystore_path.name + "*"))
        return b"".join(f.read_bytes() for f in files)

    steward.keystore_engine.dispose()
    assert old in key_store_bytes()  # the search below would find it
    with steward.store.transaction() as tx:
        steward.directory.shred(tx, ana, actor="staff:dpo", reason="erasure request")
    assert old not in key_store_bytes()
    steward.keystore_engine.dispose()
    assert old not in key_store_bytes()
    assert old[:24] not in key_store_bytes()
