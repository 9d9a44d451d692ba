"""Reflected schemas kept between requests and between processes.

Reflecting the eleven tables of the example shop costs 200-300 ms on
PostgreSQL (SQLAlchemy's inspector asks the catalog table by table), which
every ``steward fulfil`` command paid again. A schema changes rarely, and
one catalog query tells whether it did: the *schema fingerprint*, a digest
of the mapped tables' definitions, read in a few milliseconds.

* PostgreSQL: every column (table oid, number, name, type, modifier, not
  null), index and constraint of the mapped tables, from ``pg_catalog``. A
  table dropped and created again has a new oid, so even an identical
  definition is reflected afresh.
* MariaDB/MySQL: every column, index and foreign key of the mapped tables
  in the current database, from ``information_schema``, with each table's
  creation time.
* SQLite: the ``CREATE`` statements of the mapped tables and their indexes
  in ``sqlite_master``.

A reflection is reused while the fingerprint is unchanged: from a dict in
this process (keyed by the URL without its password, and the system's
tables), and, when the connector has a cache directory (the command line's
``STEWARD_HOME/cache/reflection``), from a JSON file named by a hash of that
key. The file holds table definitions only (names, types, keys), never data
and never the URL; it is written atomically and read back through a fixed
set of column types, never unpickled. A file that cannot be read is ignored
and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    bindparam,
    text,
)
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import URL

from datasteward.connectors.reflect import Reflection, table_name
from datasteward.fulfilment.columns import ColumnInfo, ColumnKind
from datasteward.policy.model import System

__all__ = ["CACHE_FORMAT", "ReflectionCache", "clear_process_cache", "schema_fingerprint"]

CACHE_FORMAT = 1
"""Version of the cache file's layout; files of another version are ignored."""

_PROCESS: dict[str, tuple[str, Reflection]] = {}
_LOCK = threading.Lock()


def clear_process_cache() -> None:
    """Forget every reflection kept in this process."""
    with _LOCK:
        _PROCESS.clear()


class ReflectionCache:
    """The cached reflection of one system at one URL."""

    def __init__(self, url: URL, system: System, directory: Path | None) -> None:
        spec = sorted((d.name, d.db_schema or "", table_name(d)) for d in system.datasets)
        where = url.render_as_string(hide_password=True)
        self.key = hashlib.sha256(json.dumps([where, system.id, spec]).encode()).hexdigest()
        self.system = system
        self.directory = directory

    def get(self, connection: Connection, reflect: Callable[[], Reflection]) -> Reflection:
        """The reflection for the database's current schema: cached when its
        fingerprint is unchanged, else ``reflect()`` (and cached)."""
        fingerprint = schema_fingerprint(connection, self.system)
        with _LOCK:
            held = _PROCESS.get(self.key)
        if held is not None and held[0] == fingerprint:
            return held[1]
        stored = self._read(fingerprint, connection.dialect.name)
        if stored is not None:
            with _LOCK:
                _PROCESS[self.key] = (fingerprint, stored)
            return stored
        reflection = reflect()
        self._keep(fingerprint, connection.dialect.name, reflection)
        return reflection

    def put(self, connection: Connection, reflection: Reflection) -> None:
        """Keep a reflection made elsewhere (``systems check``)."""
        self._keep(schema_fingerprint(connection, self.system), connection.dialect.name, reflection)

    def _keep(self, fingerprint: str, dialect: str, reflection: Reflection) -> None:
        with _LOCK:
            _PROCESS[self.key] = (fingerprint, reflection)
        if self.directory is None:
            return
        data = {
            "format": CACHE_FORMAT,
            "fingerprint": fingerprint,
            "dialect": dialect,
            "reflection": _dump(reflection),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temporary, self._path())
        except OSError:
            return  # a cache that cannot be written only costs the next reflection

    def _read(self, fingerprint: str, dialect: str) -> Reflection | None:
        if self.directory is None:
            return None
        try:
            data = json.loads(self._path().read_text(encoding="utf-8"))
            if (
                data.get("format") != CACHE_FORMAT
                or data.get("fingerprint") != fingerprint
                or data.get("dialect") != dialect
            ):
                return None
            return _load(data["reflection"], self.system.id)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _path(self) -> Path:
        assert self.directory is not None
        return self.directory / f"{self.key}.json"


