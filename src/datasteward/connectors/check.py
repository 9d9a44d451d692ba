"""``steward systems check``: does the database match what the policy says?

For every dataset of a system the check compares the policy with the real
schema and reports, each as one :class:`CheckProblem`:

* **errors** (the engine cannot work as the policy says): a table that does
  not exist; a field, identity field, relation field, restriction flag or
  primary key column that does not exist; a declared primary key that is not
  the table's real one; a relation joining columns of incompatible types; a
  restriction flag that is not a true/false column; a field whose erasure
  action cannot apply to its column (the same verdict the plan gives);
* **warnings** (worth a look): a relation with no matching foreign key in
  the database; a column requests look rows up by (identity field, relation)
  that no index starts with; an undeclared column whose name or sampled
  values look like personal data.

Sampling reads up to :data:`SAMPLE_SIZE` non-empty values per undeclared
text column, from the first :data:`SAMPLE_WINDOW` rows only, so a check
costs the same on a table of a thousand rows and of a billion. Messages
give counts, never a sampled value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, Table, select
from sqlalchemy.schema import UniqueConstraint

from datasteward.connectors.personal import classify_values, personal_name
from datasteward.connectors.reflect import Reflection, qualified_name, table_name
from datasteward.errors import one_line
from datasteward.fulfilment.columns import STRING_KINDS, ColumnInfo, ColumnKind
from datasteward.fulfilment.fields import validate_field
from datasteward.policy.model import Dataset, System

__all__ = [
    "SAMPLE_SIZE",
    "SAMPLE_WINDOW",
    "CheckProblem",
    "Severity",
    "SystemCheck",
    "check_reflection",
]

SAMPLE_SIZE = 200
"""Most non-empty values sampled per undeclared text column."""

SAMPLE_WINDOW = 10_000
"""Rows of a table the sample is drawn from (the first ones the database returns)."""

_VALIDATION_KEY = b"datasteward systems check key"
"""Stands in for the erasure key: whether keyed_hash fits a column does not
depend on the key, and the check must not need the real one."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CheckProblem:
    """One finding. ``column`` is empty for a finding about a whole table."""

    severity: Severity
    dataset: str
    column: str
    message: str

    def __post_init__(self) -> None:
        # Names come from the policy and the database: one line each, always.
        object.__setattr__(self, "column", one_line(self.column))
        object.__setattr__(self, "message", one_line(self.message))

    def to_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "dataset": self.dataset,
            "column": self.column,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.dataset}.{self.column}" if self.column else self.dataset
        return f"{self.severity.value}: {where}: {self.message}"


