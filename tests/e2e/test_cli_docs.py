"""Docs must not fall behind the CLI: every command and option of ``steward``
is described in docs/cli.md."""

from __future__ import annotations

from pathlib import Path

import typer

from datasteward.cli.main import app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def _commands() -> dict[str, list[str]]:
    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    found: dict[str, list[str]] = {}
    for name, command in group.commands.items():
        options = [
            opt
            for param in command.params
            for opt in param.opts
            if opt.startswith("--") and opt != "--help"
        ]
        found[name] = options
    return found


def test_every_command_has_a_section() -> None:
    commands = _commands()
    assert commands, "no commands found"
    for name in commands:
        assert f"### `steward {name}" in DOC, f"docs/cli.md has no section for `steward {name}`"


def test_every_option_is_documented_in_its_section() -> None:
    for name, options in _commands().items():
        start = DOC.index(f"### `steward {name}")
        end = DOC.find("\n### ", start + 1)
        section = DOC[start : end if end != -1 else None]
        for option in options:
            assert option in section, f"`steward {name} {option}` is not documented"


def test_exit_codes_documented() -> None:
    for code in ("| 0 |", "| 1 |", "| 2 |"):
        assert code in DOC
