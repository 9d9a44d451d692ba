"""Loading the example shop into a database, and reading facts back.

``load(url, total_rows, seed)`` creates the shop tables and streams the
generated rows into them: PostgreSQL through ``COPY`` (psycopg), SQLite and
MariaDB through SQLAlchemy Core ``executemany`` (which PyMySQL turns into
multi-row ``INSERT`` statements). Secondary indexes, and on PostgreSQL the
foreign keys, are created after the rows are in, and PostgreSQL's id
sequences are moved past the loaded ids, so the shop behaves like one that
grew by itself afterwards.

On PostgreSQL the whole load is one transaction: it either completes or
leaves nothing behind. SQLite and MariaDB commit their DDL as they go; run
again with ``replace=True`` after a failed load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from datasteward.errors import Conflict, UsageError
from datasteward.shop.fingerprint import TableDigest, TableHasher
from datasteward.shop.generate import (
    DEFAULT_BATCH,
    DEFAULT_NOW,
    DEFAULT_SEED,
    GENERATION_ORDER,
    Batch,
    generate,
    heavy_customer_batches,
    shop_size,
)
from datasteward.shop.schema import (
    SHOP_METADATA,
    TABLE_NAMES,
    create_indexes,
    create_tables,
    shop_table,
)

__all__ = [
    "SAMPLE_ROLES",
    "LoadResult",
    "add_heavy_customer",
    "database_fingerprint",
    "drop_shop",
    "load",
    "sample_subjects",
    "sample_subjects_by_role",
    "shop_engine",
]

Progress = Callable[[str, int], None]
"""Called after each batch with the table and the number of rows loaded so far."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load did."""

    backend: str
    counts: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def shop_engine(url: str) -> Engine:
    """An engine for the shop database at ``url``: ``postgresql://`` uses
    psycopg 3, ``mysql://`` and ``mariadb://`` use PyMySQL with utf8mb4."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError("not a database URL (expected e.g. sqlite:///shop.db)") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend in ("mysql", "mariadb"):
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername=f"{backend}+pymysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif backend != "sqlite" and backend != "postgresql":
        raise UsageError(f"the shop loads into SQLite, PostgreSQL or MariaDB, not {backend}")
    try:
        return create_engine(parsed)
    except NoSuchModuleError:
        raise UsageError(f"no database driver for {parsed.drivername}") from None


def _existing(connection: Connection) -> list[str]:
    present = set(inspect(connection).get_table_names())
    return [name for name in TABLE_NAMES if name in present]


def drop_shop(url: str) -> list[str]:
    """Drop the shop tables that exist at ``url``; returns their names."""
    engine = shop_engine(url)
    try:
        with engine.begin() as connection:
            existing = _existing(connection)
            SHOP_METADATA.drop_all(connection, checkfirst=True)
        return existing
    finally:
        engine.dispose()


class _Writer:
    """Writes batches into one open transaction, the fastest way the backend allows."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self._columns = {
            name: [column.name for column in shop_table(name).columns] for name in TABLE_NAMES
        }

    def write(self, batch: Batch) -> None:
        if not batch.rows:
            return
        columns = self._columns[batch.table]
        if self.postgres:
            self._copy(batch.table, columns, batch.rows)
            return
        records = [dict(zip(columns, row, strict=True)) for row in batch.rows]
        self.connection.execute(shop_table(batch.table).insert(), records)

    def _copy(self, table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
        raw: Any = self.connection.connection.driver_connection
        names = ", ".join(columns)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def reset_sequences(self, tables: Iterable[str]) -> None:
        """Move PostgreSQL's id sequences past the ids written explicitly."""
        if not self.postgres:
            return  # SQLite row ids and MariaDB AUTO_INCREMENT follow by themselves
        for table in tables:
            self.connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            )


def _fast_session(connection: Connection) -> None:
    """Skip per-row checks the generated data needs no help with (the ids
    and foreign keys are consistent by construction, and tests verify it)."""
    if connection.dialect.name in ("mysql", "mariadb"):
        connection.exec_driver_sql("SET SESSION foreign_key_checks = 0, unique_checks = 0")


def _restore_session(connection: Connection) -> None:
    if connection.dialect.name in ("mysql", "mariadb"):
        connection.exec_driver_sql("SET SESSION foreign_key_checks = 1, unique_checks = 1")


def load(
    url: str,
    total_rows: int,
    seed: int = DEFAULT_SEED,
    *,
    batch: int = DEFAULT_BATCH,
    replace: bool = False,
    now: datetime = DEFAULT_NOW,
    progress: Progress | None = None,
) -> LoadResult:
    """Create the shop tables at ``url`` and fill them with a generated shop
    of ``total_rows`` rows. Existing shop tables are dropped first when
    ``replace`` is set; otherwise they make the load fail (:class:`Conflict`)."""
    started = time.perf_counter()
    shop_size(total_rows)  # refuse a bad size before touching the database
    if batch < 1:
        raise UsageError("the batch size must be at least 1")
    engine = shop_engine(url)
    counts = dict.fromkeys(GENERATION_ORDER, 0)
    try:
        with engine.begin() as connection:
            existing = _existing(connection)
            if existing and not replace:
                raise Conflict(
                    f"the database already has shop tables ({', '.join(existing)}); "
                    "replace them with --replace (replace=True)"
                )
            backend = connection.dialect.name
            postgres = backend == "postgresql"
            if existing:
                SHOP_METADATA.drop_all(connection, checkfirst=True)
            create_tables(connection, with_foreign_keys=not postgres)
            _fast_session(connection)
            writer = _Writer(connection)
            loaded = 0
            for piece in generate(total_rows, seed, now=now, batch=batch):
                writer.write(piece)
                counts[piece.table] += len(piece.rows)
                loaded += len(piece.rows)
                if progress is not None:
                    progress(piece.table, loaded)
            create_indexes(connection, foreign_keys=postgres)
            writer.reset_sequences(TABLE_NAMES)
            _restore_session(connection)
    finally:
        engine.dispose()
    return LoadResult(backend, counts, time.perf_counter() - started)


