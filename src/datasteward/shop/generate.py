"""Rows of the example shop, generated in batches, deterministically.

``generate(total_rows, seed)`` yields :class:`Batch` es of rows, parents
before children, with exactly ``total_rows`` rows in all. The same size,
seed and reference time give identical rows on every machine and Python
version, whatever the batch size. Only the current batch and bounded caches
of customer details are held in memory, so ten million rows stream with
flat memory.

Sizes follow a small web shop: per customer about 1.5 addresses, 3 orders,
2.5 items per order, one payment per paid order (two when refunded), 0.45
newsletter subscriptions (three in five subscribers are customers) with
about 5 tracking events each, 0.12 contact messages, and one seller per
hundred customers with about 3 documents each. The access log, the largest
table, takes the rows that are left (about 45 %). Dates go back twelve years
from ``now`` (the access log two, denser in the last 30 days), so retention
rules find rows on both sides of their boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from datasteward.errors import UsageError
from datasteward.shop.people import MAX_ORDINAL, seconds, to_datetime
from datasteward.shop.rows import DAY, Row, Shop, ShopSize, Timeline, years_before

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_NOW",
    "DEFAULT_SEED",
    "GENERATION_ORDER",
    "MIN_ROWS",
    "Batch",
    "Row",
    "ShopSize",
    "generate",
    "heavy_customer_batches",
    "shop_size",
    "table_counts",
]

DEFAULT_SEED: Final = 1
DEFAULT_NOW: Final = datetime(2026, 11, 1)
"""The reference time every generated date lies before (naive, UTC)."""
DEFAULT_BATCH: Final = 10_000
MIN_ROWS: Final = 1_000

GENERATION_ORDER: Final = (
    "customers",
    "addresses",
    "orders",
    "order_items",
    "payments",
    "newsletter_subscribers",
    "newsletter_events",
    "contact_messages",
    "sellers",
    "seller_documents",
    "access_log",
)
"""The order tables are generated in: parents first; the access log last,
because it takes the rows left over."""

_ROWS_PER_CUSTOMER: Final = 33.7
"""Rows per customer over all tables: about 18.7 in the tables other than
the access log, and 15 access-log rows."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive rows of one table, values in the table's column order."""

    table: str
    rows: list[Row]


def shop_size(total_rows: int) -> ShopSize:
    """How many customers, orders, subscribers, messages and sellers a shop
    of ``total_rows`` rows has."""
    if total_rows < MIN_ROWS:
        raise UsageError(f"a shop needs at least {MIN_ROWS:,} rows, not {total_rows:,}")
    customers = max(10, int(total_rows / _ROWS_PER_CUSTOMER))
    if customers >= MAX_ORDINAL:
        raise UsageError(f"{total_rows:,} rows is more than the generator supports")
    return ShopSize(
        total_rows=total_rows,
        customers=customers,
        orders=round(customers * 3.0),
        newsletter_subscribers=round(customers * 0.45),
        contact_messages=max(1, round(customers * 0.12)),
        sellers=max(1, round(customers * 0.01)),
    )


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


Family = tuple[Row, list[Row]] | tuple[Row, list[Row], list[Row]]
"""A parent row and the rows of each child table that belong to it."""


def _families(tables: tuple[str, ...], families: Iterable[Family], size: int) -> Iterator[Batch]:
    """Batches of up to ``size`` parents, each followed by their children's
    batches, so every table's rows come in id order, parents first, and no
    table has to be generated twice."""
    parents: list[Row] = []
    children: list[list[Row]] = [[] for _ in tables[1:]]

    def flush() -> Iterator[Batch]:
        yield Batch(tables[0], parents)
        for table, rows in zip(tables[1:], children, strict=True):
            for start in range(0, len(rows), size):
                yield Batch(table, rows[start : start + size])

    for parent, *kids in families:
        parents.append(parent)
        for pending, rows in zip(children, kids, strict=True):
            pending.extend(rows)
        if len(parents) >= size:
            yield from flush()
            parents = []
            children = [[] for _ in tables[1:]]
    if parents:
        yield from flush()


def _customers(shop: Shop) -> Iterator[Family]:
    next_address = 1
    addresses = shop.sequence("addresses", shop.size.customers)
    for customer, (customer_id, rng) in zip(shop.customers(), addresses, strict=True):
        rows = shop.address_rows(customer_id, next_address, rng)
        next_address += len(rows)
        yield customer, rows


def _orders(shop: Shop) -> Iterator[Family]:
    next_item = next_payment = 1
    for order_id, order in shop.orders():
        items = shop.item_rows(order_id, order, next_item)
        payments = shop.payment_rows(order_id, order, next_payment)
        next_item += len(items)
        next_payment += len(payments)
        yield shop.order_row(order_id, order), items, payments


def _subscribers(shop: Shop) -> Iterator[Family]:
    next_event = 1
    for subscriber_id, sub, tracked in shop.events():
        events: list[Row] = []
        for kind, moment, ip, agent in tracked:
            events.append((next_event, subscriber_id, kind, to_datetime(moment), ip, agent))
            next_event += 1
        yield shop.subscriber_row(subscriber_id, sub), events


