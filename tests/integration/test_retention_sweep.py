"""Retention sweeps on the generated shop, on SQLite, PostgreSQL and MariaDB,
with a FixedClock moved to each side of every boundary: a row the day before
its period ends is kept, the day after it is deleted or anonymised, and a
row under a hold or suspension is kept with the reason in the plan. Each
assertion queries the database itself.

SQLite always runs; PostgreSQL and MariaDB when ``STEWARD_TEST_POSTGRES_URL``
and ``STEWARD_TEST_MARIADB_URL`` are set (databases ``ret_t_<hex>``, dropped
afterwards). The engine store is SQLite (its own backends are tested
elsewhere)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, insert, select, text, update
from tests.integration.conftest import Engines, Steward, build_steward
from tests.integration.databases import scratch_database

from datasteward.connectors import SqlConnector
from datasteward.fulfilment.columns import ColumnKind
from datasteward.fulfilment.operators import TruncateIp
from datasteward.fulfilment.service import erasure_hash_key
from datasteward.identity import parse_identity
from datasteward.legaltime.instants import format_time
from datasteward.policy.model import Policy
from datasteward.retention import RetentionPlan, Sweeper, SweepReport, plan_retention
from datasteward.retention.engine_store import SqlSubjectHolds, SqlSweepProgress
from datasteward.retention.sql import SqlRetentionBackend
from datasteward.shop import load, shop_engine
from datasteward.shop.schema import shop_table
from datasteward.store.tables import requests, restrictions

ROOT = Path(__file__).resolve().parents[2]
POLICY_DATA = yaml.safe_load((ROOT / "examples" / "shop" / "policy.yaml").read_text("utf-8"))
ROWS = 5_000
SEED = 5
T0 = datetime(2026, 6, 10, 12, 0)
"""The anchor of the rows each test watches (naive UTC, as the shop stores times)."""
DAY = timedelta(days=1)
BACKENDS = ["sqlite", "postgresql", "mariadb"]


def shop_policy(
    rules: set[str] | None = None, edit: Callable[[dict[str, Any]], None] | None = None
) -> Policy:
    """The example shop's policy, keeping only ``rules``, edited."""
    data = copy.deepcopy(POLICY_DATA)
    if rules is not None:
        data["retention_rules"] = [r for r in data["retention_rules"] if r["id"] in rules]
    if edit is not None:
        edit(data)
    return Policy.model_validate(data)


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("ret"), "ret_t") as url:
        yield url


