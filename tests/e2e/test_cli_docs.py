"""Docs must not fall behind the CLI: every command, subcommand and option of
``steward`` is described in docs/cli.md, and every setting in docs/settings.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from datasteward.cli.main import app
from datasteward.settings import SETTINGS

DOCS = Path(__file__).resolve().parents[2] / "docs"
CLI_DOC = (DOCS / "cli.md").read_text(encoding="utf-8")


def _walk(command: Any, prefix: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found.update(_walk(sub, f"{prefix} {name}".strip()))
        return found
    found[prefix] = [
        opt
        for param in command.params
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ]
    return found


def _commands() -> dict[str, list[str]]:
    return _walk(typer.main.get_command(app), "")


def _section(name: str) -> str:
    start = CLI_DOC.index(f"### `steward {name}")
    end = CLI_DOC.find("\n### ", start + 1)
    return CLI_DOC[start : end if end != -1 else None]


def test_every_command_has_a_section() -> None:
    commands = _commands()
    assert len(commands) >= 10
    for name in commands:
        assert f"### `steward {name}" in CLI_DOC, f"docs/cli.md has no section for `steward {name}`"


def test_every_option_is_documented_in_its_section() -> None:
    for name, options in _commands().items():
        section = _section(name)
        for option in options:
            assert option in section, f"`steward {name} {option}` is not documented"


def test_global_options_documented() -> None:
    for option in ("--home", "--version"):
        assert option in CLI_DOC


def test_exit_codes_documented() -> None:
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in CLI_DOC


def test_every_setting_documented() -> None:
    doc = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.env}`" in doc, f"{setting.env} is not in docs/settings.md"
