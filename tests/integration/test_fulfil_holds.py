"""Legal holds end per row, proven in the database: a customer's orders from
the last five years stay under the Latvian Accounting Law (with their items
and payments, reported with the last day of the hold), older orders go like
any other data, and the customer's newsletter subscription, its tracking
events and their contact message are gone, while nobody else's rows change.

Every expectation is computed here independently of the engine (plain SQL,
and the calendar worked out with ``calendar.monthrange``). SQLite always
runs; PostgreSQL and MariaDB when their URLs are set."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.integration import fulfil_helpers as h
from tests.integration.databases import scratch_database

from datasteward.connectors import SqlConnector
from datasteward.crypto import Keyring, MasterKey
from datasteward.fulfilment.operators import KeyedHash
from datasteward.fulfilment.service import erasure_hash_key
from datasteward.policy import load_policy_file
from datasteward.shop import load

ROWS = 20_000
TODAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RIGA = ZoneInfo("Europe/Riga")

# An open account with orders on both sides of the five-year line and a
# newsletter subscription with tracked opens and clicks.
SUBJECT = """
    SELECT c.email FROM customers c
    WHERE c.closed_at IS NULL
      AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id
                  AND o.created_at < '2021-06-01')
      AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id
                  AND o.created_at > '2022-06-01')
      AND EXISTS (SELECT 1 FROM newsletter_subscribers s
                  JOIN newsletter_events e ON e.subscriber_id = s.id
                  WHERE s.customer_id = c.id)
    ORDER BY c.id"""


@pytest.fixture(params=h.BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with scratch_database(request.param, tmp_path, "hold_t") as url:
        load(url, ROWS, seed=7, replace=True)
        yield url


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _last_day(created: datetime) -> date:
    """Five years after the order's day in Riga, the last day kept."""
    day = created.replace(tzinfo=UTC).astimezone(RIGA).date()
    year = day.year + 5
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def test_orders_under_the_accounting_law_stay_and_everything_else_goes(
    shop: str, tmp_path: Path
) -> None:
    url = shop
    address = str(h.query(url, SUBJECT)[0][0])
    cid = h.customer_id(url, address)
    # the customer wrote to us once too
    h.execute(
        url,
        "INSERT INTO contact_messages (email, name, message, ip_address, created_at) "
        "VALUES (:e, :n, :m, :ip, :at)",
        e=address,
        n="Inese Kalniņa",
        m="Kad tiks piegādāts mans pasūtījums?",
        ip="203.0.113.77",
        at=datetime(2026, 10, 1, 12, 0),
    )
    mine = h.subject_ids(url, address)
    assert mine["contact_messages"] and mine["newsletter_events"]
    before = h.others_checksum(url, mine)
    orders = {
        int(i): _last_day(_moment(at))
        for i, at in h.query(url, "SELECT id, created_at FROM orders WHERE customer_id = :c", c=cid)
    }
    today = TODAY.astimezone(RIGA).date()
    held = {i for i, last in orders.items() if last >= today}
    released = set(orders) - held
    assert held and released
    items_before = h.query(
        url,
        "SELECT * FROM order_items WHERE order_id IN (SELECT id FROM orders "
        "WHERE customer_id = :c) ORDER BY id",
        c=cid,
    )
    kept_items = [r for r in items_before if int(r[1]) in held]
    payments_before = h.query(
        url,
        "SELECT * FROM payments WHERE order_id IN (SELECT id FROM orders "
        "WHERE customer_id = :c) ORDER BY id",
        c=cid,
    )
    kept_payments = [r for r in payments_before if int(r[1]) in held]

    key = MasterKey.generate()
    keyring = Keyring([key], key.kid)
    policy = load_policy_file(h.POLICY_FILE).policy
    with h.service(url, policy, keyring, tmp_path, TODAY) as service:
        report = service.erase([h.email(address)])
    assert report.complete, report.reasons

    # the orders still under the hold stay, untouched; the older ones are gone
    remaining = h.query(url, "SELECT id, billing_email FROM orders WHERE customer_id = :c", c=cid)
    assert {int(r[0]) for r in remaining} == held
    assert {r[1] for r in remaining} == {address}  # kept as it is, under the hold
    after_items = h.query(
        url,
        "SELECT * FROM order_items WHERE order_id IN (SELECT id FROM orders "
        "WHERE customer_id = :c) ORDER BY id",
        c=cid,
    )
    assert after_items == kept_items
    ids = ",".join(str(i) for i in mine["order_items"])
    assert h.query(url, f"SELECT COUNT(*) FROM order_items WHERE id IN ({ids})") == [
        (len(kept_items),)
    ]
    after_payments = h.query(
        url,
        "SELECT * FROM payments WHERE order_id IN (SELECT id FROM orders "
        "WHERE customer_id = :c) ORDER BY id",
        c=cid,
    )
    assert after_payments == kept_payments

    # the report says how many rows the hold keeps, until when, and how many went
    entries = {d.dataset: d for d in report.datasets}
    (orders_held,) = entries["orders"].held
    assert (orders_held.rows_kept, orders_held.rows_released) == (len(held), len(released))
    assert orders_held.kept_from == min(orders[i] for i in held)
    assert orders_held.kept_until == max(orders[i] for i in held)
    assert entries["orders"].rows_deleted == len(released)
    (items_held,) = entries["order_items"].held
    assert items_held.rows_kept == len(kept_items)
    assert items_held.kept_until == orders_held.kept_until
    as_dict = report.to_dict()
    orders_dict = next(d for d in as_dict["datasets"] if d["dataset"] == "orders")  # type: ignore[union-attr]
    assert orders_dict["held_rows"][0]["kept_until"] == orders_held.kept_until.isoformat()  # type: ignore[union-attr]

    # the subscription, its events and the message: nothing personal is left
    for table in ("newsletter_subscribers", "newsletter_events", "addresses"):
        found = ",".join(str(i) for i in mine[table]) or "-1"
        assert h.query(url, f"SELECT COUNT(*) FROM {table} WHERE id IN ({found})") == [(0,)]
    messages = ",".join(str(i) for i in mine["contact_messages"])
    hashed = KeyedHash("email", erasure_hash_key(keyring))
    for email_value, name, message, ip in h.query(
        url,
        f"SELECT email, name, message, ip_address FROM contact_messages WHERE id IN ({messages})",
    ):
        assert email_value != address and len(email_value) == 64
        assert (name, message) == (None, None)
        assert ip.endswith(".0") or ip.endswith("::")
    assert h.query(url, "SELECT COUNT(*) FROM contact_messages WHERE email = :e", e=address) == [
        (0,)
    ]
    customer = h.query(
        url,
        "SELECT email, first_name, last_name, phone, national_id, country FROM customers "
        "WHERE id = :c",
        c=cid,
    )[0]
    assert customer[1:] == (None,) * 5
    with SqlConnector(policy.systems[0], url) as connector:
        column = connector.columns("customers")["email"]
    assert customer[0] == hashed.operate(address, column)  # hashed once, never twice

    assert h.others_checksum(url, mine) == before
