"""The policy linter behind ``steward lint``.

A policy can load cleanly and still break the law or its own promises: a
purpose without a legal basis, consent that cannot be withdrawn, Google
Analytics in the USA beside "no data leaves the EEA". Each such check is a
:class:`Rule` with a stable code (``DS101``...), a severity and the article it
enforces; :func:`lint_policy` runs them all and returns located
:class:`Finding` objects. ``docs/lint-rules.md`` explains every rule.

Rules are pure functions of the :class:`~datasteward.policy.model.Policy`."""

from datasteward.lint.finding import Finding, Severity
from datasteward.lint.registry import RULES
from datasteward.lint.rule import Rule
from datasteward.lint.runner import lint_policy

__all__ = ["RULES", "Finding", "Rule", "Severity", "lint_policy"]
