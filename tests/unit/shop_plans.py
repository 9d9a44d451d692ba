"""The example shop policy, small variants of it, and a reflected schema
written by hand in which every declared column exists: what the planner
tests (tests/unit/test_locate_and_plan.py, test_holds.py, test_edits_plan.py)
plan against without a database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from datasteward.fulfilment.columns import ColumnInfo, ColumnKind
from datasteward.policy import parse_policy
from datasteward.policy.model import Policy

__all__ = ["LENGTHS", "SHOP", "column", "policy", "schema"]

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"


def policy(edit: Any = None) -> Policy:
    data = yaml.safe_load(SHOP.read_text(encoding="utf-8"))
    if edit is not None:
        edit(data)
    return parse_policy(yaml.safe_dump(data, allow_unicode=True), "shop.yaml").policy


def column(name: str, **overrides: Any) -> ColumnInfo:
    values: dict[str, Any] = {
        "name": name,
        "kind": ColumnKind.STRING,
        "length": 255,
        "nullable": True,
        "primary_key": False,
        "unique": False,
        "foreign_key": False,
        "referenced_by": False,
    }
    values.update(overrides)
    return ColumnInfo(**values)


LENGTHS = {"phone": 32, "first_name": 100, "last_name": 100, "country": 2, "email": 254}
"""Column lengths as the generated shop has them, where a test relies on one."""


def schema(policy: Policy) -> dict[str, dict[str, dict[str, ColumnInfo]]]:
    """A schema in which every declared column exists, typed plausibly:
    integer keys and relation columns, boolean restriction flags, dates for
    ``*_at`` and ``date_of_birth``, text of the shop's lengths otherwise."""
    found: dict[str, dict[str, dict[str, ColumnInfo]]] = {}
    for system in policy.systems:
        tables: dict[str, dict[str, ColumnInfo]] = {}
        for dataset in system.datasets:
            columns = {
                "id": column(
                    "id",
                    kind=ColumnKind.INTEGER,
                    length=64,
                    nullable=False,
                    primary_key=True,
                    referenced_by=True,
                )
            }
            for relation in dataset.relations:
                columns[relation.field] = column(
                    relation.field, kind=ColumnKind.INTEGER, length=64, foreign_key=True
                )
            if dataset.restriction_flag:
                columns[dataset.restriction_flag] = column(
                    dataset.restriction_flag, kind=ColumnKind.BOOLEAN, length=None
                )
            for f in dataset.fields:
                if f.name in columns:
                    continue
                kind = ColumnKind.STRING
                if "_at" in f.name or f.name in {"date_of_birth"}:
                    kind = ColumnKind.DATETIME if f.name.endswith("_at") else ColumnKind.DATE
                columns[f.name] = column(f.name, kind=kind, length=LENGTHS.get(f.name, 255))
            tables[dataset.name] = columns
        found[system.id] = tables
    return found
