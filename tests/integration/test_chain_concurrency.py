"""Many writers, one chain: threads and separate processes append consent and
audit events at the same time, and afterwards each chain verifies, its
sequence numbers are exactly 1..N, and no event was lost or written twice.

Processes are started with ``spawn`` and build their own engines, as
separate workers or command-line runs would."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.integration.conftest import START, Steward

from datasteward.audit.chain import verify_chain
from datasteward.audit.service import verify_store
from datasteward.clock import FixedClock
from datasteward.consent.model import Channel
from datasteward.consent.service import ConsentLedger
from datasteward.crypto import Keyring, MasterKey
from datasteward.identity import parse_identity
from datasteward.store.engine import make_engine
from datasteward.store.keystore import SqlKeyStore
from datasteward.store.sql_store import SqlEngineStore
from datasteward.store.tables import audit_events, consent_events
from datasteward.subjects.service import SubjectDirectory

ROOT = Path(__file__).resolve().parents[2]

THREADS = 8
PER_THREAD = 30
PROCESSES = 3
PER_PROCESS = 20
AUDIT_EVERY = 3
"""Besides each consent, every third iteration appends an audit event of its own."""

TIMEOUT = 120


def append(ledger: ConsentLedger, store: SqlEngineStore, worker: str, count: int) -> list[int]:
    """``count`` consents for new people plus audit events; returns consent seqs."""
    seqs: list[int] = []
    for i in range(count):
        record = ledger.give(
            parse_identity(f"email:{worker}-{i}@example.lv"),
            "newsletter",
            channel=Channel.API,
            actor=f"worker:{worker}",
        )
        seqs.append(record.seq)
        if i % AUDIT_EVERY == 0:
            with store.transaction() as tx:
                tx.audit(
                    at=START,
                    actor=f"worker:{worker}",
                    action="test.heartbeat",
                    object_type="worker",
                    object_id=f"{worker}-{i}",
                    reason="concurrency test",
                    policy_version=None,
                )
    return seqs


def expected_heartbeats(count: int) -> int:
    return len(range(0, count, AUDIT_EVERY))


def assert_complete(steward: Steward, workers: int, per_worker: int) -> None:
    """Both chains intact, numbered 1..N without gaps, every event there once."""
    results = verify_store(steward.store)
    for name, result in results.items():
        assert result.ok, (name, result.first_bad_seq, result.reason)

    consents = workers * per_worker
    heartbeats = workers * expected_heartbeats(per_worker)
    audits = 1 + consents + heartbeats  # policy.applied, subject.created each, heartbeats
    with steward.engine.connect() as connection:
        consent_seqs = connection.execute(
            select(consent_events.c.seq).order_by(consent_events.c.seq)
        ).scalars()
        assert list(consent_seqs) == list(range(1, consents + 1))
        audit_seqs = connection.execute(
            select(audit_events.c.seq).order_by(audit_events.c.seq)
        ).scalars()
        assert list(audit_seqs) == list(range(1, audits + 1))
        actions = Counter(connection.execute(select(audit_events.c.action)).scalars())
        event_ids = list(connection.execute(select(consent_events.c.event_id)).scalars())
        subject_ids = set(connection.execute(select(consent_events.c.subject_id)).scalars())
    assert actions == {
        "policy.applied": 1,
        "subject.created": consents,
        "test.heartbeat": heartbeats,
    }
    assert len(set(event_ids)) == consents
    assert len(subject_ids) == consents
    assert results["consent"].checked == consents
    assert results["audit"].checked == audits
    assert steward.count("subject_keys") == consents


def test_threads_append_without_forking_the_chains(steward: Steward) -> None:
    barrier = threading.Barrier(THREADS)
    seqs: dict[int, list[int]] = {}
    errors: list[str] = []

    def run(number: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            seqs[number] = append(steward.ledger, steward.store, f"t{number}", PER_THREAD)
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    returned = sorted(s for worker in seqs.values() for s in worker)
    assert returned == list(range(1, THREADS * PER_THREAD + 1))
    assert all(worker == sorted(worker) for worker in seqs.values())
    assert_complete(steward, THREADS, PER_THREAD)


def process_worker(
    url: str, keystore_url: str, kid: str, secret: bytes, worker: str, barrier: Any
) -> None:
    """Runs in a spawned process: its own engines, keyring and services."""
    engine = make_engine(url)
    keystore_engine = make_engine(keystore_url, secure_delete=True)
    try:
        keyring = Keyring([MasterKey(kid=kid, secret=secret)], kid)
        clock = FixedClock(START)
        store = SqlEngineStore(engine)
        directory = SubjectDirectory(keyring, SqlKeyStore(keystore_engine), clock)
        ledger = ConsentLedger(store, directory, clock)
        barrier.wait(timeout=TIMEOUT)
        append(ledger, store, worker, PER_PROCESS)
    finally:
        engine.dispose()
        keystore_engine.dispose()


def test_processes_append_without_forking_the_chains(
    steward: Steward, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # so spawned processes can import this module
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    (key,) = steward.keyring.keys
    processes = [
        context.Process(
            target=process_worker,
            args=(
                steward.url,
                f"sqlite:///{steward.keystore_path}",
                key.kid,
                key.secret,
                f"p{n}",
                barrier,
            ),
        )
        for n in range(PROCESSES)
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=TIMEOUT)
        assert [p.exitcode for p in processes] == [0] * PROCESSES
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert_complete(steward, PROCESSES, PER_PROCESS)


def test_verification_reads_one_snapshot(steward: Steward) -> None:
    """A verification that runs while events are appended sees the chain as it
    was when it started: head and rows from the same moment, never a false
    alarm about rows beyond the head."""
    steward.give("email:ana@example.lv")
    with steward.store.chain_rows("consent") as (head, rows):
        steward.give("email:bob@example.lv")
        result = verify_chain(rows, head)
    assert result.ok, result.reason
    assert result.checked == 1
    assert verify_store(steward.store)["consent"].checked == 2
