"""Tampering with the stored chains, straight in SQL, is caught at the exact row.

Someone with write access to the database edits, deletes, inserts or swaps
rows of ``audit_events`` or ``consent_events``, or moves a chain head.
``verify_store`` and ``steward audit verify --json`` (exit 1) must both name
the first row that no longer fits, and leave the untouched chain intact.

One store per backend is filled once for the module; each test restores the
chain tables afterwards."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Table, delete, insert, select, update
from tests.integration.conftest import MINIMAL, CliRun, Engines, Steward, build_steward

from datasteward.audit.chain import (
    ChainHead,
    VerifyResult,
    row_hash,
    verify_chain,
    verify_material_chain,
    verify_segments,
)
from datasteward.audit.service import verify_store
from datasteward.store import chains, sql_store
from datasteward.store.tables import audit_events, chain_heads, consent_events

TABLES: dict[str, Table] = {"audit": audit_events, "consent": consent_events}
PEOPLE = ("ana", "bruno", "cilda", "dainis", "elza")
LENGTHS = {"consent": len(PEOPLE), "audit": 1 + len(PEOPLE)}
"""consent: one event per person; audit: the policy, then one subject.created each."""


@pytest.fixture(scope="module")
def filled(
    module_store_url: str, module_engines: Engines, tmp_path_factory: pytest.TempPathFactory
) -> Steward:
    steward = build_steward(module_store_url, module_engines, tmp_path_factory.mktemp("keys"))
    steward.apply(MINIMAL.read_text(encoding="utf-8"))
    for name in PEOPLE:
        steward.give(f"email:{name}@example.lv")
        steward.clock.advance(timedelta(minutes=1))
    for chain, length in LENGTHS.items():
        result = verify_store(steward.store)[chain]
        assert result.ok
        assert result.checked == length
    return steward


def snapshot(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    saved = {
        name: [dict(r._mapping) for r in connection.execute(select(t))]
        for name, t in TABLES.items()
    }
    saved["heads"] = [dict(r._mapping) for r in connection.execute(select(chain_heads))]
    return saved


@pytest.fixture
def store(filled: Steward) -> Iterator[Steward]:
    """The filled store; whatever a test does to the chains is undone after it."""
    with filled.engine.connect() as connection:
        saved = snapshot(connection)
    yield filled
    with filled.engine.begin() as connection:
        for name, table in TABLES.items():
            connection.execute(delete(table))
            connection.execute(insert(table), saved[name])
        for head in saved["heads"]:
            connection.execute(
                update(chain_heads)
                .where(chain_heads.c.chain == head["chain"])
                .values(seq=head["seq"], hash=head["hash"])
            )


def row(connection: Connection, table: Table, seq: int) -> dict[str, Any]:
    found = connection.execute(select(table).where(table.c.seq == seq)).one()
    return dict(found._mapping)


# -- the tamperings; each returns the seq that must be reported ----------------


def edit_field(connection: Connection, chain: str) -> int:
    table = TABLES[chain]
    values = {"reason": "nothing happened here"} if chain == "audit" else {"kind": "withdrawn"}
    connection.execute(update(table).where(table.c.seq == 3).values(**values))
    return 3


def edit_time(connection: Connection, chain: str) -> int:
    table = TABLES[chain]
    connection.execute(
        update(table).where(table.c.seq == 2).values(occurred_at="2025-01-01T00:00:00.000000Z")
    )
    return 2


def delete_first(connection: Connection, chain: str) -> int:
    table = TABLES[chain]
    connection.execute(delete(table).where(table.c.seq == 1))
    return 1


def delete_middle(connection: Connection, chain: str) -> int:
    table = TABLES[chain]
    connection.execute(delete(table).where(table.c.seq == 3))
    return 3


def delete_last(connection: Connection, chain: str) -> int:
    table = TABLES[chain]
    connection.execute(delete(table).where(table.c.seq == LENGTHS[chain]))
    return LENGTHS[chain]


def insert_forged(connection: Connection, chain: str) -> int:
    """A forged row after the last one, linked and hashed correctly; the head
    is left alone, as whoever forged it could not move it unnoticed."""
    table, spec, last = TABLES[chain], chains.CHAINS[chain], LENGTHS[chain]
    forged = row(connection, table, 2)
    if chain == "consent":
        forged["event_id"] = str(uuid.uuid4())
    forged["seq"] = last + 1
    forged["prev_hash"] = row(connection, table, last)["hash"]
    forged["hash"] = row_hash(last + 1, forged["prev_hash"], spec.values(forged))
    connection.execute(insert(table).values(**forged))
    return last + 1


def insert_forged_and_move_head(connection: Connection, chain: str) -> int:
    """The same, with the head moved too, but the forged row's hash wrong."""
    table, last = TABLES[chain], LENGTHS[chain]
    forged = row(connection, table, 2)
    if chain == "consent":
        forged["event_id"] = str(uuid.uuid4())
    forged["seq"] = last + 1
    forged["prev_hash"] = row(connection, table, last)["hash"]
    forged["hash"] = "ab" * 32
    connection.execute(insert(table).values(**forged))
    connection.execute(
        update(chain_heads).where(chain_heads.c.chain == chain).values(seq=last + 1, hash="ab" * 32)
    )
    return last + 1


