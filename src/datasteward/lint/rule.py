"""A lint rule: a stable code, its severity and article, and a pure check.

A check receives the :class:`Policy` and yields ``(path, message)`` pairs; it
knows nothing of files or lines. The runner turns each pair into a
:class:`~datasteward.lint.finding.Finding`, so every rule is testable on a
plain model and every finding carries the same fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from datasteward.lint.finding import Severity
from datasteward.policy.model import Policy
from datasteward.policy.source import PathKey

__all__ = ["Check", "PathTuple", "Problems", "Rule"]

PathTuple = PathKey
"""A path into the policy document: ``("purposes", 2, "legal_bases")``."""

Problems = Iterable[tuple[PathTuple, str]]
Check = Callable[[Policy], Problems]


@dataclass(frozen=True)
class Rule:
    """One rule of the linter. ``code`` never changes once released."""

    code: str
    title: str
    severity: Severity
    article: str
    rationale: str
    check: Check