def _sellers(shop: Shop) -> Iterator[Family]:
    next_document = 1
    for seller, uploads in shop.documents():
        documents: list[Row] = []
        for kind, name, moment in uploads:
            documents.append((next_document, seller[0], kind, name, moment))
            next_document += 1
        yield seller, documents


def generate(
    total_rows: int,
    seed: int = DEFAULT_SEED,
    *,
    now: datetime = DEFAULT_NOW,
    batch: int = DEFAULT_BATCH,
) -> Iterator[Batch]:
    """Every row of a shop of exactly ``total_rows`` rows, in batches of at
    most ``batch`` rows of one table.

    Each table's rows come in id order and every parent row before its
    children; a child table's batches follow the batch of their parents
    (``orders``, then the ``order_items`` and ``payments`` of those orders),
    so tables interleave. Tables start in :data:`GENERATION_ORDER`."""
    if batch < 1:
        raise UsageError("the batch size must be at least 1")
    shop = Shop(shop_size(total_rows), seed, now)
    emitted = 0
    parts = (
        _families(("customers", "addresses"), _customers(shop), batch),
        _families(("orders", "order_items", "payments"), _orders(shop), batch),
        _families(("newsletter_subscribers", "newsletter_events"), _subscribers(shop), batch),
        (Batch("contact_messages", rows) for rows in _chunks(shop.contact_messages(), batch)),
        _families(("sellers", "seller_documents"), _sellers(shop), batch),
    )
    for part in parts:
        for piece in part:
            emitted += len(piece.rows)
            yield piece
    remaining = total_rows - emitted
    if remaining < 1:  # pragma: no cover - the ratios leave about 45 % to the log
        raise UsageError(f"{total_rows:,} rows leave no room for the access log")
    for chunk in _chunks(shop.access_log(remaining), batch):
        yield Batch("access_log", chunk)


def table_counts(
    total_rows: int, seed: int = DEFAULT_SEED, *, now: datetime = DEFAULT_NOW
) -> dict[str, int]:
    """The number of rows :func:`generate` yields per table, without building
    the rows of the large tables (it still draws their random numbers)."""
    size = shop_size(total_rows)
    shop = Shop(size, seed, now)
    items = payments = 0
    for _, order in shop.orders():
        items += len(order.items)
        payments += len(order.payments)
    counts = {
        "customers": size.customers,
        "addresses": sum(1 for _ in shop.addresses()),
        "orders": size.orders,
        "order_items": items,
        "payments": payments,
        "newsletter_subscribers": size.newsletter_subscribers,
        "newsletter_events": sum(len(tracked) for _, _, tracked in shop.events()),
        "contact_messages": size.contact_messages,
        "sellers": size.sellers,
        "seller_documents": sum(len(uploads) for _, uploads in shop.documents()),
    }
    counts["access_log"] = total_rows - sum(counts.values())
    return counts


def heavy_customer_batches(
    customer_id: int,
    rows: int,
    first_ids: dict[str, int],
    *,
    seed: int = DEFAULT_SEED,
    now: datetime = DEFAULT_NOW,
    batch: int = DEFAULT_BATCH,
) -> Iterator[Batch]:
    """``rows`` rows that all belong to customer ``customer_id``: the
    customer (signed up ten years before ``now``), one address, one
    completed order per thirty rows with one item and one payment each, and
    the rest as access-log rows of that customer over the last two years.
    ``first_ids`` gives the first free id of each of those tables."""
    if rows < 5:
        raise UsageError("a heavy customer has at least 5 rows")
    if not 0 < customer_id < MAX_ORDINAL:
        raise UsageError(f"customer ids of the shop stay below {MAX_ORDINAL:,}")
    shop = Shop(shop_size(MIN_ROWS), seed, now)
    created = seconds(years_before(now, 10))
    line = Timeline(created, None, False)
    order_count = max(1, rows // 30)
    log_count = rows - 2 - 3 * order_count
    yield Batch("customers", [shop.customer_row(customer_id, line)])
    address_rng = next(iter(shop.sequence(f"heavy/{customer_id}/addresses", 1)))[1]
    billing = shop.address_rows(customer_id, first_ids["addresses"], address_rng)[:1]
    yield Batch("addresses", billing)

    span = shop.now - DAY - created
    first_order = first_ids["orders"]

    def heavy_orders() -> Iterator[Family]:
        for number, rng in shop.sequence(f"heavy/{customer_id}/orders", order_count):
            order_id = first_order + number - 1
            moment = created + span * (number - 1) // order_count
            order = shop.order(rng, customer_id, moment, items=1, status="completed")
            item = shop.item_rows(order_id, order, first_ids["order_items"] + number - 1)
            payment = shop.payment_rows(order_id, order, first_ids["payments"] + number - 1)
            yield shop.order_row(order_id, order), item, payment

    def log_rows() -> Iterator[Row]:
        first = first_ids["access_log"]
        for number, rng in shop.sequence(f"heavy/{customer_id}/access_log", log_count):
            moment = shop.log_moment((number - 1 + rng.unit()) / log_count)
            yield shop.access_row(first + number - 1, moment, rng, customer_id)

    yield from _families(("orders", "order_items", "payments"), heavy_orders(), batch)
    for chunk in _chunks(log_rows(), batch):
        yield Batch("access_log", chunk)
