"""Appending to and reading back the two hash-chained tables.

An append locks the chain's head row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock),
numbers and links the new rows, inserts them and moves the head, all inside
the caller's transaction. So a chain never forks however many threads or
processes append, and an event commits or rolls back with the state change
it records. Batches share one lock and one round trip."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from datasteward.audit.chain import ChainHead, ChainRow, row_hash
from datasteward.errors import StoreError
from datasteward.store.tables import audit_events, chain_heads, consent_events

__all__ = [
    "AUDIT",
    "CHAINS",
    "CONSENT",
    "Chain",
    "append_rows",
    "iter_chain_rows",
    "read_head",
]


class Chain:
    """A hash-chained table: its name in ``chain_heads`` and its hashed columns."""

    def __init__(self, name: str, table: Table, fields: Sequence[str]) -> None:
        self.name = name
        self.table = table
        self.fields = tuple(fields)

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[f] for f in self.fields)


AUDIT = Chain(
    "audit",
    audit_events,
    (
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "reason",
        "policy_version",
        "details",
    ),
)
CONSENT = Chain(
    "consent",
    consent_events,
    (
        "event_id",
        "subject_id",
        "purpose_id",
        "kind",
        "occurred_at",
        "expires_at",
        "policy_version",
        "purpose_hash",
        "notice_hash",
        "channel",
        "source_enc",
        "actor",
    ),
)
CHAINS = {AUDIT.name: AUDIT, CONSENT.name: CONSENT}


def read_head(connection: Connection, chain: Chain, *, lock: bool = False) -> ChainHead:
    query = select(chain_heads.c.seq, chain_heads.c.hash).where(chain_heads.c.chain == chain.name)
    if lock and connection.dialect.name != "sqlite":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise StoreError(f"the {chain.name} chain has no head; run `steward init`")
    return ChainHead(int(row.seq), str(row.hash))


def append_rows(
    connection: Connection, chain: Chain, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Number, link and insert ``rows``; returns them with seq, prev_hash, hash."""
    if not rows:
        return []
    head = read_head(connection, chain, lock=True)
    seq, prev = head.seq, head.hash
    linked: list[dict[str, Any]] = []
    for row in rows:
        seq += 1
        digest = row_hash(seq, prev, chain.values(row))
        linked.append({**row, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    connection.execute(chain.table.insert(), linked)
    connection.execute(
        update(chain_heads).where(chain_heads.c.chain == chain.name).values(seq=seq, hash=prev)
    )
    return linked


def iter_chain_rows(
    connection: Connection,
    chain: Chain,
    *,
    batch: int = 20_000,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[ChainRow]:
    """Every row in sequence order, fetched in keyset-paginated batches so
    memory stays flat however long the chain is."""
    columns = [chain.table.c.seq, chain.table.c.prev_hash, chain.table.c.hash] + [
        chain.table.c[f] for f in chain.fields
    ]
    last = 0
    while True:
        result = connection.execute(
            select(*columns)
            .where(chain.table.c.seq > last)
            .order_by(chain.table.c.seq)
            .limit(batch)
        ).all()
        if not result:
            return
        for record in result:
            yield ChainRow(int(record[0]), record[1], record[2], tuple(record[3:]))
        last = int(result[-1][0])
        if on_batch is not None:
            on_batch(len(result))
