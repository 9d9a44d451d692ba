"""Requests carried out for real: erasure, rectification and restriction
requests run through the request workflow against the generated shop on
SQLite (and PostgreSQL, MariaDB when configured), and the databases are
queried afterwards to prove what happened."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.integration.databases import scratch_database
from typer.testing import CliRunner

from datasteward.cli.main import app
from datasteward.cli.runtime import Runtime
from datasteward.identity import parse_identity
from datasteward.requests.model import RequestState, RequestType
from datasteward.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(
            not os.environ.get("STEWARD_TEST_POSTGRES_URL"), reason="needs PostgreSQL"
        ),
    ),
    pytest.param(
        "mariadb",
        id="mariadb",
        marks=pytest.mark.skipif(
            not os.environ.get("STEWARD_TEST_MARIADB_URL"), reason="needs MariaDB"
        ),
    ),
]
STAFF = "test:staff"


@pytest.fixture(params=BACKENDS)
def shop_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    from datasteward.shop import load

    with scratch_database(request.param, tmp_path, "steward_reqshop") as url:
        load(url, 3_000, replace=True)
        yield url


@pytest.fixture
def rt(shop_url: str, tmp_path: Path) -> Iterator[Runtime]:
    env = {
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_ACTOR": STAFF,
        "SHOP_DATABASE_URL": shop_url,
    }
    runner = CliRunner()
    for args in (["init"], ["policy", "apply", str(EXAMPLE)]):
        result = runner.invoke(app, args, env={**env, "STEWARD_DATABASE_URL": None})
        assert result.exit_code == 0, result.output
    runtime = Runtime(Settings.from_env(env))
    try:
        yield runtime
    finally:
        runtime.close()


def one(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


def customer_with_orders(url: str) -> tuple[int, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT c.id, c.email FROM customers c "
                    "WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) "
                    "AND EXISTS (SELECT 1 FROM newsletter_subscribers n WHERE n.email = c.email) "
                    "ORDER BY c.id"
                )
            ).first()
    finally:
        engine.dispose()
    assert row is not None
    return int(row[0]), str(row[1])


def verified(rt: Runtime, type_: RequestType, email: str, **details: object) -> str:
    request = rt.desk.submit(
        type_, parse_identity(f"email:{email}"), actor=STAFF, details=details or None
    )
    rt.desk.verify_by_staff(request.id, actor=STAFF, reason="customer known at the counter")
    return request.id


def test_erasure_request_keeps_orders_under_the_accounting_law(rt: Runtime, shop_url: str) -> None:
    customer, email = customer_with_orders(shop_url)
    orders = one(shop_url, "SELECT count(*) FROM orders WHERE customer_id = :c", c=customer)
    request_id = verified(rt, RequestType.ERASURE, email)
    plan = rt.work.plan(request_id)
    assert plan["ok"] is True
    done = rt.work.run_request(request_id, actor=STAFF)
    view = rt.desk.show(request_id)
    assert done.state is RequestState.COMPLETED, [t.last_error for t in view.tasks]
    assert one(shop_url, "SELECT count(*) FROM customers WHERE email = :e", e=email) == 0
    assert (
        one(shop_url, "SELECT count(*) FROM newsletter_subscribers WHERE email = :e", e=email) == 0
    )
    # the orders, billing email included, stay: Latvian Accounting Law (11 years)
    kept = one(shop_url, "SELECT count(*) FROM orders WHERE customer_id = :c", c=customer)
    assert kept == orders
    (task,) = view.tasks
    assert task.result["complete"] is True
    (orders_entry,) = [d for d in task.result["datasets"] if d["dataset"] == "orders"]
    assert orders_entry["kept"], "the report names the hold that keeps the orders"
    assert {k["law"] for k in orders_entry["kept"]} == {
        "Latvian Accounting Law (Grāmatvedības likums)"
    }
    with rt.engine.reading() as tx:
        told = tx.audit_entries(action="request.recipients_notified", object_id=request_id)
    assert told and told[0].details["recipients"], "Art. 19: recipients are told"
    again = rt.work.run_request(request_id, actor=STAFF)  # nothing left to do
    assert again.state is RequestState.COMPLETED


def test_rectification_request_writes_the_validated_value(rt: Runtime, shop_url: str) -> None:
    customer, email = customer_with_orders(shop_url)
    with pytest.raises(Exception, match="declared field"):
        verified(rt, RequestType.RECTIFICATION, email, changes={"shop.customers.nick": "x"})
    request_id = verified(
        rt, RequestType.RECTIFICATION, email, changes={"shop.customers.last_name": "Kalniņa"}
    )
    done = rt.work.run_request(request_id, actor=STAFF)
    assert done.state is RequestState.COMPLETED
    last_name = one(shop_url, "SELECT last_name FROM customers WHERE id = :c", c=customer)
    assert last_name == "Kalniņa"


def test_restriction_request_flags_the_rows_and_stops_processing(
    rt: Runtime, shop_url: str
) -> None:
    customer, email = customer_with_orders(shop_url)
    identity = parse_identity(f"email:{email}")
    request_id = verified(rt, RequestType.RESTRICTION, email)
    done = rt.work.run_request(request_id, actor=STAFF)
    assert done.state is RequestState.COMPLETED
    flag = one(shop_url, "SELECT restricted FROM customers WHERE id = :c", c=customer)
    assert bool(flag) is True
    decision = rt.ledger.check(identity, "orders")
    assert not decision.allowed and "restrict" in decision.reason.lower()


def test_the_daily_job_sweeps_retention_and_keeps_house(rt: Runtime, shop_url: str) -> None:
    logs = "SELECT count(*) FROM access_log"
    before = one(shop_url, logs)
    rt.daily(actor="worker:test")
    with rt.engine.reading() as tx:
        actions = {e.action for e in tx.audit_entries(limit=1000)}
    assert "retention.housekeeping" in actions
    assert any(a.startswith("retention.") and a != "retention.housekeeping" for a in actions)
    assert one(shop_url, logs) < before  # the generated log has entries older than a year
