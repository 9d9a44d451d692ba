"""Many senders, one outbox: threads, and separate processes talking to a
real SMTP server, deliver the same queue at once; every message goes out
exactly once. On PostgreSQL a row another transaction holds is skipped
(``FOR UPDATE SKIP LOCKED``), not waited for.

Processes are started with ``spawn`` and build their own engines and
keyring, as separate ``steward outbox send`` runs or workers would."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.integration.conftest import MINIMAL, START, Engines, Steward
from tests.integration.test_outbox_smtp import SmtpServer

from datasteward.clock import FixedClock
from datasteward.crypto import Keyring, MasterKey
from datasteward.notify import messages
from datasteward.notify.fake import RecordingSender
from datasteward.notify.outbox import Outbox
from datasteward.notify.smtp import SmtpSender
from datasteward.policy.loader import parse_policy
from datasteward.store.engine import make_engine
from datasteward.store.sql_store import SqlEngineStore
from datasteward.store.tables import audit_events, outbox

ROOT = Path(__file__).resolve().parents[2]
THREADS = 4
MESSAGES = 120
PROCESSES = 2
PROCESS_MESSAGES = 40
TIMEOUT = 120


def fill(steward: Steward, box: Outbox, count: int) -> set[str]:
    policy = parse_policy(MINIMAL.read_text(encoding="utf-8"), str(MINIMAL)).policy
    ids = set()
    with steward.store.transaction() as tx:
        for n in range(count):
            message = messages.verification_code(
                policy,
                to=f"pircejs{n}@example.lv",
                request_id=f"req-{n}",
                code=f"{n:06d}",
                expires_at=START + timedelta(hours=1),
            )
            ids.add(box.add(tx, message))
    return ids


def statuses(steward: Steward) -> Counter[tuple[str, int]]:
    with steward.engine.connect() as connection:
        rows = connection.execute(select(outbox.c.status, outbox.c.attempts))
        return Counter((r.status, r.attempts) for r in rows)


def sent_audits(steward: Steward) -> list[str]:
    with steward.engine.connect() as connection:
        return list(
            connection.execute(
                select(audit_events.c.object_id).where(audit_events.c.action == "outbox.sent")
            ).scalars()
        )


def test_threads_never_send_a_message_twice(steward: Steward, engines: Engines) -> None:
    sender = RecordingSender()
    ids = fill(steward, Outbox(steward.store, steward.keyring, steward.clock, {}), MESSAGES)
    barrier = threading.Barrier(THREADS)
    errors: list[str] = []
    sent_per_thread: dict[int, int] = {}

    def run(number: int) -> None:
        try:
            store = SqlEngineStore(engines.make(steward.url))  # a connection pool each
            box = Outbox(store, steward.keyring, FixedClock(START), {"email": sender})
            barrier.wait(timeout=TIMEOUT)
            total = 0
            while True:
                report = box.deliver_due(limit=7)
                total += report.sent
                if not report.results:
                    break
            sent_per_thread[number] = total
        except Exception:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    delivered = sender.ids()
    assert len(delivered) == MESSAGES == len(set(delivered))
    assert set(delivered) == ids
    assert sum(sent_per_thread.values()) == MESSAGES
    assert statuses(steward) == Counter({("sent", 1): MESSAGES})
    assert sorted(sent_audits(steward)) == sorted(ids)


def process_sender(url: str, kid: str, secret: bytes, smtp_url: str, barrier: Any) -> None:
    """Runs in a spawned process: its own engine, keyring and SMTP sender."""
    engine = make_engine(url)
    try:
        keyring = Keyring([MasterKey(kid=kid, secret=secret)], kid)
        sender = SmtpSender(smtp_url, "privacy@zala-plava.example", timeout=10)
        box = Outbox(SqlEngineStore(engine), keyring, FixedClock(START), {"email": sender})
        barrier.wait(timeout=TIMEOUT)
        while box.deliver_due(limit=5).results:
            pass
    finally:
        engine.dispose()


def test_processes_never_send_a_message_twice(
    steward: Steward, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # so spawned processes can import this module
    ids = fill(steward, Outbox(steward.store, steward.keyring, steward.clock, {}), PROCESS_MESSAGES)
    server = SmtpServer()
    server.start()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    (key,) = steward.keyring.keys
    processes = [
        context.Process(
            target=process_sender, args=(steward.url, key.kid, key.secret, server.url, barrier)
        )
        for _ in range(PROCESSES)
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
        server.stop()
    delivered = [r.message["X-Steward-Delivery"] for r in server.received]
    assert len(delivered) == PROCESS_MESSAGES == len(set(delivered))
    assert set(delivered) == ids
    assert statuses(steward) == Counter({("sent", 1): PROCESS_MESSAGES})


def test_postgres_skips_a_row_another_transaction_holds(steward: Steward) -> None:
    if steward.backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers instead")
    sender = RecordingSender()
    # a lock wait would fail after 5 s instead of hanging the test
    impatient = make_engine(steward.url, connect_args={"options": "-c lock_timeout=5000"})
    try:
        box = Outbox(SqlEngineStore(impatient), steward.keyring, steward.clock, {"email": sender})
        ids = fill(steward, box, 3)
        with steward.engine.connect() as holder, holder.begin():
            oldest = holder.execute(
                select(outbox.c.id)
                .order_by(outbox.c.next_attempt_at, outbox.c.created_at, outbox.c.id)
                .limit(1)
                .with_for_update()
            ).scalar_one()
            report = box.deliver_due()
            assert report.sent == 2
            assert oldest not in sender.ids()
        assert box.deliver_due().sent == 1  # released: now it goes
        assert set(sender.ids()) == ids
    finally:
        impatient.dispose()
