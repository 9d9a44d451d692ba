"""Retention keeps the layer rule: its pure modules and use cases import no
database library, framework or adapter; only its adapter modules do."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "datasteward" / "retention"
ADAPTERS = {"sql.py", "sql_anchor.py", "sql_conditions.py", "engine_store.py"}
FORBIDDEN = (
    "sqlalchemy",
    "alembic",
    "typer",
    "rich",
    "fastapi",
    "psycopg",
    "pymysql",
    "datasteward.cli",
    "datasteward.store",
    "datasteward.connectors",
    "datasteward.jobs",
    "datasteward.web",
    "datasteward.retention.sql",
    "datasteward.retention.sql_anchor",
    "datasteward.retention.sql_conditions",
    "datasteward.retention.engine_store",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


PURE = sorted(p for p in PACKAGE.glob("*.py") if p.name not in ADAPTERS)


def test_the_adapters_exist_and_the_rest_is_pure() -> None:
    assert {p.name for p in PACKAGE.glob("*.py")} >= ADAPTERS
    assert {p.name for p in PURE} >= {"compile.py", "expiry.py", "plan.py", "sweep.py"}


@pytest.mark.parametrize("module", PURE, ids=lambda p: p.name)
def test_pure_module_imports_nothing_outward(module: Path) -> None:
    bad = {
        name
        for name in _imports(module)
        for forbidden in FORBIDDEN
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"retention/{module.name} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "name",
    [
        "datasteward.retention",
        "datasteward.retention.compile",
        "datasteward.retention.expiry",
        "datasteward.retention.model",
        "datasteward.retention.plan",
        "datasteward.retention.ports",
        "datasteward.retention.sweep",
        "datasteward.retention.housekeeping",
        "datasteward.retention.sql",
        "datasteward.retention.sql_anchor",
        "datasteward.retention.sql_conditions",
        "datasteward.retention.engine_store",
    ],
)
def test_the_public_api_is_listed(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", None) == name
        and (isinstance(value, type) or callable(value))
    }
    assert defined <= exported, f"{name} defines unlisted {sorted(defined - exported)}"


def test_retention_errors_have_the_one_error_shape() -> None:
    from datasteward.errors import error_body
    from datasteward.retention import RetentionError

    body = error_body(RetentionError("the batch size must be at least 1", rule="r"))
    assert body["error"]["code"] == "retention_error"  # type: ignore[index]
    assert RetentionError("x").exit_code == 2
