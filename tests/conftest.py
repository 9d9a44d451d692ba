"""Shared test helpers: paths only. Each test builds what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def minimal_policy_text() -> str:
    """The text of a small valid policy that individual tests edit."""
    return (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")