@dataclass(frozen=True)
class SystemCheck:
    """The report of one system. ``ok`` is false when any problem is an error;
    warnings alone leave it true."""

    system: str
    problems: list[CheckProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[CheckProblem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[CheckProblem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def to_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "ok": self.ok,
            "problems": [p.to_dict() for p in self.problems],
        }


def check_reflection(connection: Connection, system: System, reflection: Reflection) -> SystemCheck:
    """Compare ``system`` with its reflected tables; sample undeclared text
    columns through ``connection``."""
    problems: list[CheckProblem] = []
    datasets = {d.name: d for d in system.datasets}
    for dataset in system.datasets:
        problems.extend(_check_dataset(connection, dataset, datasets, reflection))
    return SystemCheck(system.id, problems)


def _check_dataset(
    connection: Connection,
    dataset: Dataset,
    datasets: dict[str, Dataset],
    reflection: Reflection,
) -> list[CheckProblem]:
    name = dataset.name
    if name in reflection.missing:
        return [_error(name, "", f"table '{qualified_name(dataset)}' does not exist")]
    columns = reflection.columns[name]
    problems = _missing_columns(dataset, columns)
    problems += _primary_key(dataset, reflection.tables[name], columns)
    problems += _restriction_flag(dataset, columns)
    problems += _erasure(dataset, columns)
    for relation in dataset.relations:
        problems += _relation(dataset, relation.field, relation.references, datasets, reflection)
    problems += _unindexed(dataset, datasets, reflection.tables[name], columns)
    problems += _undeclared(connection, dataset, reflection.tables[name], columns)
    return problems


def _named_columns(dataset: Dataset) -> list[tuple[str, str]]:
    """Every ``(role, column)`` the dataset names, in policy order."""
    named = [("field", f.name) for f in dataset.fields]
    named += [("identity field", i.field) for i in dataset.identity_fields]
    named += [("relation", r.field) for r in dataset.relations]
    if dataset.restriction_flag is not None:
        named.append(("restriction flag", dataset.restriction_flag))
    named += [("primary key", key) for key in dataset.primary_key]
    return named


def _missing_columns(dataset: Dataset, columns: Mapping[str, ColumnInfo]) -> list[CheckProblem]:
    problems: list[CheckProblem] = []
    reported: set[str] = set()
    for role, column in _named_columns(dataset):
        if column not in columns and column not in reported:
            reported.add(column)
            problems.append(
                _error(
                    dataset.name,
                    column,
                    f"the {role} '{column}' is not a column of table '{qualified_name(dataset)}'",
                )
            )
    return problems


def _primary_key(
    dataset: Dataset, table: Table, columns: Mapping[str, ColumnInfo]
) -> list[CheckProblem]:
    real = [c.name for c in table.primary_key.columns]
    declared = list(dataset.primary_key)
    if any(key not in columns for key in declared) or sorted(real) == sorted(declared):
        return []  # a missing key column is already reported
    if not real:
        message = (
            f"the policy declares the primary key ({', '.join(declared)}) but table "
            f"'{qualified_name(dataset)}' has no primary key; rows are told apart by the "
            "declared columns, which the database does not keep unique"
        )
    else:
        message = (
            f"the declared primary key ({', '.join(declared)}) differs from the primary key "
            f"of table '{qualified_name(dataset)}' ({', '.join(real)})"
        )
    return [_error(dataset.name, ",".join(declared), message)]


def _restriction_flag(dataset: Dataset, columns: Mapping[str, ColumnInfo]) -> list[CheckProblem]:
    flag = dataset.restriction_flag
    if flag is None or flag not in columns or columns[flag].kind is ColumnKind.BOOLEAN:
        return []
    return [
        _error(
            dataset.name,
            flag,
            f"the restriction flag '{flag}' holds {columns[flag].kind.value} values; the engine "
            "sets it to true, so it must be a boolean column",
        )
    ]


def _erasure(dataset: Dataset, columns: Mapping[str, ColumnInfo]) -> list[CheckProblem]:
    problems: list[CheckProblem] = []
    for item in dataset.fields:
        column = columns.get(item.name)
        if column is None:
            continue
        for problem in validate_field(item, column, hash_key=_VALIDATION_KEY):
            problems.append(_error(dataset.name, item.name, f"{problem.action}: {problem.message}"))
    return problems


_COMPATIBLE: dict[ColumnKind, str] = {
    ColumnKind.STRING: "text",
    ColumnKind.TEXT: "text",
    ColumnKind.INTEGER: "number",
    ColumnKind.DECIMAL: "number",
    ColumnKind.FLOAT: "number",
    ColumnKind.BOOLEAN: "boolean",
    ColumnKind.DATE: "date",
    ColumnKind.DATETIME: "date",
    ColumnKind.BINARY: "binary",
}


def _relation(
    dataset: Dataset,
    column: str,
    references: str,
    datasets: dict[str, Dataset],
    reflection: Reflection,
) -> list[CheckProblem]:
    target_name, _, target_column = references.partition(".")
    target = datasets.get(target_name)
    own = reflection.columns[dataset.name].get(column)
    if target is None or own is None:
        return []  # an unknown dataset is a policy error; a missing column is reported
    if target_name in reflection.missing:
        return []  # reported with the target dataset
    other = reflection.columns[target_name].get(target_column)
    if other is None:
        return [
            _error(
                dataset.name,
                column,
                f"the relation to '{references}' names column '{target_column}', which table "
                f"'{qualified_name(target)}' does not have",
            )
        ]
    ours, theirs = _COMPATIBLE.get(own.kind), _COMPATIBLE.get(other.kind)
    if ours is None or theirs is None or ours != theirs:
        return [
            _error(
                dataset.name,
                column,
                f"the relation to '{references}' joins {own.kind.value} values with "
                f"{other.kind.value} values; they can never be equal",
            )
        ]
    if _has_foreign_key(reflection.tables[dataset.name], column, target, target_column):
        return []
    return [
        _warning(
            dataset.name,
            column,
            f"the relation to '{references}' has no matching foreign key in the database; "
            "the engine follows it all the same, but nothing keeps the rows consistent",
        )
    ]


def _has_foreign_key(table: Table, column: str, target: Dataset, target_column: str) -> bool:
    name = table_name(target)
    for key in table.columns[column].foreign_keys:
        referred, _, referred_column = key.target_fullname.rpartition(".")
        schema, _, referred_table = referred.rpartition(".")
        if (
            referred_table == name
            and referred_column == target_column
            and (not schema or not target.db_schema or schema == target.db_schema)
        ):
            return True
    return False


def _lookup_columns(dataset: Dataset, datasets: Mapping[str, Dataset]) -> dict[str, str]:
    """Columns a request looks rows up by, with the reason: identity fields,
    relation fields, and columns other datasets' relations point at."""
    found: dict[str, str] = {}
    for identity in dataset.identity_fields:
        found.setdefault(identity.field, "an identity field")
    for relation in dataset.relations:
        found.setdefault(relation.field, "a relation")
    for other in datasets.values():
        for relation in other.relations:
            target, _, column = relation.references.partition(".")
            if target == dataset.name:
                found.setdefault(column, f"the target of a relation of '{other.name}'")
    return found


def _leading_columns(table: Table) -> set[str]:
    """Columns an index can look up directly: the first column of the primary
    key, of every index and of every unique constraint."""
    firsts: list[object] = [next(iter(table.primary_key.columns), None)]
    firsts += [next(iter(index.columns), None) for index in table.indexes]
    firsts += [
        next(iter(c.columns), None) for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    return {str(getattr(column, "name", "")) for column in firsts if column is not None}


def _unindexed(
    dataset: Dataset,
    datasets: Mapping[str, Dataset],
    table: Table,
    columns: Mapping[str, ColumnInfo],
) -> list[CheckProblem]:
    """A column requests look rows up by, with no index starting with it:
    every request then reads the whole table."""
    indexed = _leading_columns(table)
    return [
        _warning(
            dataset.name,
            column,
            f"column '{column}' is {reason}, so requests look rows up by it, but no index "
            f"starts with it: every request reads the whole table '{qualified_name(dataset)}'",
        )
        for column, reason in _lookup_columns(dataset, datasets).items()
        if column in columns and column not in indexed
    ]


def _undeclared(
    connection: Connection, dataset: Dataset, table: Table, columns: Mapping[str, ColumnInfo]
) -> list[CheckProblem]:
    named = {column for _, column in _named_columns(dataset)}
    problems: list[CheckProblem] = []
    for name, info in columns.items():
        if name in named:
            continue
        reasons: list[str] = []
        word = personal_name(name)
        if word is not None:
            reasons.append(f"its name suggests personal data ('{word}')")
        if info.kind in STRING_KINDS:
            verdict = classify_values(_sample(connection, table, name))
            if verdict is not None:
                reasons.append(
                    f"{verdict.matched} of {verdict.sampled} sampled values look like "
                    f"{verdict.kind}"
                )
        if reasons:
            problems.append(
                _warning(
                    dataset.name,
                    name,
                    f"column '{name}' is not declared in the policy, but {' and '.join(reasons)}; "
                    "declare it as a field (with its erasure action) or confirm it holds no "
                    "personal data",
                )
            )
    return problems


def _sample(connection: Connection, table: Table, name: str) -> Iterable[object]:
    """Up to :data:`SAMPLE_SIZE` non-empty values of one column, drawn from the
    first :data:`SAMPLE_WINDOW` rows."""
    column = table.columns[name]
    window = select(column.label("v")).limit(SAMPLE_WINDOW).subquery("w")
    statement = select(window.c.v).where(window.c.v.is_not(None)).limit(SAMPLE_SIZE)
    return connection.execute(statement).scalars().all()


def _error(dataset: str, column: str, message: str) -> CheckProblem:
    return CheckProblem(Severity.ERROR, dataset, column, message)


def _warning(dataset: str, column: str, message: str) -> CheckProblem:
    return CheckProblem(Severity.WARNING, dataset, column, message)
