"""Engine store connections: a PostgreSQL connection that died while idle in
the pool (server restart, idle timeout) is replaced before use, without the
round trip ``pool_pre_ping`` would spend on every checkout; one lost under a
statement is thrown away; statements run on the driver's cursor stay inside
the caller's transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from tests.integration.conftest import START, Engines

from datasteward.consent.model import SubjectFacts
from datasteward.errors import StoreError
from datasteward.store import chains, migrate
from datasteward.store import engine as store_engine
from datasteward.store.sql_store import SqlEngineStore, SqlTx


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def kill(engines: Engines, url: str, pid: int) -> None:
    with engines.make(url).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_connection_killed_while_idle_is_replaced(
    store_url: str, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite connections do not go away")
    engine = engines.make(store_url)
    pid = backend_pid(engine)
    kill(engines, store_url, pid)
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_S", 0.0)
    assert backend_pid(engine) != pid  # pinged, found dead, replaced: no error


def test_a_recently_used_connection_is_not_pinged(
    store_url: str, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked out again soon after use, a connection goes straight to work
    (no ping round trip): killed in between, the first statement meets the
    dead connection, and the pool recovers on the next checkout."""
    if store_url.startswith("sqlite"):
        pytest.skip("only PostgreSQL connections are pinged")
    engine = engines.make(store_url)
    pid = backend_pid(engine)
    kill(engines, store_url, pid)
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_S", 3600.0)
    with pytest.raises(DBAPIError) as caught:
        backend_pid(engine)
    assert caught.value.connection_invalidated
    assert backend_pid(engine) != pid


def test_a_connection_lost_under_a_prepared_statement_is_discarded(
    store_url: str, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements the store runs on the driver's cursor report a lost
    connection as a store error and throw the connection away, as
    SQLAlchemy does for its own: the next call gets a live one."""
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite connections do not go away")
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_S", 3600.0)
    engine = engines.make(store_url)
    migrate.upgrade(engine)
    store = SqlEngineStore(engine)
    subject = str(uuid.uuid4())

    kill(engines, store_url, backend_pid(engine))
    with pytest.raises(StoreError, match="engine store error"):
        store.decision_facts(subject, "newsletter", START)
    assert store.decision_facts(subject, "newsletter", START) == (None, SubjectFacts())

    kill(engines, store_url, backend_pid(engine))
    with pytest.raises(StoreError, match="engine store error"), store.reading() as tx:
        tx.active_policy_key()
    with store.reading() as tx:
        assert tx.active_policy_key() is None


def test_statements_on_a_fresh_connection_run_in_its_transaction(
    store_url: str, engines: Engines
) -> None:
    """``SqlTx`` over a connection nothing ran on yet: its statements begin
    the transaction as SQLAlchemy's first statement would, so rolling the
    connection back takes the appended audit event and the head move back."""
    engine = engines.make(store_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        tx = SqlTx(connection)
        assert (
            tx.audit(
                at=START,
                actor="test",
                action="test.event",
                object_type="store",
                object_id="x",
                reason="inside a transaction",
                policy_version=None,
            )
            == 1
        )
        assert connection.in_transaction()
        connection.rollback()
    with SqlEngineStore(engine).reading() as reading:
        assert reading.audit_entries(action="test.event") == []
        assert chains.read_head(reading.connection, chains.AUDIT).seq == 0
