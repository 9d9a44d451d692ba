"""The tables of the example shop, as SQLAlchemy Core metadata.

A WooCommerce-like shop reduced to the eleven tables that hold personal
data: customers and their addresses, orders with items and payments,
newsletter subscribers and their open/click events, contact-form messages,
the web server's access log, and marketplace sellers with their uploaded
documents.

Columns an erasure empties (names, phone numbers, free text) are nullable;
the generator fills them all the same. Only portable types are used (sized
strings, text, integers, numeric, boolean, date, and date-times without
time zone holding UTC), so the same metadata creates the same tables on
SQLite, PostgreSQL and MariaDB.

Every table has an integer primary key and declared foreign keys, and every
column a privacy request or a retention sweep looks rows up by has an index:
emails and other identities, the foreign keys, and the dates retention rules
are anchored on.

Secondary indexes are kept apart from the table definitions
(:func:`create_tables` / :func:`create_indexes`) so a bulk load can create
them after the rows are in, which is several times faster.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.schema import CreateIndex, CreateTable, ForeignKeyConstraint

__all__ = [
    "SHOP_METADATA",
    "TABLE_NAMES",
    "create_indexes",
    "create_tables",
    "shop_table",
]

SHOP_METADATA = MetaData(naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s"})

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
"""Ids of the large tables: BIGINT, except on SQLite where only INTEGER is a row id."""

_EMAIL = 254
"""RFC 5321: the longest address a mailbox can have."""

_IP = 45
"""The longest textual IPv6 address (with an embedded IPv4 part)."""

_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}
"""MariaDB: full Unicode (Bulgarian names, “curly quotes”), and transactions."""

customers = Table(
    "customers",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(_EMAIL), nullable=False),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("phone", String(32)),
    Column("national_id", String(20)),
    Column("country", String(2)),
    Column("created_at", DateTime(), nullable=False),
    Column("closed_at", DateTime()),
    Column("restricted", Boolean(), nullable=False, server_default=false()),
    Index("ix_customers_email", "email", unique=True),
    Index("ix_customers_phone", "phone"),
    Index("ix_customers_national_id", "national_id"),
    Index("ix_customers_created_at", "created_at"),
    Index("ix_customers_closed_at", "closed_at"),
    **_MYSQL,
)

addresses = Table(
    "addresses",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("line1", String(200), nullable=False),
    Column("city", String(100), nullable=False),
    Column("postcode", String(16), nullable=False),
    Column("country", String(2), nullable=False),
    Column("kind", String(16), nullable=False),
    Index("ix_addresses_customer_id", "customer_id"),
    **_MYSQL,
)

orders = Table(
    "orders",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("billing_name", String(200), nullable=False),
    Column("billing_email", String(_EMAIL), nullable=False),
    Index("ix_orders_customer_id", "customer_id"),
    Index("ix_orders_created_at", "created_at"),
    Index("ix_orders_billing_email", "billing_email"),
    **_MYSQL,
)

order_items = Table(
    "order_items",
    SHOP_METADATA,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(12, 2), nullable=False),
    Index("ix_order_items_order_id", "order_id"),
    **_MYSQL,
)

payments = Table(
    "payments",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("payer_iban", String(34)),
    Column("card_last4", String(4)),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("paid_at", DateTime(), nullable=False),
    Index("ix_payments_order_id", "order_id"),
    Index("ix_payments_paid_at", "paid_at"),
    **_MYSQL,
)

newsletter_subscribers = Table(
    "newsletter_subscribers",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(_EMAIL), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("subscribed_at", DateTime(), nullable=False),
    Column("unsubscribed_at", DateTime()),
    Column("signup_ip", String(_IP), nullable=False),
    Index("ix_newsletter_subscribers_email", "email", unique=True),
    Index("ix_newsletter_subscribers_customer_id", "customer_id"),
    Index("ix_newsletter_subscribers_unsubscribed_at", "unsubscribed_at"),
    **_MYSQL,
)

newsletter_events = Table(
    "newsletter_events",
    SHOP_METADATA,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("subscriber_id", Integer, ForeignKey("newsletter_subscribers.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("occurred_at", DateTime(), nullable=False),
    Column("ip_address", String(_IP), nullable=False),
    Column("user_agent", String(400), nullable=False),
    Index("ix_newsletter_events_subscriber_id", "subscriber_id"),
    Index("ix_newsletter_events_occurred_at", "occurred_at"),
    **_MYSQL,
)

contact_messages = Table(
    "contact_messages",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(_EMAIL), nullable=False),
    Column("name", String(200)),
    Column("message", Text()),
    Column("ip_address", String(_IP), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("resolved_at", DateTime()),
    Index("ix_contact_messages_email", "email"),
    Index("ix_contact_messages_created_at", "created_at"),
    Index("ix_contact_messages_resolved_at", "resolved_at"),
    **_MYSQL,
)

access_log = Table(
    "access_log",
    SHOP_METADATA,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("ip_address", String(_IP), nullable=False),
    Column("user_agent", String(400), nullable=False),
    Column("path", String(400), nullable=False),
    Column("referrer", String(400)),
    Column("occurred_at", DateTime(), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Index("ix_access_log_occurred_at", "occurred_at"),
    Index("ix_access_log_customer_id", "customer_id"),
    **_MYSQL,
)

sellers = Table(
    "sellers",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(_EMAIL), nullable=False),
    Column("legal_name", String(200), nullable=False),
    Column("phone", String(32)),
    Column("iban", String(34)),
    Column("date_of_birth", Date(), nullable=False),
    Column("id_document_type", String(32), nullable=False),
    Column("id_document_number", String(32)),
    Column("national_id", String(20)),
    Column("registered_at", DateTime(), nullable=False),
    Column("closed_at", DateTime()),
    Index("ix_sellers_email", "email", unique=True),
    Index("ix_sellers_phone", "phone"),
    Index("ix_sellers_national_id", "national_id"),
    Index("ix_sellers_closed_at", "closed_at"),
    **_MYSQL,
)

seller_documents = Table(
    "seller_documents",
    SHOP_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seller_id", Integer, ForeignKey("sellers.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("uploaded_at", DateTime(), nullable=False),
    Index("ix_seller_documents_seller_id", "seller_id"),
    **_MYSQL,
)

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in SHOP_METADATA.sorted_tables)
"""Every shop table, parents before children."""


def shop_table(name: str) -> Table:
    """The table called ``name``."""
    return SHOP_METADATA.tables[name]


def create_tables(connection: Connection, *, with_foreign_keys: bool = True) -> None:
    """Create every shop table with its primary key but without secondary
    indexes. Without ``with_foreign_keys`` (PostgreSQL bulk loads) the
    foreign keys are added by :func:`create_indexes` once the rows are in."""
    for table in SHOP_METADATA.sorted_tables:
        constraints: list[ForeignKeyConstraint] | None = None if with_foreign_keys else []
        connection.execute(CreateTable(table, include_foreign_key_constraints=constraints))


def create_indexes(connection: Connection, *, foreign_keys: bool = False) -> None:
    """Create every secondary index, and with ``foreign_keys`` add the foreign
    key constraints (checked against the rows already loaded)."""
    for table in SHOP_METADATA.sorted_tables:
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            connection.execute(CreateIndex(index))
    if foreign_keys:
        for table in SHOP_METADATA.sorted_tables:
            for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
                # Written out rather than with AddConstraint, which (before
                # SQLAlchemy 2.0.39, and by default since) marks the shared
                # constraint as "not inline", so a later CREATE TABLE on
                # SQLite or MariaDB in the same process would lose it.
                connection.exec_driver_sql(
                    f"ALTER TABLE {table.name} ADD CONSTRAINT "
                    f"fk_{table.name}_{fk.parent.name} FOREIGN KEY ({fk.parent.name}) "
                    f"REFERENCES {fk.column.table.name} ({fk.column.name})"
                )