def _max_id(connection: Connection, name: str) -> int:
    query = select(func.coalesce(func.max(shop_table(name).c.id), 0))
    return int(connection.execute(query).scalar_one())


_HEAVY_TABLES = ("customers", "addresses", "orders", "order_items", "payments", "access_log")


def add_heavy_customer(
    url: str,
    rows: int = 1_000_000,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime = DEFAULT_NOW,
    batch: int = DEFAULT_BATCH,
) -> str:
    """Add one customer to a loaded shop who owns ``rows`` rows: the customer
    row, an address, one order per thirty rows (each with an item and a
    payment) and access-log rows for the rest. Returns the customer's email.

    Used to show that a request for one person with a million rows streams
    with flat memory."""
    engine = shop_engine(url)
    try:
        with engine.begin() as connection:
            present = _existing(connection)
            missing = [name for name in _HEAVY_TABLES if name not in present]
            if missing:
                raise UsageError(f"no shop at this URL: tables {', '.join(missing)} are missing")
            first_ids = {name: _max_id(connection, name) + 1 for name in _HEAVY_TABLES}
            _fast_session(connection)
            writer = _Writer(connection)
            email = ""
            pieces = heavy_customer_batches(
                first_ids["customers"], rows, first_ids, seed=seed, now=now, batch=batch
            )
            for piece in pieces:
                if piece.table == "customers":
                    email = str(piece.rows[0][1])
                writer.write(piece)
            writer.reset_sequences(_HEAVY_TABLES)
            _restore_session(connection)
        return email
    finally:
        engine.dispose()


SAMPLE_ROLES: tuple[str, ...] = (
    "customer",
    "closed_customer",
    "subscriber",
    "correspondent",
    "seller",
)
"""The kinds of known subjects :func:`sample_subjects_by_role` picks."""

_SAMPLE_QUERIES = {
    # The open account with the most orders that also receives the newsletter.
    "customer": """
        SELECT c.email FROM customers c
        JOIN newsletter_subscribers s ON s.customer_id = c.id
        JOIN orders o ON o.customer_id = c.id
        WHERE c.closed_at IS NULL AND c.restricted = :no
        GROUP BY c.id, c.email ORDER BY COUNT(*) DESC, c.id LIMIT 1""",
    # A closed account that still has orders (kept for the accounting law).
    "closed_customer": """
        SELECT c.email FROM customers c
        WHERE c.closed_at IS NOT NULL
          AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)
        ORDER BY c.id LIMIT 1""",
    # A newsletter subscriber who is not a customer and has tracked events.
    "subscriber": """
        SELECT s.email FROM newsletter_subscribers s
        WHERE s.customer_id IS NULL
          AND EXISTS (SELECT 1 FROM newsletter_events e WHERE e.subscriber_id = s.id)
        ORDER BY s.id LIMIT 1""",
    # Someone who only wrote through the contact form.
    "correspondent": """
        SELECT m.email FROM contact_messages m
        WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.email = m.email)
        ORDER BY m.id LIMIT 1""",
    # An active seller with uploaded documents.
    "seller": """
        SELECT v.email FROM sellers v
        WHERE v.closed_at IS NULL
          AND EXISTS (SELECT 1 FROM seller_documents d WHERE d.seller_id = v.id)
        ORDER BY v.id LIMIT 1""",
}


def sample_subjects_by_role(url: str) -> dict[str, str]:
    """Emails of known data subjects of a loaded shop, one per role in
    :data:`SAMPLE_ROLES` (a role with nobody in it is left out). The choice
    depends only on the data, so equal shops give equal samples on every
    backend."""
    engine = shop_engine(url)
    try:
        found: dict[str, str] = {}
        with engine.connect() as connection:
            for role in SAMPLE_ROLES:
                value = connection.execute(
                    text(_SAMPLE_QUERIES[role]), {"no": False}
                ).scalar_one_or_none()
                if value is not None:
                    found[role] = str(value)
        return found
    finally:
        engine.dispose()


def sample_subjects(url: str) -> list[str]:
    """The emails of :func:`sample_subjects_by_role`, in role order."""
    return list(sample_subjects_by_role(url).values())


def _table_rows(connection: Connection, name: str) -> Iterator[tuple[Any, ...]]:
    table = shop_table(name)
    result = connection.execution_options(stream_results=True, yield_per=10_000).execute(
        select(table).order_by(table.c.id)
    )
    for row in result:
        yield tuple(row)


def database_fingerprint(url: str) -> dict[str, TableDigest]:
    """The fingerprint (``fingerprint`` module) of the shop tables at ``url``,
    comparable with the fingerprint of the generated batches."""
    engine = shop_engine(url)
    try:
        hasher = TableHasher()
        with engine.connect() as connection:
            for name in TABLE_NAMES:
                hasher.add(name, _table_rows(connection, name))
        return hasher.result()
    finally:
        engine.dispose()
