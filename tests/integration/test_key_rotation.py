"""Rotating the master key: afterwards everything still opens and is found,
new keys and indexes use the new key, the rotation is audited, and a key
that lives only in the environment is never rotated (nor written to disk)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from tests.integration.conftest import MINIMAL, CliRun, Steward

from datasteward.audit.service import verify_store
from datasteward.consent.model import Channel
from datasteward.consent.service import ConsentLedger
from datasteward.consent.source import SourceDetails
from datasteward.crypto import Keyring, open_sealed
from datasteward.errors import KeyUnavailable
from datasteward.subjects.rotation import rotate_keys
from datasteward.subjects.service import SubjectDirectory

PEOPLE = ("email:ana@example.lv", "phone:+37120000004", "email:cilda@example.lv")


def rotate(steward: Steward, keyring: Keyring) -> tuple[Keyring, dict[str, object]]:
    saved: list[Keyring] = []
    report = rotate_keys(
        steward.store,
        steward.keystore,
        keyring,
        save=saved.append,
        actor="staff:admin",
        clock=steward.clock,
    )
    assert len(saved) == 1
    return saved[0], report


def rewired(steward: Steward, keyring: Keyring) -> tuple[SubjectDirectory, ConsentLedger]:
    directory = SubjectDirectory(keyring, steward.keystore, steward.clock)
    return directory, ConsentLedger(steward.store, directory, steward.clock)


def test_everything_opens_and_is_found_after_rotation(steward: Steward) -> None:
    records = [steward.give(p, source=SourceDetails(ip="192.0.2.10")) for p in PEOPLE]
    with steward.store.transaction() as tx:
        steward.directory.add_identity(
            tx, records[0].subject_id, steward.identity("customer_id:C-1001"), actor="staff:a"
        )
    old_kid = steward.keyring.active_kid

    new, report = rotate(steward, steward.keyring)
    assert new.active_kid != old_kid
    assert new.kids == (old_kid, new.active_kid)
    assert report == {"active_kid": new.active_kid, "rewrapped": 3, "reindexed": 4}

    directory, ledger = rewired(steward, new)
    assert {k.kid for k in steward.keystore.all_keys()} == {new.active_kid}
    with steward.store.reading() as tx:
        assert {i.index_kid for i in tx.all_identities()} == {new.active_kid}
        for person, record in zip(PEOPLE, records, strict=True):
            assert directory.find(tx, steward.identity(person)) == record.subject_id
        assert directory.find(tx, steward.identity("customer_id:C-1001")) == records[0].subject_id
        assert directory.reveal(tx, records[0].subject_id) == [
            steward.identity(PEOPLE[0]),
            steward.identity("customer_id:C-1001"),
        ]
        for record in records:
            token = tx.consent_source(record.seq)
            assert token is not None
            source = open_sealed(
                directory.data_key(record.subject_id),
                token,
                aad=f"consent-source:{record.event_id}".encode(),
            )
            assert json.loads(source) == {"ip": "192.0.2.0"}
    for person in PEOPLE:
        assert ledger.check(steward.identity(person), "newsletter").allowed

    # The old keyring alone no longer opens the re-wrapped keys.
    with pytest.raises(KeyUnavailable):
        steward.directory.data_key(records[0].subject_id)
    assert all(r.ok for r in verify_store(steward.store).values())


def test_new_encryptions_use_the_new_key(steward: Steward) -> None:
    steward.give(PEOPLE[0])
    new, _ = rotate(steward, steward.keyring)
    _, ledger = rewired(steward, new)
    later = ledger.give(
        steward.identity("email:dainis@example.lv"), "newsletter", channel=Channel.FORM, actor="web"
    )
    stored = steward.keystore.get(later.subject_id)
    assert stored is not None
    assert stored.wrapped is not None
    assert stored.kid == new.active_kid
    assert new.kid_of(stored.wrapped) == new.active_kid
    with steward.store.reading() as tx:
        (identity,) = tx.identities_of(later.subject_id)
    assert identity.index_kid == new.active_kid
    assert identity.blind_index == new.blind_index("email", "dainis@example.lv")


def test_rotation_is_audited(steward: Steward) -> None:
    steward.give(PEOPLE[0])
    new, _ = rotate(steward, steward.keyring)
    with steward.store.reading() as tx:
        (entry,) = tx.audit_entries(action="keys.rotated")
    assert entry.object_type == "keyring"
    assert entry.object_id == new.active_kid
    assert entry.actor == "staff:admin"
    assert entry.details == {"rewrapped": 1, "reindexed": 1, "kids": list(new.kids)}
    for key in new.keys:  # no key material in the log
        assert base64.urlsafe_b64encode(key.secret).decode() not in json.dumps(entry.details)


def test_rotating_twice_keeps_everything_readable(steward: Steward) -> None:
    first = steward.give(PEOPLE[0]).subject_id
    second_ring, _ = rotate(steward, steward.keyring)
    _, ledger = rewired(steward, second_ring)
    second = ledger.give(steward.identity(PEOPLE[1]), "newsletter", channel=Channel.FORM, actor="w")
    third_ring, report = rotate(steward, second_ring)
    assert len(third_ring.kids) == 3
    assert report["rewrapped"] == 2
    directory, _ = rewired(steward, third_ring)
    with steward.store.reading() as tx:
        assert directory.reveal(tx, first) == [steward.identity(PEOPLE[0])]
        assert directory.reveal(tx, second.subject_id) == [steward.identity(PEOPLE[1])]
        assert {i.index_kid for i in tx.all_identities()} == {third_ring.active_kid}


def test_shredded_subjects_are_skipped(steward: Steward) -> None:
    gone = steward.give(PEOPLE[0]).subject_id
    kept = steward.give(PEOPLE[2]).subject_id
    with steward.store.transaction() as tx:
        steward.directory.shred(tx, gone, actor="staff:dpo", reason="erasure request")
    new, report = rotate(steward, steward.keyring)
    assert report["rewrapped"] == 1
    assert report["reindexed"] == 1
    directory, _ = rewired(steward, new)
    with pytest.raises(KeyUnavailable):
        directory.data_key(gone)
    with steward.store.reading() as tx:
        assert directory.reveal(tx, kept) == [steward.identity(PEOPLE[2])]


def test_interrupted_rotation_loses_nothing_and_can_be_finished(steward: Steward) -> None:
    """The new key file is saved first; if re-wrapping then stops, both keys are
    in the file, lookups still work, and running rotation again completes it."""
    record = steward.give(PEOPLE[0])
    interrupted = steward.keyring.rotated()  # saved, but nothing re-wrapped yet
    directory, ledger = rewired(steward, interrupted)
    with steward.store.reading() as tx:
        assert directory.find(tx, steward.identity(PEOPLE[0])) == record.subject_id
    assert ledger.check(steward.identity(PEOPLE[0]), "newsletter").allowed

    finished, report = rotate(steward, interrupted)
    assert report["rewrapped"] == 1
    assert report["reindexed"] == 1
    directory, _ = rewired(steward, finished)
    with steward.store.reading() as tx:
        assert directory.reveal(tx, record.subject_id) == [steward.identity(PEOPLE[0])]


# -- the command ------------------------------------------------------------------


def init_home(run_cli: CliRun, env: dict[str, str | None] | None = None) -> None:
    result = run_cli("init", env=env)
    assert result.exit_code == 0, result.output
    applied = run_cli("policy", "apply", str(MINIMAL), env=env)
    assert applied.exit_code == 0, applied.output


def test_cli_rotates_the_key_file(run_cli: CliRun, tmp_path: Path) -> None:
    init_home(run_cli)
    given = run_cli(
        "consent", "give", "--subject", "email:ana@example.lv", "--purpose", "newsletter"
    )
    assert given.exit_code == 0, given.output
    key_file = tmp_path / "cli-home" / "master.key"
    before = json.loads(key_file.read_text())

    result = run_cli("keys", "rotate", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    after = json.loads(key_file.read_text())
    assert after["active"] == report["active_kid"] != before["active"]
    assert [k["kid"] for k in after["keys"]] == [before["active"], report["active_kid"]]
    assert report["rewrapped"] == 1
    assert report["reindexed"] == 1
    assert oct(os.stat(key_file).st_mode & 0o777) == oct(0o600)

    check = run_cli(
        "consent", "check", "--subject", "email:ana@example.lv", "--purpose", "newsletter", "--json"
    )
    assert check.exit_code == 0, check.output
    assert json.loads(check.stdout)["allowed"] is True
    shown = run_cli("audit", "show", "--action", "keys.rotated", "--json")
    assert [e["object"] for e in json.loads(shown.stdout)["events"]] == [
        f"keyring:{report['active_kid']}"
    ]


def test_cli_refuses_to_rotate_a_key_from_the_environment(run_cli: CliRun, tmp_path: Path) -> None:
    env: dict[str, str | None] = {
        "STEWARD_SECRET_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode()
    }
    init_home(run_cli, env)
    assert not (tmp_path / "cli-home" / "master.key").exists()
    result = run_cli("keys", "rotate", "--json", env=env)
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "usage_error"
    assert "STEWARD_SECRET_KEY" in error["message"]
    assert not (tmp_path / "cli-home" / "master.key").exists()
    shown = run_cli("audit", "show", "--action", "keys.rotated", "--json", env=env)
    assert json.loads(shown.stdout)["events"] == []
