"""Every lint rule, in code order. Codes are stable: a released code keeps
its meaning, and a retired code is never reused.

Codes are grouped by hundreds: DS1xx controller and notice promises, DS2xx
purposes and legal bases, DS3xx recipients and transfers, DS4xx retention,
DS5xx cookies, DS6xx systems and field mapping, DS7xx data subjects and
rights."""

from __future__ import annotations

import re

from datasteward.lint.rule import Rule
from datasteward.lint.rules import (
    bases,
    controller,
    cookies,
    mapping,
    retention,
    subjects,
    transfers,
)

__all__ = ["RULES", "rule_for"]

CODE_PATTERN = re.compile(r"^DS[1-9]\d\d$")


def _collect() -> tuple[Rule, ...]:
    rules = sorted(
        (
            *controller.RULES,
            *bases.RULES,
            *transfers.RULES,
            *retention.RULES,
            *cookies.RULES,
            *mapping.RULES,
            *subjects.RULES,
        ),
        key=lambda rule: rule.code,
    )
    codes = [rule.code for rule in rules]
    bad = [code for code in codes if not CODE_PATTERN.match(code)]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if bad or duplicated:  # pragma: no cover - guarded by the test suite too
        raise RuntimeError(f"lint rule codes malformed {bad} or duplicated {duplicated}")
    return tuple(rules)


RULES: tuple[Rule, ...] = _collect()

_BY_CODE = {rule.code: rule for rule in RULES}


def rule_for(code: str) -> Rule | None:
    """The rule with ``code``, for ``steward lint --explain`` and the docs."""
    return _BY_CODE.get(code.upper())
