"""What a company database really holds, for the tables a policy names.

Every table and column name in a policy is text someone typed; none of it
reaches SQL until it has been found in the database. :func:`reflect_system`
asks the database which tables exist, reflects only those the policy names
(one ``MetaData.reflect(only=...)`` per schema, never the whole database),
and keeps the reflected :class:`~sqlalchemy.Table` objects. Queries are then
built from those objects, so SQLAlchemy quotes every identifier and a name
such as ``customers; DROP TABLE orders`` is simply a table that does not
exist.

Each column is also described as a :class:`ColumnInfo`, the small,
library-free picture the erasure operators judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import UniqueConstraint

from datasteward.errors import StewardError, one_line
from datasteward.fulfilment.columns import ColumnInfo, ColumnKind
from datasteward.policy.model import Dataset, System

__all__ = [
    "ConnectorError",
    "Reflection",
    "column_info",
    "column_kind",
    "qualified_name",
    "reflect_system",
    "table_name",
]


class ConnectorError(StewardError):
    """A company system cannot be reached or used as the policy describes it:
    no URL, an unreachable server, a table or column the policy names but the
    database lacks, or a statement the database refused.

    ``system`` and ``dataset`` say where, when known. The message never holds
    data read from the system (a refused statement is named by its SQLSTATE,
    not by the driver's text, which may quote the values)."""

    code = "connector_error"

    def __init__(
        self, message: str, *, system: str | None = None, dataset: str | None = None
    ) -> None:
        super().__init__(one_line(message))
        self.system = system
        self.dataset = dataset


def table_name(dataset: Dataset) -> str:
    """The table a dataset lives in: ``table`` when given, else its name."""
    return dataset.table or dataset.name


def qualified_name(dataset: Dataset) -> str:
    """``schema.table`` or ``table``, for messages."""
    name = table_name(dataset)
    return f"{dataset.db_schema}.{name}" if dataset.db_schema else name


@dataclass(frozen=True)
class Reflection:
    """The reflected tables of one system, by dataset name.

    ``missing`` holds every dataset whose table the database lacks, with the
    table name as the policy wrote it. The accessors raise
    :class:`ConnectorError` for anything not found, so no name the policy
    gives can be used before it has been checked here."""

    system: str
    tables: Mapping[str, Table]
    missing: Mapping[str, str]
    columns: Mapping[str, Mapping[str, ColumnInfo]]

    def table(self, dataset: str) -> Table:
        table = self.tables.get(dataset)
        if table is None:
            if dataset in self.missing:
                raise ConnectorError(
                    f"dataset '{dataset}': table {_quoted(self.missing[dataset])} does not "
                    "exist in the database",
                    system=self.system,
                    dataset=dataset,
                )
            raise ConnectorError(
                f"the policy declares no dataset {_quoted(dataset)} in system '{self.system}'",
                system=self.system,
                dataset=dataset,
            )
        return table

    def column(self, dataset: str, name: str) -> Column[object]:
        table = self.table(dataset)
        column = table.columns.get(name)
        if column is None or column.name != name:
            raise ConnectorError(
                f"dataset '{dataset}': column {_quoted(name)} does not exist in table "
                f"{_quoted(table.name)}",
                system=self.system,
                dataset=dataset,
            )
        return column

    def info(self, dataset: str, name: str) -> ColumnInfo:
        self.column(dataset, name)
        return self.columns[dataset][name]


def _quoted(name: str) -> str:
    return f"'{one_line(name)}'"


def reflect_system(connection: Connection, system: System) -> Reflection:
    """Reflect the tables the datasets of ``system`` name, and only those."""
    inspector = inspect(connection)
    wanted: dict[str | None, set[str]] = {}
    for dataset in system.datasets:
        wanted.setdefault(dataset.db_schema, set()).add(table_name(dataset))
    metadata = MetaData()
    present: dict[str | None, set[str]] = {}
    for schema, names in wanted.items():
        if schema is not None and schema not in inspector.get_schema_names():
            present[schema] = set()
            continue
        existing = set(inspector.get_table_names(schema=schema))
        existing |= set(inspector.get_view_names(schema=schema))
        found = names & existing
        present[schema] = found
        if found:
            metadata.reflect(
                connection, schema=schema, only=sorted(found), views=True, resolve_fks=False
            )
    tables: dict[str, Table] = {}
    missing: dict[str, str] = {}
    for dataset in system.datasets:
        name = table_name(dataset)
        if name in present[dataset.db_schema]:
            key = f"{dataset.db_schema}.{name}" if dataset.db_schema else name
            tables[dataset.name] = metadata.tables[key]
        else:
            missing[dataset.name] = qualified_name(dataset)
    referenced = _referenced_columns(metadata.tables.values())
    dialect = connection.dialect.name
    columns = {
        name: {
            column.name: column_info(column, dialect, referenced=_key(column) in referenced)
            for column in table.columns
        }
        for name, table in tables.items()
    }
    return Reflection(system.id, tables, missing, columns)


def _key(column: Column[object]) -> tuple[str, str]:
    """``(table, column)`` with the table's name as foreign keys spell it."""
    table = column.table
    schema = getattr(table, "schema", None)
    name = str(getattr(table, "name", ""))
    return (f"{schema}.{name}" if schema else name, column.name)


def _referenced_columns(tables: Iterable[Table]) -> set[tuple[str, str]]:
    """Every ``(table, column)`` some reflected foreign key points at.

    Foreign keys are read unresolved (``resolve_fks=False`` keeps reflection
    to the named tables), so the target is the text ``[schema.]table.column``.
    A foreign key without a schema points into the default schema; it is
    recorded under the bare table name, which is how tables of the default
    schema are keyed too."""
    found: set[tuple[str, str]] = set()
    for table in tables:
        for key in table.foreign_keys:
            target, _, column = key.target_fullname.rpartition(".")
            found.add((target, column))
    return found


def _unique_columns(table: Table) -> set[str]:
    """Columns in any UNIQUE constraint or unique index, alone or with others:
    a fixed value collides in a composite constraint as soon as the other
    columns agree (see :class:`ColumnInfo`)."""
    names: set[str] = set()
    for index in table.indexes:
        if index.unique:
            names.update(c.name for c in index.columns if isinstance(c, Column))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names.update(c.name for c in constraint.columns)
    return names


def column_info(column: Column[object], dialect: str, *, referenced: bool) -> ColumnInfo:
    """The operators' picture of one reflected column."""
    kind, length = column_kind(column.type, dialect)
    table = column.table
    unique = isinstance(table, Table) and column.name in _unique_columns(table)
    return ColumnInfo(
        name=column.name,
        kind=kind,
        length=length,
        nullable=bool(column.nullable) and not column.primary_key,
        primary_key=column.primary_key,
        unique=unique,
        foreign_key=bool(column.foreign_keys),
        referenced_by=referenced,
    )


_MYSQL_INTEGER_BITS: tuple[tuple[type[Any], int], ...] = (
    (mysql.TINYINT, 8),
    (mysql.SMALLINT, 16),
    (mysql.MEDIUMINT, 24),
    (mysql.BIGINT, 64),
)


def column_kind(type_: sqltypes.TypeEngine[object], dialect: str) -> tuple[ColumnKind, int | None]:
    """``(kind, length)`` of a reflected SQL type.

    The order of the checks matters: SQLAlchemy derives Enum and Text from
    String, Float from Numeric, and BigInteger from Integer. MySQL and
    MariaDB store a BOOLEAN as TINYINT(1). SQLite keeps every integer in up to
    64 bits whatever the declared type, so its integer columns are 64 bits
    wide."""
    if isinstance(type_, sqltypes.Boolean):
        return ColumnKind.BOOLEAN, None
    if isinstance(type_, mysql.TINYINT) and getattr(type_, "display_width", None) == 1:
        return ColumnKind.BOOLEAN, None
    if isinstance(type_, sqltypes.Integer):
        return ColumnKind.INTEGER, _integer_bits(type_, dialect)
    if isinstance(type_, sqltypes.Float):
        return ColumnKind.FLOAT, None
    if isinstance(type_, sqltypes.Numeric):
        return ColumnKind.DECIMAL, None
    if isinstance(type_, sqltypes.Enum):
        return ColumnKind.OTHER, None
    if isinstance(type_, sqltypes.Text):
        return ColumnKind.TEXT, None
    if isinstance(type_, sqltypes.String):
        if isinstance(type_, mysql.SET):
            return ColumnKind.OTHER, None
        if type_.length is None:
            return ColumnKind.TEXT, None
        return ColumnKind.STRING, type_.length
    if isinstance(type_, sqltypes.DateTime):
        return ColumnKind.DATETIME, None
    if isinstance(type_, sqltypes.Date):
        return ColumnKind.DATE, None
    if isinstance(type_, sqltypes.LargeBinary | sqltypes.BINARY | sqltypes.VARBINARY):
        return ColumnKind.BINARY, getattr(type_, "length", None)
    return ColumnKind.OTHER, None


def _integer_bits(type_: sqltypes.Integer, dialect: str) -> int:
    if dialect == "sqlite":
        return 64
    for cls, bits in _MYSQL_INTEGER_BITS:
        if isinstance(type_, cls):
            return bits
    if isinstance(type_, sqltypes.BigInteger):
        return 64
    if isinstance(type_, sqltypes.SmallInteger):
        return 16
    return 32
