"""``steward``: the entry point that assembles the command groups."""

from __future__ import annotations

import typer

from datasteward import __version__
from datasteward.cli import policy_commands

app = typer.Typer(
    name="steward",
    help="datasteward: one privacy policy file, enforced and explained.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"steward {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """datasteward: one privacy policy file, enforced and explained."""


policy_commands.register(app)


def run() -> None:
    """Console-script entry point."""
    app()