@dataclass
class Shop:
    """A freshly loaded shop and the engine's services around it."""

    url: str
    engine: Engine
    steward: Steward

    def sweep(self, policy: Policy, **kwargs: Any) -> SweepReport:
        backend = SqlRetentionBackend(policy, lambda system: SqlConnector(system, self.url))
        try:
            return self.sweeper(policy, backend, **kwargs.pop("sweeper", {})).run(**kwargs)
        finally:
            backend.close()

    def sweeper(self, policy: Policy, backend: Any, **kwargs: Any) -> Sweeper:
        steward = self.steward
        return Sweeper(
            policy,
            backend=backend,
            progress=SqlSweepProgress(steward.store),
            subjects=SqlSubjectHolds(steward.store, steward.directory),
            clock=steward.clock,
            hash_key=erasure_hash_key(steward.keyring),
            actor="test:retention",
            **kwargs,
        )

    def plan(self, policy: Policy) -> RetentionPlan:
        backend = SqlRetentionBackend(policy, lambda system: SqlConnector(system, self.url))
        try:
            return plan_retention(
                policy,
                backend,
                SqlSubjectHolds(self.steward.store, self.steward.directory),
                at=self.steward.clock.now(),
                hash_key=erasure_hash_key(self.steward.keyring),
            )
        finally:
            backend.close()

    def at(self, moment: datetime) -> None:
        self.steward.clock.set(aware(moment))

    def one(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one_or_none()

    def row(self, table: str, row_id: int) -> dict[str, Any] | None:
        t = shop_table(table)
        with self.engine.connect() as connection:
            found = connection.execute(select(t).where(t.c.id == row_id)).first()
        return None if found is None else dict(found._mapping)

    def set(self, table: str, row_id: int, **values: Any) -> None:
        t = shop_table(table)
        with self.engine.begin() as connection:
            connection.execute(update(t).where(t.c.id == row_id).values(**values))

    def first_id(self, table: str, where: str = "1 = 1") -> int:
        found = self.one(f"SELECT MIN(id) FROM {table} WHERE {where}")
        assert found is not None, f"no {table} row where {where}"
        return int(found)

    def count(self, table: str, where: str = "1 = 1", **params: Any) -> int:
        return int(self.one(f"SELECT COUNT(*) FROM {table} WHERE {where}", **params))


@pytest.fixture
def shop(database: str, engines: Engines, tmp_path: Path) -> Iterator[Shop]:
    load(database, ROWS, seed=SEED, replace=True)
    engine = shop_engine(database)
    steward = build_steward(f"sqlite:///{tmp_path / 'engine.sqlite'}", engines, tmp_path)
    try:
        yield Shop(database, engine, steward)
    finally:
        engine.dispose()


def plan_unit(plan: RetentionPlan, rule: str, dataset: str) -> Any:
    return next(u for u in plan.units if u.unit.rule_id == rule and u.unit.dataset == dataset)


def held_rows(plan: RetentionPlan, rule: str, dataset: str, label: str) -> int:
    entry = plan_unit(plan, rule, dataset)
    rows = [h.rows for h in entry.held if h.label == label]
    assert rows, f"no check labelled {label!r}: {[h.label for h in entry.held]}"
    return int(rows[0] or 0)


# -- the access log: IP addresses shortened after 7 days, rows deleted after a year ------------


def test_access_log_ips_are_shortened_after_seven_days_and_rows_deleted_after_a_year(
    shop: Shop,
) -> None:
    policy = shop_policy({"access-log-ip-7d", "access-log-1y"})
    v4 = shop.first_id("access_log")
    v6 = shop.first_id("access_log", f"id > {v4}")
    shop.set("access_log", v4, occurred_at=T0, ip_address="203.0.113.77")
    shop.set("access_log", v6, occurred_at=T0, ip_address="2001:db8:1:2::5")
    before = _ips(shop)

    shop.at(T0 + 7 * DAY - DAY)
    assert shop.sweep(policy).complete
    assert shop.row("access_log", v4)["ip_address"] == "203.0.113.77"  # type: ignore[index]
    assert shop.row("access_log", v6)["ip_address"] == "2001:db8:1:2::5"  # type: ignore[index]

    shop.at(T0 + 7 * DAY + DAY)
    report = shop.sweep(policy, batch_size=97)
    assert report.complete
    assert shop.row("access_log", v4)["ip_address"] == "203.0.113.0"  # type: ignore[index]
    assert shop.row("access_log", v6)["ip_address"] == "2001:db8:1::"  # type: ignore[index]
    # every address past the period is exactly what the operator makes of it
    # (IPv4 shortened in SQL, IPv6 in Python), and nothing newer was touched
    boundary = T0 + DAY
    expired = T0 + 8 * DAY - 365 * DAY  # the log's own year ran out before this
    after = _ips(shop)
    operator = TruncateIp("ip_address")
    with SqlConnector(policy.systems[0], shop.url) as connector:
        info = connector.columns("access_log")["ip_address"]
    for row_id, (occurred, ip) in before.items():
        if row_id not in after:
            assert occurred <= expired, row_id
            continue
        expected = operator.operate(ip, info) if occurred <= boundary else ip
        assert after[row_id][1] == expected, row_id

    shop.at(T0 + 365 * DAY - DAY)
    assert shop.sweep(policy).complete
    assert shop.row("access_log", v4) is not None

    shop.at(T0 + 365 * DAY + DAY)
    assert shop.sweep(policy).complete
    assert shop.row("access_log", v4) is None and shop.row("access_log", v6) is None
    assert shop.count("access_log", "occurred_at <= :t", t=T0 + DAY) == 0
    assert shop.count("access_log", "occurred_at > :t", t=T0 + DAY) > 0


def _ips(shop: Shop) -> dict[int, tuple[datetime, str]]:
    t = shop_table("access_log")
    with shop.engine.connect() as connection:
        rows = connection.execute(select(t.c.id, t.c.occurred_at, t.c.ip_address))
        return {r.id: (r.occurred_at, r.ip_address) for r in rows}


# -- contact form: messages deleted once resolved, the IP address after a year -----------------


def test_contact_messages_go_a_day_after_resolution_and_their_ip_after_a_year(shop: Shop) -> None:
    policy = shop_policy({"contact-messages-resolved", "contact-metadata-1y"})
    resolved = shop.first_id("contact_messages")
    open_ = shop.first_id("contact_messages", f"id > {resolved}")
    shop.set("contact_messages", resolved, created_at=T0 - 5 * DAY, resolved_at=T0)
    shop.set("contact_messages", open_, created_at=T0, resolved_at=None, ip_address="198.51.100.23")

    shop.at(T0 + DAY - DAY)
    shop.sweep(policy)
    assert shop.row("contact_messages", resolved) is not None
    shop.at(T0 + DAY + DAY)
    shop.sweep(policy)
    assert shop.row("contact_messages", resolved) is None
    assert shop.count("contact_messages", "resolved_at <= :t", t=T0 + DAY) == 0

    shop.at(T0 + 365 * DAY - DAY)
    shop.sweep(policy)
    assert shop.row("contact_messages", open_)["ip_address"] == "198.51.100.23"  # type: ignore[index]
    shop.at(T0 + 365 * DAY + DAY)
    shop.sweep(policy)
    kept = shop.row("contact_messages", open_)
    assert kept is not None and kept["ip_address"] == "198.51.100.0"
    assert kept["message"] is not None  # only the listed field changes


# -- newsletter: the subscription a month after unsubscribing, tracking events after a year ----


def test_unsubscribed_records_go_with_their_events_and_events_after_a_year(shop: Shop) -> None:
    policy = shop_policy({"newsletter-unsubscribed", "newsletter-events-1y"})
    subscriber = shop.first_id(
        "newsletter_subscribers", "id IN (SELECT subscriber_id FROM newsletter_events)"
    )
    other = shop.first_id(
        "newsletter_subscribers",
        f"id <> {subscriber} AND id IN (SELECT subscriber_id FROM newsletter_events)",
    )
    shop.set("newsletter_subscribers", subscriber, unsubscribed_at=T0)
    shop.set("newsletter_subscribers", other, unsubscribed_at=None)
    young = shop.first_id("newsletter_events", f"subscriber_id = {subscriber}")
    shop.set("newsletter_events", young, occurred_at=T0 - 10 * DAY)
    old = shop.first_id("newsletter_events", f"subscriber_id = {other}")
    shop.set("newsletter_events", old, occurred_at=T0)

    shop.at(T0 + 30 * DAY - DAY)  # one month after 10 June is 10 July
    shop.sweep(policy)
    assert shop.row("newsletter_subscribers", subscriber) is not None
    assert shop.row("newsletter_events", young) is not None
    shop.at(T0 + 30 * DAY + DAY)
    report = shop.sweep(policy)
    assert shop.row("newsletter_subscribers", subscriber) is None
    # its events go first, however young: nothing may point at a deleted row
    assert shop.count("newsletter_events", f"subscriber_id = {subscriber}") == 0
    unit = next(u for u in report.units if u.unit.dataset == "newsletter_subscribers")
    assert unit.children.get("newsletter_events", 0) >= 1

    shop.at(T0 + 365 * DAY - DAY)
    shop.sweep(policy)
    assert shop.row("newsletter_events", old) is not None
    shop.at(T0 + 365 * DAY + DAY)
    shop.sweep(policy)
    assert shop.row("newsletter_events", old) is None
    assert shop.row("newsletter_subscribers", other) is not None


# -- marketplace sellers: everything three months after the account closes ---------------------


def test_sellers_and_their_documents_go_three_months_after_closing(shop: Shop) -> None:
    policy = shop_policy({"sellers-closed-3m"})
    seller = shop.first_id("sellers")
    assert shop.count("seller_documents", f"seller_id = {seller}") > 0
    shop.set("sellers", seller, closed_at=T0)
    shop.at(datetime(2026, 9, 10, 12, 0) - DAY)
    shop.sweep(policy)
    assert shop.row("sellers", seller) is not None
    shop.at(datetime(2026, 9, 10, 12, 0) + DAY)
    shop.sweep(policy)
    assert shop.row("sellers", seller) is None
    assert shop.count("seller_documents", f"seller_id = {seller}") == 0


# -- closed customer accounts: anonymised after a month, unless restricted or asked about ------


def test_closed_accounts_are_anonymised_unless_restricted_or_under_an_open_request(
    shop: Shop,
) -> None:
    policy = shop_policy({"customer-accounts-closed"})
    ids = [
        int(i)
        for i in _column(
            shop,
            "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM addresses) ORDER BY id",
        )[:4]
    ]
    plain, flagged, asked, restricted = ids
    emails = {i: shop.row("customers", i)["email"] for i in ids}  # type: ignore[index]
    for customer in ids:
        shop.set("customers", customer, closed_at=T0, restricted=customer == flagged)
    _open_request(shop.steward, emails[asked])
    restriction = _restrict(shop.steward, emails[restricted])

    shop.at(T0 + 30 * DAY - DAY)
    shop.sweep(policy)
    assert shop.row("customers", plain)["email"] == emails[plain]  # type: ignore[index]

    shop.at(T0 + 30 * DAY + DAY)
    plan = shop.plan(policy)
    assert held_rows(plan, "customer-accounts-closed", "customers", "restriction flag") >= 1
    assert held_rows(plan, "customer-accounts-closed", "customers", "open request") == 1
    assert held_rows(plan, "customer-accounts-closed", "customers", "restriction") == 1
    assert held_rows(plan, "customer-accounts-closed", "addresses", "open request") >= 1
    assert plan.subjects == {"open_request": 1, "restriction": 1}
    text_ = json.dumps(plan.to_dict())
    assert all(email not in text_ for email in emails.values())

    report = shop.sweep(policy)
    assert report.complete
    gone = shop.row("customers", plain)
    assert gone is not None
    assert gone["email"] != emails[plain] and len(gone["email"]) == 64
    assert gone["first_name"] is None and gone["last_name"] is None and gone["phone"] is None
    assert shop.count("addresses", f"customer_id = {plain}") == 0
    assert shop.count("orders", f"customer_id = {plain}") > 0  # the accounting law's business
    for kept in (flagged, asked, restricted):
        row = shop.row("customers", kept)
        assert row is not None and row["email"] == emails[kept] and row["first_name"] is not None
        assert shop.count("addresses", f"customer_id = {kept}") > 0

    # the request is closed and the restriction lifted: the next sweep ends them too
    _close_requests(shop.steward)
    _lift(shop.steward, restriction)
    shop.at(T0 + 30 * DAY + 2 * DAY)
    shop.sweep(policy)
    for customer in (asked, restricted):
        assert len(shop.row("customers", customer)["email"]) == 64  # type: ignore[index]
    assert shop.row("customers", flagged)["email"] == emails[flagged]  # type: ignore[index]


def _column(shop: Shop, sql: str) -> list[Any]:
    with shop.engine.connect() as connection:
        return list(connection.execute(text(sql)).scalars())


def _subject(steward: Steward, email: str) -> str:
    with steward.store.transaction() as tx:
        subject_id, _ = steward.directory.resolve(
            tx, parse_identity(f"email:{email}"), actor="test:desk"
        )
    return subject_id


def _open_request(steward: Steward, email: str) -> None:
    subject_id = _subject(steward, email)
    now = format_time(steward.clock.now())
    with steward.engine.begin() as connection:
        connection.execute(
            insert(requests).values(
                id=str(uuid.uuid4()),
                type="erasure",
                state="in_progress",
                subject_id=subject_id,
                identity_kind="email",
                channel="email",
                received_at=now,
                due_date=date(2027, 1, 1),
                assurance="email_code",
                flags="{}",
                created_by="test:desk",
                updated_at=now,
                version=1,
            )
        )


def _close_requests(steward: Steward) -> None:
    with steward.engine.begin() as connection:
        connection.execute(update(requests).values(state="completed"))


def _restrict(steward: Steward, email: str) -> str:
    subject_id = _subject(steward, email)
    restriction = str(uuid.uuid4())
    with steward.engine.begin() as connection:
        connection.execute(
            insert(restrictions).values(
                id=restriction, subject_id=subject_id, since=format_time(aware(T0))
            )
        )
    return restriction


def _lift(steward: Steward, restriction: str) -> None:
    with steward.engine.begin() as connection:
        connection.execute(
            update(restrictions)
            .where(restrictions.c.id == restriction)
            .values(lifted_at=format_time(steward.clock.now()))
        )


# -- orders: eleven years, the accounting law's hold, pending proceedings ----------------------


def test_orders_are_kept_while_pending_proceedings_cannot_be_checked(shop: Shop) -> None:
    policy = shop_policy({"order-records-11y"})
    order = shop.first_id("orders", "id IN (SELECT order_id FROM order_items)")
    shop.set("orders", order, created_at=datetime(2014, 5, 1))
    shop.at(datetime(2026, 11, 1))
    plan = shop.plan(policy)
    assert plan.ok  # kept on purpose, with the reason: not a problem of the plan
    entry = plan_unit(plan, "order-records-11y", "orders")
    assert entry.rows_due == 0 and (entry.rows_held or 0) >= 1
    assert held_rows(plan, "order-records-11y", "orders", "pending proceedings") >= 1
    assert any("suspend_column" in h.reason for h in entry.held)
    shop.sweep(policy)
    assert shop.row("orders", order) is not None


def _with_proceedings(hold: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        rule = next(r for r in data["retention_rules"] if r["id"] == "order-records-11y")
        rule["suspend_column"] = "proceedings_pending"
        data["legal_holds"][0]["period"] = hold

    return edit


def _add_flag(shop: Shop) -> None:
    with shop.engine.begin() as connection:
        connection.exec_driver_sql(
            "ALTER TABLE orders ADD COLUMN proceedings_pending BOOLEAN NOT NULL DEFAULT FALSE"
        )


def test_orders_go_after_eleven_years_unless_proceedings_are_pending(shop: Shop) -> None:
    _add_flag(shop)
    policy = shop_policy({"order-records-11y"}, _with_proceedings("P5Y"))
    due, disputed, boundary = (
        int(i)
        for i in _column(
            shop, "SELECT id FROM orders WHERE id IN (SELECT order_id FROM payments) ORDER BY id"
        )[:3]
    )
    shop.set("orders", due, created_at=datetime(2014, 5, 1))
    shop.set("orders", disputed, created_at=datetime(2014, 5, 1))
    with shop.engine.begin() as connection:
        connection.execute(
            text("UPDATE orders SET proceedings_pending = :yes WHERE id = :id"),
            {"yes": True, "id": disputed},
        )
    shop.set("orders", boundary, created_at=datetime(2015, 10, 20, 12, 0))
    items = shop.count("order_items", f"order_id = {due}")
    assert items > 0

    shop.at(datetime(2026, 10, 20, 12, 0) - DAY)
    plan = shop.plan(policy)
    assert held_rows(plan, "order-records-11y", "orders", "pending proceedings") == 1
    shop.sweep(policy)
    assert shop.row("orders", due) is None
    assert shop.count("order_items", f"order_id = {due}") == 0
    assert shop.count("payments", f"order_id = {due}") == 0
    assert shop.row("orders", disputed) is not None
    assert shop.count("order_items", f"order_id = {disputed}") > 0
    assert shop.row("orders", boundary) is not None

    shop.at(datetime(2026, 10, 20, 12, 0) + DAY)
    shop.sweep(policy)
    assert shop.row("orders", boundary) is None
    assert shop.row("orders", disputed) is not None
    assert (
        shop.count(
            "orders",
            "created_at <= :t AND proceedings_pending = :no",
            t=datetime(2015, 10, 21),
            no=False,
        )
        == 0
    )


def test_the_accounting_law_keeps_orders_until_its_own_period_ends(shop: Shop) -> None:
    _add_flag(shop)
    policy = shop_policy({"order-records-11y"}, _with_proceedings("P12Y"))
    released, held = (int(i) for i in _column(shop, "SELECT id FROM orders ORDER BY id")[:2])
    shop.set("orders", released, created_at=datetime(2014, 5, 1))
    shop.set("orders", held, created_at=datetime(2015, 3, 1))
    held_items = shop.count("order_items", f"order_id = {held}")
    shop.at(datetime(2026, 11, 1))
    plan = shop.plan(policy)
    entry = plan_unit(plan, "order-records-11y", "orders")
    law = next(h for h in entry.held if h.kind == "legal_hold")
    assert law.rows is not None and law.rows >= 1
    assert "Latvian Accounting Law" in law.reason and "12 years" in law.reason
    items = plan_unit(plan, "order-records-11y", "order_items")
    assert any(h.kind == "legal_hold" and (h.rows or 0) >= 1 for h in items.held)

    shop.sweep(policy)
    assert shop.row("orders", released) is None
    assert shop.row("orders", held) is not None
    assert shop.count("order_items", f"order_id = {held}") == held_items
    assert shop.count("orders", "created_at <= :old", old=datetime(2014, 11, 1)) == 0


def test_the_plan_writes_nothing_and_shows_statements_without_values(shop: Shop) -> None:
    policy = shop_policy()
    shop.at(datetime(2026, 11, 1))
    before = _counts(shop)
    plan = shop.plan(policy)
    assert _counts(shop) == before
    assert shop.steward.count("sweep_progress") == 0
    document = json.dumps(plan.to_dict())
    assert "2015-11-01" in document  # the cutoff is shown as such...
    for entry in plan.units:
        assert entry.statements, entry.unit.rule_id
        for statement in entry.statements:
            if "by key" not in statement.label:
                assert ":cutoff" in statement.sql, statement
            assert "2015-11-01" not in statement.sql  # ...but never bound into SQL text
    # due: exactly the rows whose address the operator would still change
    ip = plan_unit(plan, "access-log-ip-7d", "access_log")
    with SqlConnector(policy.systems[0], shop.url) as connector:
        info = connector.columns("access_log")["ip_address"]
    operator = TruncateIp("ip_address")
    expected = sum(
        1
        for occurred, address in _ips(shop).values()
        if occurred <= datetime(2026, 10, 25) and operator.operate(address, info) != address
    )
    assert ip.rows_due == expected > 0


def _counts(shop: Shop) -> dict[str, int]:
    return {t: shop.count(t) for t in ("access_log", "orders", "customers", "contact_messages")}


def test_every_batch_is_audited_with_counts_only(shop: Shop) -> None:
    policy = shop_policy({"access-log-ip-7d", "contact-metadata-1y"})
    shop.at(datetime(2026, 11, 1))
    sample = str(
        shop.one(
            "SELECT ip_address FROM access_log WHERE occurred_at < :t ORDER BY id LIMIT 1",
            t=datetime(2026, 10, 1),
        )
    )
    report = shop.sweep(policy, batch_size=200)
    with shop.steward.store.reading() as tx:
        events = tx.audit_entries(action="retention.anonymise", limit=100)
    assert {e.object_id for e in events} == {"access-log-ip-7d", "contact-metadata-1y"}
    done = next(u for u in report.units if u.unit.rule_id == "access-log-ip-7d")
    assert sum(e.details["rows"] for e in events if e.object_id == "access-log-ip-7d") == (
        done.rows_done
    )
    assert sample not in json.dumps([dict(e.details) for e in events])
    assert shop.steward.count("sweep_progress") == 2


def test_a_column_the_database_lacks_fails_its_unit_and_not_the_run(shop: Shop) -> None:
    policy = shop_policy({"access-log-1y", "contact-metadata-1y"})
    shop.at(datetime(2026, 11, 1))
    backend = SqlRetentionBackend(policy, lambda system: SqlConnector(system, shop.url))
    schema = backend.schema()
    assert schema["shop"]["access_log"]["occurred_at"].kind is ColumnKind.DATETIME
    with shop.engine.begin() as connection:  # the table changes after the plan was made
        connection.exec_driver_sql("DROP TABLE contact_messages")
    try:
        report = shop.sweeper(policy, backend).run()
    finally:
        backend.close()
    states = {u.unit.rule_id: u.state for u in report.units}
    assert states == {"access-log-1y": "done", "contact-metadata-1y": "failed"}
    assert not report.complete
    failed = next(u for u in report.units if u.state == "failed")
    assert failed.error is not None and "contact_messages" in failed.error
    assert shop.count("access_log", "occurred_at <= :t", t=datetime(2025, 11, 1)) == 0
