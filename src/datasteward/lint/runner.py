"""Run every rule over a loaded policy and locate each finding in the file.

Rules see only the :class:`Policy`; here each ``(path, message)`` they yield
becomes a :class:`Finding` with the rule's code, severity and article, the
dotted path and the source line. Findings are returned in file order so the
report reads top to bottom."""

from __future__ import annotations

from datasteward.lint.finding import Finding
from datasteward.lint.registry import RULES
from datasteward.lint.rule import Rule
from datasteward.policy.loader import LoadedPolicy
from datasteward.policy.source import format_path

__all__ = ["lint_policy"]


def lint_policy(loaded: LoadedPolicy, rules: tuple[Rule, ...] = RULES) -> list[Finding]:
    """Every finding of ``rules`` (default: all) on ``loaded``, sorted by
    ``(line or 0, code)``; ties keep a stable order by path and message."""
    findings: list[Finding] = []
    policy = loaded.policy
    for rule in rules:
        for path, message in rule.check(policy):
            findings.append(
                Finding(
                    code=rule.code,
                    severity=rule.severity,
                    message=message,
                    article=rule.article,
                    path=format_path(path),
                    line=loaded.line(path),
                )
            )
    findings.sort(key=lambda f: (f.line or 0, f.code, f.path, f.message))
    return findings
