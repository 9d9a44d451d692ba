"""The layer rule of the architecture, checked on the import graph: pure
domain modules never import adapters, frameworks or entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "datasteward"

DOMAIN = [
    "legaltime",
    "policy",
    "lint",
    "documents",
    "identity",
    "consent",
    "audit",
    "subjects",
    "fulfilment",
    "packages",
    "requests",
]
FORBIDDEN_IN_DOMAIN = {
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "rich",
    "httpx",
    "huey",
    "psycopg",
    "pymysql",
    "smtplib",
    "datasteward.cli",
    "datasteward.store",
    "datasteward.connectors",
    "datasteward.notify",
    "datasteward.jobs",
    "datasteward.web",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _domain_modules() -> list[Path]:
    return sorted(p for package in DOMAIN for p in (PACKAGE / package).rglob("*.py"))


def test_domain_packages_exist() -> None:
    assert len(_domain_modules()) >= 10


@pytest.mark.parametrize("module", _domain_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_domain_module_imports_nothing_outward(module: Path) -> None:
    bad = {
        name
        for name in _imports(module)
        for forbidden in FORBIDDEN_IN_DOMAIN
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{module.relative_to(PACKAGE)} imports {sorted(bad)}"