def swap_rows(connection: Connection, chain: str) -> int:
    """Rows 2 and 4 exchange everything but their sequence numbers."""
    table = TABLES[chain]
    second, fourth = row(connection, table, 2), row(connection, table, 4)
    connection.execute(delete(table).where(table.c.seq.in_([2, 4])))
    connection.execute(insert(table).values(**{**fourth, "seq": 2}))
    connection.execute(insert(table).values(**{**second, "seq": 4}))
    return 2


def relink(connection: Connection, chain: str) -> int:
    table = TABLES[chain]
    connection.execute(update(table).where(table.c.seq == 4).values(prev_hash="0" * 64))
    return 4


def move_head_back(connection: Connection, chain: str) -> int:
    table, last = TABLES[chain], LENGTHS[chain]
    earlier = row(connection, table, last - 2)
    connection.execute(
        update(chain_heads)
        .where(chain_heads.c.chain == chain)
        .values(seq=last - 2, hash=earlier["hash"])
    )
    return last - 1


TAMPERINGS: dict[str, Callable[[Connection, str], int]] = {
    "edit_field": edit_field,
    "edit_time": edit_time,
    "delete_first": delete_first,
    "delete_middle": delete_middle,
    "delete_last": delete_last,
    "insert_forged": insert_forged,
    "insert_forged_and_move_head": insert_forged_and_move_head,
    "swap_rows": swap_rows,
    "relink": relink,
    "move_head_back": move_head_back,
}


@pytest.mark.parametrize("chain", ["audit", "consent"])
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_tampering_is_caught_at_its_row(
    store: Steward, run_cli: CliRun, chain: str, tampering: str
) -> None:
    with store.engine.begin() as connection:
        expected = TAMPERINGS[tampering](connection, chain)

    results = verify_store(store.store)
    assert not results[chain].ok
    assert results[chain].first_bad_seq == expected, results[chain].reason
    other = "consent" if chain == "audit" else "audit"
    assert results[other].ok

    result = run_cli("audit", "verify", "--json", database_url=store.url)
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert body["chains"][chain]["ok"] is False
    assert body["chains"][chain]["first_bad_seq"] == expected
    assert body["chains"][chain]["reason"] == results[chain].reason
    assert body["chains"][other]["ok"] is True

    text = run_cli("audit", "verify", "--chain", chain, database_url=store.url)
    assert text.exit_code == 1
    assert f"{chain}: BROKEN at sequence {expected}:" in text.stdout


def test_intact_store_verifies(store: Steward, run_cli: CliRun) -> None:
    result = run_cli("audit", "verify", "--json", database_url=store.url)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is True
    for chain, length in LENGTHS.items():
        assert body["chains"][chain]["checked"] == length
        assert body["chains"][chain]["head"]["seq"] == length


def rewrite_from(connection: Connection, chain: str, start: int) -> None:
    """What only a full rewrite can do: edit row ``start``, recompute every hash
    after it and move the head, so the chain verifies on its own."""
    table, spec = TABLES[chain], chains.CHAINS[chain]
    rows = [dict(r._mapping) for r in connection.execute(select(table).order_by(table.c.seq))]
    prev = rows[start - 2]["hash"] if start > 1 else "0" * 64
    for current in rows[start - 1 :]:
        if current["seq"] == start:
            current["actor"] = "someone:else"
        current["prev_hash"] = prev
        current["hash"] = row_hash(current["seq"], prev, spec.values(current))
        prev = current["hash"]
        connection.execute(
            update(table)
            .where(table.c.seq == current["seq"])
            .values(actor=current["actor"], prev_hash=current["prev_hash"], hash=current["hash"])
        )
    connection.execute(
        update(chain_heads)
        .where(chain_heads.c.chain == chain)
        .values(seq=rows[-1]["seq"], hash=prev)
    )


