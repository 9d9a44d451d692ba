"""The one exception hierarchy of datasteward.

Every error the engine raises on purpose derives from :class:`StewardError`
and carries typed fields, so the CLI and (later) the HTTP API can turn it into
the single error shape (see ``datasteward.cli.output.error_body``) without
parsing messages::

    StewardError                      code, message, exit_code
    ├── PolicyError                   something is wrong with a policy file
    │   ├── PolicyLoadError           unusable input: I/O, YAML syntax, schema,
    │   │                             references; carries every problem found
    │   └── PolicyLintFailed          the policy loaded but has lint errors
    └── UsageError                    a command was called with bad arguments

Exit codes are part of the documented interface: 0 success, 1 the input was
read and found wanting (lint errors), 2 unusable input.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Location",
    "PolicyError",
    "PolicyLintFailed",
    "PolicyLoadError",
    "Problem",
    "StewardError",
    "UsageError",
    "error_body",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2


@dataclass(frozen=True)
class Location:
    """Where in a source file something is: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One precise problem in an input: where, which policy path, and what."""

    message: str
    path: str = ""
    location: Location | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"


class StewardError(Exception):
    """Base of every deliberate datasteward error."""

    code = "error"
    exit_code = EXIT_UNUSABLE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyError(StewardError):
    """Something is wrong with a policy file."""

    code = "policy_error"


class PolicyLoadError(PolicyError):
    """The policy file cannot be used: unreadable, not YAML, or not a policy.

    ``problems`` holds every problem found, each with its location; the first
    is the one shown when only one line is wanted.
    """

    code = "policy_invalid"
    exit_code = EXIT_UNUSABLE

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("PolicyLoadError needs at least one problem")
        super().__init__(str(problems[0]))
        self.problems = problems

    def lines(self) -> list[str]:
        """One line per problem, ``file:line:col: path: message``."""
        return [str(p) for p in self.problems]


class PolicyLintFailed(PolicyError):
    """The policy loaded, but the linter found errors (exit 1)."""

    code = "policy_lint_failed"
    exit_code = EXIT_FINDINGS


class UsageError(StewardError):
    """A command was called with arguments that cannot work."""

    code = "usage_error"
    exit_code = EXIT_UNUSABLE


def error_body(error: StewardError) -> dict[str, object]:
    """The one error shape, shared by the CLI's ``--json`` output and the HTTP API::

        {"error": {"code": str, "message": str, "problems": [
            {"message": str, "path": str, "file": str|null, "line": int|null, "column": int|null}
        ]}}
    """
    problems = getattr(error, "problems", None) or [Problem(error.message)]
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "problems": [
                {
                    "message": p.message,
                    "path": p.path,
                    "file": p.location.file if p.location else None,
                    "line": p.location.line if p.location else None,
                    "column": p.location.column if p.location else None,
                }
                for p in problems
            ],
        }
    }
