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
    ├── UsageError                    a command was called with bad arguments
    ├── InvalidIdentity               an identity (email, phone, national id) is malformed
    ├── CryptoError                   keys missing, unusable or a ciphertext fails to open
    │   ├── KeyUnavailable            no master key, unreadable key file, destroyed subject key
    │   └── DecryptionFailed          wrong key or tampered ciphertext
    ├── InvalidInput                  a value that cannot be acted on (wrong basis, bad time)
    │   └── OperatorError             (fulfilment) a cell an erasure action cannot take
    ├── NotFound                      an id that names nothing (subject, purpose, request)
    ├── ConnectorError                (connectors) a system is unreachable or unlike its policy
    ├── Conflict                      the state forbids the action (nothing to withdraw, ...)
    └── StoreError                    the engine store is missing, not migrated or unreachable

Exit codes are part of the documented interface: 0 success, 1 the input was
read and found wanting (lint errors, a broken audit chain), 2 unusable input
(bad file, bad argument, unknown id), 3 the current state forbids the action.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Conflict",
    "CryptoError",
    "DecryptionFailed",
    "InvalidIdentity",
    "InvalidInput",
    "KeyUnavailable",
    "Location",
    "NotFound",
    "PolicyError",
    "PolicyLintFailed",
    "PolicyLoadError",
    "Problem",
    "StewardError",
    "StoreError",
    "UsageError",
    "error_body",
    "one_line",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2
EXIT_CONFLICT = 3


@dataclass(frozen=True)
class Location:
    """Where in a source file something is: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``), so it fits one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Problem:
    """One precise problem in an input: where, which policy path, and what."""

    message: str
    path: str = ""
    location: Location | None = None

    def __post_init__(self) -> None:
        # One problem is one line: control characters from the input (a key
        # holding a line break) are shown escaped, never raw.
        object.__setattr__(self, "message", one_line(self.message))
        object.__setattr__(self, "path", one_line(self.path))

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


class InvalidIdentity(StewardError):
    """An identity could not be parsed or validated; ``kind`` says which sort."""

    code = "invalid_identity"
    exit_code = EXIT_UNUSABLE

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind}: {reason}")
        self.kind = kind
        self.reason = reason


class CryptoError(StewardError):
    """Something about keys or ciphertexts is wrong."""

    code = "crypto_error"
    exit_code = EXIT_UNUSABLE


class KeyUnavailable(CryptoError):
    """A needed key does not exist: no master key, or a subject key was destroyed."""

    code = "key_unavailable"


class DecryptionFailed(CryptoError):
    """A ciphertext did not open: wrong key, or it was altered."""

    code = "decryption_failed"


class InvalidInput(StewardError):
    """A well-formed value that cannot be acted on, e.g. consent for a purpose
    that does not rest on consent, or a time in the future."""

    code = "invalid_input"
    exit_code = EXIT_UNUSABLE


class NotFound(StewardError):
    """An id names nothing: ``kind`` is what was looked for."""

    code = "not_found"
    exit_code = EXIT_UNUSABLE

    def __init__(self, kind: str, ident: str, hint: str = "") -> None:
        super().__init__(f"unknown {kind} '{ident}'{hint}")
        self.kind = kind
        self.ident = ident


class Conflict(StewardError):
    """The current state forbids the action (e.g. withdrawing absent consent)."""

    code = "conflict"
    exit_code = EXIT_CONFLICT


class StoreError(StewardError):
    """The engine store cannot be used (not initialised, not migrated, unreachable)."""

    code = "store_error"
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
