"""How commands print: JSON on stdout for ``--json``, human text otherwise,
and every deliberate error turned into the one error shape and exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

from datasteward.errors import StewardError, UsageError, error_body

__all__ = ["emit_json", "fail", "reporting_errors", "write_output"]


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(error: StewardError, *, as_json: bool) -> NoReturn:
    """Report ``error`` in the requested shape and exit with its code."""
    if as_json:
        emit_json(error_body(error))
    else:
        lines = error.lines() if hasattr(error, "lines") else [error.message]
        for line in lines:
            sys.stderr.write(f"error: {line}\n")
    raise typer.Exit(error.exit_code)


@contextmanager
def reporting_errors(*, as_json: bool) -> Iterator[None]:
    """Turn any :class:`StewardError` raised inside into output + exit code."""
    try:
        yield
    except StewardError as error:
        fail(error, as_json=as_json)


def write_output(text: str, output: Path | None) -> None:
    """Write to ``output`` (atomically: no half-written file) or to stdout."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
