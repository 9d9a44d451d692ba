"""Shared by the fulfilment tests on the example shop: the service wired as
the command line wires it, plain SQL to check what happened (written by hand,
independent of the engine's own queries), the subject's row ids per table,
and a digest of everybody else's rows."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from datasteward.clock import FixedClock
from datasteward.connectors import sql_connectors
from datasteward.crypto import Keyring
from datasteward.fulfilment.service import Fulfilment, erasure_hash_key
from datasteward.identity import Identity, parse_identity
from datasteward.policy.model import Policy
from datasteward.shop import TABLE_NAMES

__all__ = [
    "BACKENDS",
    "PERSONAL",
    "POLICY_FILE",
    "SUBJECT_ROWS",
    "customer_id",
    "email",
    "execute",
    "others_checksum",
    "query",
    "service",
    "subject_ids",
]

BACKENDS = ["sqlite", "postgresql", "mariadb"]
POLICY_FILE = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"

PERSONAL = {
    "customers": ("email", "first_name", "last_name", "phone", "national_id", "country"),
    "addresses": ("line1", "city", "postcode", "country"),
    "newsletter_subscribers": ("email", "subscribed_at", "unsubscribed_at", "signup_ip"),
    "newsletter_events": ("kind", "occurred_at", "ip_address", "user_agent"),
    "contact_messages": ("email", "name", "message", "ip_address"),
    "access_log": ("ip_address", "user_agent", "path", "referrer", "customer_id"),
}
"""The declared personal fields of the shop policy outside the held datasets."""

SUBJECT_ROWS = {
    "customers": "SELECT id FROM customers WHERE email = :email",
    "addresses": "SELECT id FROM addresses WHERE customer_id = :cid",
    "orders": "SELECT id FROM orders WHERE customer_id = :cid OR billing_email = :email",
    "order_items": "SELECT id FROM order_items WHERE order_id IN "
    "(SELECT id FROM orders WHERE customer_id = :cid OR billing_email = :email)",
    "payments": "SELECT id FROM payments WHERE order_id IN "
    "(SELECT id FROM orders WHERE customer_id = :cid OR billing_email = :email)",
    "newsletter_subscribers": "SELECT id FROM newsletter_subscribers "
    "WHERE email = :email OR customer_id = :cid",
    "newsletter_events": "SELECT id FROM newsletter_events WHERE subscriber_id IN "
    "(SELECT id FROM newsletter_subscribers WHERE email = :email OR customer_id = :cid)",
    "contact_messages": "SELECT id FROM contact_messages WHERE email = :email",
    "access_log": "SELECT id FROM access_log WHERE customer_id = :cid",
    "sellers": "SELECT id FROM sellers WHERE email = :email",
    "seller_documents": "SELECT id FROM seller_documents WHERE seller_id IN "
    "(SELECT id FROM sellers WHERE email = :email)",
}
"""The subject's rows per table, by hand: ``:email`` and ``:cid`` are bound."""


def service(url: str, policy: Policy, keyring: Keyring, home: Path, now: datetime) -> Fulfilment:
    return Fulfilment(
        policy,
        connectors=sql_connectors({"SHOP_DATABASE_URL": url}),
        keyring=keyring,
        home=home,
        clock=FixedClock(now),
        hash_key=erasure_hash_key(keyring),
    )


def email(address: str) -> Identity:
    return parse_identity(f"email:{address}")


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()


def customer_id(url: str, address: str) -> int:
    return int(query(url, "SELECT id FROM customers WHERE email = :e", e=address)[0][0])


def subject_ids(url: str, address: str) -> dict[str, set[int]]:
    found = query(url, "SELECT id FROM customers WHERE email = :e", e=address)
    cid = int(found[0][0]) if found else -1
    return {
        table: {int(r[0]) for r in query(url, sql, email=address, cid=cid)}
        for table, sql in SUBJECT_ROWS.items()
    }


def others_checksum(url: str, exclude: dict[str, set[int]]) -> dict[str, str]:
    """A digest per table of every row that is not the subject's."""
    digests: dict[str, str] = {}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            for table in TABLE_NAMES:
                digest = hashlib.sha256()
                for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id")):
                    if int(row[0]) not in exclude.get(table, set()):
                        digest.update(repr(tuple(row)).encode("utf-8"))
                digests[table] = digest.hexdigest()
    finally:
        engine.dispose()
    return digests