# -- fingerprints ----------------------------------------------------------------------------

_PG_FINGERPRINT = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:schemas AS text[]), CAST(:names AS text[])) AS w(sch, tab)
    ), mapped AS (
        SELECT w.sch, w.tab, c.oid
        FROM wanted w
        LEFT JOIN pg_namespace n
          ON n.nspname = w.sch OR (w.sch = '' AND n.nspname = ANY(current_schemas(false)))
        LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.tab
    )
    SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
        SELECT concat_ws(':', 'a', a.attrelid::text, a.attnum::text, a.attname::text,
                         a.atttypid::text, a.atttypmod::text, a.attnotnull::text) AS item
        FROM pg_attribute a JOIN mapped m ON a.attrelid = m.oid
        WHERE a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT concat_ws(':', 'i', i.indexrelid::text, i.indrelid::text, i.indisunique::text,
                         i.indkey::text)
        FROM pg_index i JOIN mapped m ON i.indrelid = m.oid
        UNION ALL
        SELECT concat_ws(':', 'c', c.oid::text, c.conrelid::text, c.contype::text)
        FROM pg_constraint c JOIN mapped m ON c.conrelid = m.oid
        UNION ALL
        SELECT concat_ws(':', 'm', m.sch, m.tab, coalesce(m.oid::text, '-')) FROM mapped m
    ) AS items
    """
)

_MYSQL_FINGERPRINT = text(
    """
    SELECT COUNT(*), COALESCE(SUM(CRC32(item)), 0), COALESCE(BIT_XOR(CRC32(item)), 0) FROM (
        SELECT CONCAT_WS(':', 'a', TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE,
                         IS_NULLABLE, COLUMN_KEY) AS item
        FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names
        UNION ALL
        SELECT CONCAT_WS(':', 'i', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE)
        FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names
        UNION ALL
        SELECT CONCAT_WS(':', 'k', TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME,
                         REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME)
        FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names
        UNION ALL
        SELECT CONCAT_WS(':', 't', TABLE_NAME, CREATE_TIME)
        FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names
    ) AS items
    """
).bindparams(bindparam("names", expanding=True))

_SQLITE_FINGERPRINT = text(
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN :names "
    "ORDER BY type, name"
).bindparams(bindparam("names", expanding=True))


def schema_fingerprint(connection: Connection, system: System) -> str:
    """A digest that changes whenever a table the system maps, or one of its
    columns, indexes or constraints, changes. One catalog query."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        wanted = sorted({(d.db_schema or "", table_name(d)) for d in system.datasets})
        params = {"schemas": [w[0] for w in wanted], "names": [w[1] for w in wanted]}
        return "pg:" + str(connection.execute(_PG_FINGERPRINT, params).scalar_one())
    names = sorted({table_name(d) for d in system.datasets}) or [""]
    if dialect in ("mysql", "mariadb"):
        row = connection.execute(_MYSQL_FINGERPRINT, {"names": names}).one()
        return "my:" + ":".join(str(value) for value in row)
    if dialect == "sqlite":
        rows = connection.execute(_SQLITE_FINGERPRINT, {"names": names}).all()
        digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode("utf-8"))
        return "sqlite:" + digest.hexdigest()
    return "none"  # pragma: no cover - the connector refuses other databases


# -- the file format -------------------------------------------------------------------------

