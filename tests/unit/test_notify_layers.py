"""The notify package keeps its layers: the message builders, the Art. 19
rules, the renderer and the outbox service import no database, HTTP or SMTP
library (SQL lives in ``store.outbox_store``, I/O in the senders), and each
module's ``__all__`` lists exactly its public names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

NOTIFY = Path(__file__).resolve().parents[2] / "src" / "datasteward" / "notify"
PURE = ["messages", "art19", "render", "ports", "senders", "fake", "outbox"]
ADAPTER_LIBRARIES = {
    "sqlalchemy",
    "httpx",
    "smtplib",
    "ssl",
    "datasteward.store",
    "datasteward.cli",
}
MODULES = sorted(p.stem for p in NOTIFY.glob("*.py") if p.stem != "__init__")


def imports(path: Path) -> set[str]:
    """Module-level imports only: a deferred import inside a function (the
    outbox's default SQL rows) is wiring, not a dependency of the module."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_no_io_library_in_the_core(module: str) -> None:
    found = imports(NOTIFY / f"{module}.py")
    bad = {n for n in found for lib in ADAPTER_LIBRARIES if n == lib or n.startswith(lib + ".")}
    assert not bad, f"notify/{module}.py imports {sorted(bad)}"


def test_the_package_does_not_load_the_senders() -> None:
    assert not imports(NOTIFY / "__init__.py") & {
        "datasteward.notify.smtp",
        "datasteward.notify.webhook",
        "datasteward.notify.wiring",
    }


@pytest.mark.parametrize("name", ["__init__", *MODULES])
def test_all_lists_the_public_names(name: str) -> None:
    dotted = "datasteward.notify" + ("" if name == "__init__" else f".{name}")
    module = importlib.import_module(dotted)
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", None) == dotted
        and (isinstance(value, type) or callable(value))
    }
    assert defined <= exported, f"{dotted} defines unlisted {sorted(defined - exported)}"
