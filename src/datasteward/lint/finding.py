"""What the linter reports: a :class:`Finding` is one broken promise or gap
in a policy, located by policy path and source line, and tied to the article
of law that makes it matter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Finding", "Severity"]


class Severity(StrEnum):
    """How much a finding matters.

    ``error``: the policy promises or omits something the law does not allow;
    ``steward lint`` fails. ``warning``: very likely a gap, but the policy can
    be right in some circumstances. ``info``: worth a look."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One finding: which rule, how severe, what exactly, and where."""

    code: str
    severity: Severity
    message: str
    article: str
    path: str
    line: int | None

    def to_dict(self) -> dict[str, object]:
        """Plain values for ``--json`` output; keys are part of the interface."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "article": self.article,
            "path": self.path,
            "line": self.line,
        }

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.code} {self.severity.value}: {self.message} [{self.article}]"
