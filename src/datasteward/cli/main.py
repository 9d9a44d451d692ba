"""``steward``: the entry point that assembles the command groups."""

from __future__ import annotations

from pathlib import Path

import typer

from datasteward import __version__
from datasteward.cli import engine_commands, policy_commands, request_commands
from datasteward.cli.consent_commands import consent_app
from datasteward.cli.fulfil_commands import fulfil_app
from datasteward.cli.outbox_commands import outbox_app
from datasteward.cli.retention_commands import retention_app
from datasteward.cli.shop_commands import shop_app
from datasteward.cli.systems_commands import systems_app

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
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", callback=_version, is_eager=True
    ),
    home: Path | None = typer.Option(
        None, "--home", help="Data directory (default: STEWARD_HOME or ./steward-data)."
    ),
) -> None:
    """datasteward: one privacy policy file, enforced and explained."""
    ctx.obj = {"home": home}


policy_commands.register(app)
engine_commands.register(app)
app.add_typer(consent_app, name="consent")
app.add_typer(shop_app, name="shop")
app.add_typer(systems_app, name="systems")
app.add_typer(fulfil_app, name="fulfil")
app.add_typer(outbox_app, name="outbox")
app.add_typer(retention_app, name="retention")
request_commands.register(app)


def run() -> None:
    """Console-script entry point."""
    app()
