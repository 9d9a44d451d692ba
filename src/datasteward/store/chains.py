"""Appending to and reading back the two hash-chained tables.

An append locks the chain's head row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock),
numbers and links the new rows, inserts them and moves the head, all inside
the caller's transaction. So a chain never forks however many threads or
processes append, and an event commits or rolls back with the state change
it records. Batches share one lock and one round trip.

For verification PostgreSQL can also build each row's hashed text (the
*material*: sequence number, previous hash and the length-prefixed field
encoding of :func:`datasteward.audit.chain.encode_fields`) in SQL, so the
verifier only hashes it; see :class:`MaterialReader`. Long SQLite chains are
checked in worker processes (:func:`check_ranges`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from datasteward.audit.chain import (
    ChainHead,
    ChainRow,
    Segment,
    VerifyResult,
    check_segment,
    row_hash,
    row_material,
)
from datasteward.errors import StoreError
from datasteward.store.engine import Prepared
from datasteward.store.tables import audit_events, chain_heads, consent_events

__all__ = [
    "AUDIT",
    "CHAINS",
    "CONSENT",
    "Chain",
    "MaterialReader",
    "append_rows",
    "check_range",
    "check_ranges",
    "iter_chain_rows",
    "material_expression",
    "read_head",
    "row_fields",
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


_HEAD = select(chain_heads.c.seq, chain_heads.c.hash).where(
    chain_heads.c.chain == bindparam("b_chain")
)
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_MOVE_HEAD = (
    update(chain_heads)
    .where(chain_heads.c.chain == bindparam("b_chain"))
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)


def _insert_from_arrays(table: Table) -> Any:
    """``INSERT ... SELECT * FROM unnest(<one array per column>)``: a whole
    batch as one statement with one parameter per column, which PostgreSQL
    takes many times faster than one INSERT per row (even pipelined)."""
    columns = list(table.c)
    arrays = [cast(bindparam(f"a_{c.name}"), postgresql.ARRAY(c.type)) for c in columns]
    rows = func.unnest(*arrays).table_valued(*[c.name for c in columns]).render_derived()
    return table.insert().from_select(
        [c.name for c in columns], select(*[rows.c[c.name] for c in columns])
    )


class _AppendStatements:
    """The statements of an append, prepared once per dialect and chain."""

    def __init__(self, chain: Chain, dialect: Any) -> None:
        self.head = Prepared(_HEAD, dialect)
        self.head_for_update = Prepared(_HEAD_FOR_UPDATE, dialect)
        self.insert = Prepared(chain.table.insert(), dialect)
        self.columns = [c.name for c in chain.table.c]
        self.insert_arrays = (
            Prepared(_insert_from_arrays(chain.table), dialect)
            if dialect.name == "postgresql"
            else None
        )
        self.move_head = Prepared(_MOVE_HEAD, dialect)

    def insert_rows(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if self.insert_arrays is None or len(rows) == 1:
            self.insert.many(connection, rows)
            return
        arrays = {f"a_{name}": [row.get(name) for row in rows] for name in self.columns}
        self.insert_arrays.rows(connection, arrays)


_APPEND: dict[tuple[str, str], _AppendStatements] = {}


def _append_statements(connection: Connection, chain: Chain) -> _AppendStatements:
    key = (connection.dialect.name, chain.name)
    found = _APPEND.get(key)
    if found is None:
        found = _APPEND[key] = _AppendStatements(chain, connection.dialect)
    return found


def read_head(connection: Connection, chain: Chain, *, lock: bool = False) -> ChainHead:
    statements = _append_statements(connection, chain)
    locking = lock and connection.dialect.name != "sqlite"
    query = statements.head_for_update if locking else statements.head
    rows = query.rows(connection, {"b_chain": chain.name})
    if not rows:
        raise StoreError(f"the {chain.name} chain has no head; run `steward init`")
    return ChainHead(int(rows[0][0]), str(rows[0][1]))


def append_rows(
    connection: Connection, chain: Chain, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Number, link and insert ``rows``; returns them with seq, prev_hash, hash."""
    if not rows:
        return []
    statements = _append_statements(connection, chain)
    head = read_head(connection, chain, lock=True)
    seq, prev = head.seq, head.hash
    linked: list[dict[str, Any]] = []
    fields = chain.fields
    for row in rows:
        seq += 1
        digest = row_hash(seq, prev, [row[f] for f in fields])
        linked.append({**row, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    statements.insert_rows(connection, linked)
    statements.move_head.rows(connection, {"b_chain": chain.name, "b_seq": seq, "b_hash": prev})
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


# -- the hashed text, built by the database ------------------------------------------

_NL = literal_column("'\n'", String)


def _text(sql: str) -> ColumnElement[Any]:
    return literal_column(f"'{sql}'", String)


def _cat(*parts: ColumnElement[Any]) -> ColumnElement[Any]:
    out = parts[0]
    for part in parts[1:]:
        out = out.op("||")(part)
    return out


def _field_material(column: Any) -> ColumnElement[Any]:
    """PostgreSQL SQL for ``datasteward.audit.chain._encode`` of one column's
    value. PostgreSQL's column types are fixed, so the column type decides
    the encoding, and in a UTF8 database ``length`` counts characters as
    Python's ``len`` does (:class:`MaterialReader` checks the encoding)."""
    if isinstance(column.type, LargeBinary):
        value = _cat(_text("b"), func.length(column), _text(":"), func.encode(column, "hex"))
    elif isinstance(column.type, (Integer, BigInteger)):
        value = _cat(_text("i"), cast(column, Text), _text(";"))
    elif isinstance(column.type, (String, Text)):
        value = _cat(_text("s"), func.length(column), _text(":"), column)
    else:  # pragma: no cover - every chained column is one of the above
        raise StoreError(f"no SQL encoding for column {column.name}")
    if not column.nullable:
        return value
    return case((column.is_(None), _text("n;")), else_=value)


def material_expression(chain: Chain) -> ColumnElement[Any]:
    """``f"{seq}\\n{prev_hash}\\n" + encode_fields(fields)`` as one PostgreSQL expression."""
    t = chain.table
    return _cat(
        cast(t.c.seq, Text),
        _NL,
        t.c.prev_hash,
        _NL,
        *[_field_material(t.c[f]) for f in chain.fields],
    )


class MaterialReader:
    """Reads a chain as ``(seq, prev_hash, hash, material)`` rows for
    :func:`datasteward.audit.chain.verify_material_chain`, inside the
    caller's transaction.

    PostgreSQL (in a UTF8 database, where ``length`` counts characters as
    Python does) builds the material in SQL (:func:`material_expression`),
    so the server encodes while this process hashes. SQLite would build it
    several times slower than Python does (its string functions are called
    per field), so there the raw fields are read and encoded with
    :func:`datasteward.audit.chain.row_material`. Either way the next page
    is read by a helper thread while the caller checks the current one: the
    database's work (another process, or SQLite's C code without the GIL)
    overlaps the hashing. Pages are keyset-paginated by ``seq``, so memory
    stays flat however long the chain is. Use as a context manager: leaving
    it stops the helper before the transaction ends."""

    def __init__(
        self,
        connection: Connection,
        chain: Chain,
        *,
        batch: int = 20_000,
        upto: int | None = None,
    ) -> None:
        self.connection = connection
        self.chain = chain
        self.batch = batch
        self.upto = upto
        self.server_material = (
            connection.dialect.name == "postgresql"
            and connection.exec_driver_sql("SHOW server_encoding").scalar_one() == "UTF8"
        )
        t = chain.table
        material = (
            material_expression(chain) if self.server_material else [t.c[f] for f in chain.fields]
        )
        statement = (
            select(t.c.seq, t.c.prev_hash, t.c.hash, *_as_list(material))
            .where(t.c.seq > bindparam("last"))
            .order_by(t.c.seq)
            .limit(bindparam("batch"))
        )
        if upto is not None:  # a stretch of the chain (see check_segment)
            statement = statement.where(t.c.seq <= bindparam("upto"))
        self._pages = Prepared(statement, connection.dialect)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="steward-verify")

    def __enter__(self) -> MaterialReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _page(self, last: Any) -> list[Any]:
        values = {"last": last, "batch": self.batch, "upto": self.upto}
        with self._lock:
            return self._pages.rows(self.connection, values)

    def rows(self, after: int = 0) -> Generator[tuple[Any, Any, Any, Any], None, None]:
        """Every row with a sequence number above ``after``, in order."""
        pending = self._pool.submit(self._page, after)
        while True:
            page = pending.result()
            if not page:
                return
            pending = self._pool.submit(self._page, page[-1][0])
            if self.server_material:
                yield from page
            else:
                for r in page:
                    yield r[0], r[1], r[2], row_material(r[0], r[1], r[3:])

    def fields_of(self, seq: int) -> tuple[Any, ...] | None:
        with self._lock:
            return row_fields(self.connection, self.chain, seq)


def check_range(
    database: str, chain_name: str, low: int, high: int, watched: tuple[int, ...]
) -> Segment:
    """Check rows ``low`` to ``high`` of a chain in an SQLite file, in a
    worker process of its own (see ``SqlEngineStore.chain_segments``): its
    own read-only connection, the raw fields, Python's encoder, and
    :func:`datasteward.audit.chain.check_segment`. The chain and its table
    names are the engine's own constants, never input."""
    import sqlite3

    chain = CHAINS[chain_name]
    columns = ", ".join(chain.fields)
    table = chain.table.name
    connection = sqlite3.connect(Path(database).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        connection.execute("BEGIN")
        page_sql = (
            f"SELECT seq, prev_hash, hash, {columns} FROM {table} "  # noqa: S608 - fixed names
            "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
        )
        fields_sql = f"SELECT {columns} FROM {table} WHERE seq = ?"  # noqa: S608 - fixed names

        def rows() -> Iterator[tuple[Any, Any, Any, Any]]:
            last = low - 1
            while True:
                page = connection.execute(page_sql, (last, high, 20_000)).fetchall()
                if not page:
                    return
                for r in page:
                    yield r[0], r[1], r[2], row_material(r[0], r[1], r[3:])
                last = page[-1][0]

        def fields_of(seq: int) -> tuple[Any, ...] | None:
            found = connection.execute(fields_sql, (seq,)).fetchone()
            return None if found is None else tuple(found)

        return check_segment(rows(), fields_of=fields_of, watched=watched)
    finally:
        connection.close()


def check_ranges(
    database: str, chain_name: str, ranges: Sequence[tuple[int, int]], watched: tuple[int, ...]
) -> list[Segment]:
    """:func:`check_range` for each range, each in a Python process of its
    own, all at once. Plain child processes (not ``multiprocessing``): they
    import only this module, never the caller's main script, and share no
    threads or locks with the caller."""
    code = "from datasteward.store.chains import _range_worker; _range_worker()"
    children = [
        subprocess.Popen(  # noqa: S603 - this interpreter, a fixed command
            [
                sys.executable,
                "-c",
                code,
                json.dumps([database, chain_name, low, high, list(watched)]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for low, high in ranges
    ]
    segments = []
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            lines = err.strip().splitlines() or ["no message"]
            raise StoreError(f"a chain verification worker failed: {lines[-1]}")
        segments.append(_segment_from_json(json.loads(out)))
    return segments


def _range_worker() -> None:
    database, chain_name, low, high, watched = json.loads(sys.argv[1])
    segment = check_range(database, chain_name, low, high, tuple(watched))
    bad = segment.bad
    print(
        json.dumps(
            {
                "first_seq": segment.first_seq,
                "first_prev_hash": segment.first_prev_hash,
                "last_seq": segment.last_seq,
                "last_hash": segment.last_hash,
                "bad": None
                if bad is None
                else {"checked": bad.checked, "seq": bad.first_bad_seq, "reason": bad.reason},
                "hashes": {str(k): v for k, v in segment.hashes.items()},
            }
        )
    )


def _segment_from_json(data: dict[str, Any]) -> Segment:
    bad = data["bad"]
    return Segment(
        first_seq=data["first_seq"],
        first_prev_hash=data["first_prev_hash"],
        last_seq=data["last_seq"],
        last_hash=data["last_hash"],
        bad=None if bad is None else VerifyResult(False, bad["checked"], bad["seq"], bad["reason"]),
        hashes={int(k): v for k, v in data["hashes"].items()},
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def row_fields(connection: Connection, chain: Chain, seq: int) -> tuple[Any, ...] | None:
    """The hashed fields of row ``seq`` as the driver returns them (for the
    Python encoder), or None if there is no such row."""
    columns = [chain.table.c[f] for f in chain.fields]
    row = connection.execute(select(*columns).where(chain.table.c.seq == seq)).first()
    if row is None:
        return None
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
