"""``python -m datasteward.cli``: the same as the ``steward`` script."""

from datasteward.cli.main import run

run()
