"""Shared helpers of the lint rule tests: build a policy from the minimal
fixture with a change, lint it through the real loader, and check the one
finding expected (code, path, line, message) or that the rule stays quiet."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from datasteward.lint import Finding, lint_policy
from datasteward.lint.registry import rule_for
from datasteward.policy import parse_policy

# -- building policies from the minimal fixture --------------------------------
# Each case starts from tests/fixtures/minimal.yaml as plain data, applies a
# change, writes YAML and lints it through the real loader, so the path and
# line asserted are the ones a user would see.

Change = Callable[[dict[str, Any]], None]
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parts(path: str) -> list[str | int]:
    return [int(i) if i else name for name, i in _PART.findall(path)]


def _parent(data: dict[str, Any], path: str) -> tuple[Any, str | int]:
    *head, last = _parts(path)
    node: Any = data
    for part in head:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    return node, last


def put(path: str, value: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        node, last = _parent(data, path)
        node[last] = value

    return change


def drop(path: str) -> Change:
    def change(data: dict[str, Any]) -> None:
        node, last = _parent(data, path)
        del node[last]

    return change


def add(path: str, value: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        node, last = _parent(data, path)
        node.setdefault(last, []).append(value)

    return change


def both(*changes: Change) -> Change:
    def change(data: dict[str, Any]) -> None:
        for step in changes:
            step(data)

    return change


@dataclass(frozen=True)
class Case:
    """A change to the minimal policy and, when the rule must fire, the one
    finding expected: its path, a text on its line (below ``after``), and a
    part of its message."""

    code: str
    change: Change
    path: str | None = None
    at: str | None = None
    after: str | None = None
    says: str = ""


def _lint(text: str, change: Change) -> tuple[str, list[Finding]]:
    data = yaml.safe_load(text)
    change(data)
    dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    return dumped, lint_policy(parse_policy(dumped, "policy.yaml"))


def _line_of(text: str, needle: str, after: str | None) -> int:
    lines = text.splitlines()
    start = 0 if after is None else next(i for i, s in enumerate(lines) if after in s) + 1
    return next(i + 1 for i in range(start, len(lines)) if needle in lines[i])


def check_fires(case: Case, minimal_text: str) -> None:
    text, findings = _lint(minimal_text, case.change)
    found = [f for f in findings if f.code == case.code]
    assert len(found) == 1, f"{case.code}: {found}\n{text}"
    (finding,) = found
    assert finding.path == case.path
    assert case.at is not None
    assert finding.line == _line_of(text, case.at, case.after)
    assert case.says in finding.message
    rule = rule_for(case.code)
    assert rule is not None
    assert (finding.severity, finding.article) == (rule.severity, rule.article)


def check_quiet(case: Case, minimal_text: str) -> None:
    text, findings = _lint(minimal_text, case.change)
    assert [f for f in findings if f.code == case.code] == [], text