_TYPES: dict[str, Callable[[Mapping[str, Any]], sqltypes.TypeEngine[Any]]] = {
    "String": lambda a: String(a.get("length")),
    "Text": lambda a: Text(a.get("length")),
    "Integer": lambda a: Integer(),
    "BigInteger": lambda a: BigInteger(),
    "SmallInteger": lambda a: SmallInteger(),
    "Boolean": lambda a: Boolean(),
    "Numeric": lambda a: Numeric(a.get("precision"), a.get("scale")),
    "Float": lambda a: Float(a.get("precision")),
    "Date": lambda a: Date(),
    "DateTime": lambda a: DateTime(timezone=bool(a.get("timezone"))),
    "Time": lambda a: Time(timezone=bool(a.get("timezone"))),
    "LargeBinary": lambda a: LargeBinary(a.get("length")),
}
"""The column types a cached table is rebuilt with; anything else is
rebuilt untyped (values pass through as the driver returns them)."""


def _dump_type(type_: sqltypes.TypeEngine[Any]) -> dict[str, Any]:
    try:
        generic = type_.as_generic()
    except NotImplementedError:
        return {"type": None}
    for name in _TYPES:
        if type(generic).__name__ == name:
            args = {
                key: getattr(generic, key)
                for key in ("length", "precision", "scale", "timezone")
                if isinstance(getattr(generic, key, None), int | bool)
            }
            return {"type": name, **args}
    return {"type": None}


def _dump(reflection: Reflection) -> dict[str, Any]:
    tables = {}
    for dataset, table in reflection.tables.items():
        tables[dataset] = {
            "name": table.name,
            "schema": table.schema,
            "primary_key": [c.name for c in table.primary_key.columns],
            "columns": [
                {
                    "name": column.name,
                    "nullable": bool(column.nullable),
                    "foreign_keys": [fk.target_fullname for fk in column.foreign_keys],
                    **_dump_type(column.type),
                }
                for column in table.columns
            ],
        }
    columns = {
        dataset: {name: _dump_info(info) for name, info in infos.items()}
        for dataset, infos in reflection.columns.items()
    }
    return {"tables": tables, "missing": dict(reflection.missing), "columns": columns}


def _dump_info(info: ColumnInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "kind": info.kind.value,
        "length": info.length,
        "nullable": info.nullable,
        "primary_key": info.primary_key,
        "unique": info.unique,
        "foreign_key": info.foreign_key,
        "referenced_by": info.referenced_by,
    }


def _load(data: Mapping[str, Any], system: str) -> Reflection:
    metadata = MetaData()
    tables: dict[str, Table] = {}
    for dataset, spec in data["tables"].items():
        columns = []
        for column in spec["columns"]:
            build = _TYPES.get(column["type"]) if column["type"] else None
            type_: sqltypes.TypeEngine[Any] = build(column) if build else sqltypes.NullType()
            keys = [ForeignKey(target) for target in column["foreign_keys"]]
            columns.append(Column(column["name"], type_, *keys, nullable=bool(column["nullable"])))
        constraint = [PrimaryKeyConstraint(*spec["primary_key"])] if spec["primary_key"] else []
        key = f"{spec['schema']}.{spec['name']}" if spec["schema"] else spec["name"]
        table = metadata.tables.get(key)
        if table is None:
            table = Table(spec["name"], metadata, *columns, *constraint, schema=spec["schema"])
        tables[dataset] = table
    infos = {
        dataset: {
            name: ColumnInfo(
                name=str(info["name"]),
                kind=ColumnKind(info["kind"]),
                length=None if info["length"] is None else int(info["length"]),
                nullable=bool(info["nullable"]),
                primary_key=bool(info["primary_key"]),
                unique=bool(info["unique"]),
                foreign_key=bool(info["foreign_key"]),
                referenced_by=bool(info["referenced_by"]),
            )
            for name, info in columns.items()
        }
        for dataset, columns in data["columns"].items()
    }
    return Reflection(system, tables, dict(data["missing"]), infos)