@pytest.mark.parametrize("chain", ["audit", "consent"])
def test_full_rewrite_is_caught_only_by_an_anchor(
    store: Steward, run_cli: CliRun, chain: str
) -> None:
    anchor = verify_store(store.store)[chain].head
    assert anchor is not None
    with store.engine.begin() as connection:
        rewrite_from(connection, chain, 3)
    assert verify_store(store.store)[chain].ok

    anchored = verify_store(store.store, expected_heads={chain: anchor})[chain]
    assert not anchored.ok
    assert anchored.first_bad_seq == anchor.seq

    result = run_cli(
        "audit",
        "verify",
        "--json",
        "--expect-head",
        f"{chain}:{anchor.seq}:{anchor.hash}",
        database_url=store.url,
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["chains"][chain]["first_bad_seq"] == anchor.seq


def test_anchor_recorded_earlier_still_verifies_after_new_events(
    store: Steward, run_cli: CliRun
) -> None:
    anchors = {name: r.head for name, r in verify_store(store.store).items()}
    store.give("email:fricis@example.lv")
    args = [f"{name}:{h.seq}:{h.hash}" for name, h in anchors.items() if h is not None]
    result = run_cli(
        "audit",
        "verify",
        "--json",
        "--expect-head",
        args[0],
        "--expect-head",
        args[1],
        database_url=store.url,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["chains"]["consent"]["head"]["seq"] == LENGTHS["consent"] + 1
    expected = {name: ChainHead(h.seq, h.hash) for name, h in anchors.items() if h is not None}
    assert all(r.ok for r in verify_store(store.store, expected_heads=expected).values())


def test_bad_anchor_argument(store: Steward, run_cli: CliRun) -> None:
    result = run_cli("audit", "verify", "--expect-head", "audit:3", database_url=store.url)
    assert result.exit_code == 2
    assert "--expect-head takes CHAIN:SEQ:HASH" in result.output
    unknown = run_cli("audit", "verify", "--chain", "payments", database_url=store.url)
    assert unknown.exit_code == 2
    assert "unknown chain 'payments'" in unknown.output


PARALLEL_CASES = ("none", "delete_middle", "swap_rows", "insert_forged_and_move_head")


def reference_verdicts(steward: Steward) -> dict[str, VerifyResult]:
    """The plain walk: every field read back and encoded in Python."""
    found = {}
    for chain in TABLES:
        with steward.store.chain_rows(chain) as (head, rows):
            found[chain] = verify_chain(rows, head)
    return found


@pytest.mark.parametrize("tampering", ["none", *TAMPERINGS])
def test_every_verifier_gives_the_reference_verdict(
    store: Steward, monkeypatch: pytest.MonkeyPatch, tampering: str
) -> None:
    """The database-built material, and the stretches checked side by side
    (worker processes on SQLite, threads sharing one snapshot on
    PostgreSQL), report exactly what the plain walk reports."""
    if tampering != "none":
        with store.engine.begin() as connection:
            for chain in TABLES:
                TAMPERINGS[tampering](connection, chain)
    expected = reference_verdicts(store)
    for chain in TABLES:
        with store.store.chain_material(chain) as (head, rows, fields_of):
            assert verify_material_chain(rows, head, fields_of=fields_of) == expected[chain]
    with store.store.chain_segments("audit") as parts:
        assert parts is None  # a short chain is checked in one pass
    if tampering not in PARALLEL_CASES:
        return  # SQLite's worker processes take a second to start: a few cases suffice
    monkeypatch.setattr(sql_store, "PARALLEL_VERIFY_MIN_ROWS", 0)
    for chain in TABLES:
        with store.store.chain_segments(chain) as parts:
            assert parts is not None
            head, segments, tail, fields_of = parts
            assert len(segments) >= 2
            assert verify_segments(segments, tail, head, fields_of=fields_of) == expected[chain]
    assert verify_store(store.store) == expected


def test_text_the_database_cannot_encode_is_judged_in_python(store: Steward) -> None:
    """A NUL character in a text (possible in SQLite, refused by PostgreSQL):
    the row still verifies, and editing it is still caught."""
    if not store.url.startswith("sqlite"):
        pytest.skip("PostgreSQL text cannot hold a NUL character")
    table, spec = audit_events, chains.AUDIT
    with store.engine.begin() as connection:
        last = row(connection, table, LENGTHS["audit"])
        seq = last["seq"]
        values = {**last, "reason": "first line\x00second line"}
        digest = row_hash(seq, last["prev_hash"], spec.values(values))
        connection.execute(
            update(table).where(table.c.seq == seq).values(reason=values["reason"], hash=digest)
        )
        connection.execute(
            update(chain_heads).where(chain_heads.c.chain == "audit").values(hash=digest)
        )
    assert verify_store(store.store)["audit"].ok
    with store.engine.begin() as connection:
        connection.execute(
            update(table).where(table.c.seq == seq).values(reason="first line\x00other line")
        )
    result = verify_store(store.store)["audit"]
    assert (result.ok, result.first_bad_seq) == (False, seq)
