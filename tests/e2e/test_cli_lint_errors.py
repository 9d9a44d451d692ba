"""``steward lint`` on unusable policy files: exit 2, one located line on
stderr, or the one error shape on stdout with ``--json``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datasteward.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = (ROOT / "tests" / "fixtures" / "minimal.yaml").read_text(encoding="utf-8")
LOCATED = re.compile(r"^error: (?P<file>.+):(?P<line>\d+):(?P<column>\d+): ")

runner = CliRunner()

# name -> (old, new, line, column, expected end of the message)
BROKEN: dict[str, tuple[str, str, int, int, str]] = {
    "unknown purpose": (
        "purposes: [orders]",
        "purposes: [order]",
        41,
        16,
        "processing_activities[0].purposes[0]: unknown purpose 'order' (did you mean 'orders'?)",
    ),
    "unclosed bracket": (
        "legal_bases: [contract]",
        "legal_bases: [contract",
        28,
        16,
        "YAML syntax error: did not find expected ',' or ']'",
    ),
    "bad duration": (
        "period: P5Y",
        "period: 5 years",
        56,
        13,
        "retention_rules[0].period: '5 years' is not an ISO 8601 duration; "
        "write it like P7D, P3M, P1Y or P11Y",
    ),
    "misspelt legal basis": (
        "legal_bases: [consent]",
        "legal_bases: [consnt]",
        33,
        19,
        "(did you mean 'consent'?)",
    ),
    "duplicate key": (
        "  time_zone: Europe/Riga\n",
        "  time_zone: Europe/Riga\n  time_zone: UTC\n",
        11,
        3,
        "controller.time_zone: duplicate key 'time_zone' (first defined at line 10)",
    ),
    "unknown key": (
        "  time_zone:",
        "  time_zon:",
        10,
        3,
        "controller.time_zon: unknown key 'time_zon' (did you mean 'time_zone'?)",
    ),
}


def _write_broken(tmp_path: Path, case: str) -> Path:
    old, new, *_ = BROKEN[case]
    assert MINIMAL.count(old) == 1
    path = tmp_path / "broken.yaml"
    path.write_text(MINIMAL.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_lint_broken_file_prints_one_located_line(tmp_path: Path, case: str) -> None:
    path = _write_broken(tmp_path, case)
    _, _, line, column, ending = BROKEN[case]
    result = runner.invoke(app, ["lint", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = LOCATED.match(lines[0])
    assert match is not None, lines[0]
    assert (match["file"], int(match["line"]), int(match["column"])) == (str(path), line, column)
    assert lines[0].endswith(ending)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_lint_broken_file_json_error_shape(tmp_path: Path, case: str) -> None:
    path = _write_broken(tmp_path, case)
    _, _, line, column, ending = BROKEN[case]
    result = runner.invoke(app, ["lint", str(path), "--json"])
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "problems"}
    assert error["code"] == "policy_invalid"
    assert len(error["problems"]) == 1
    problem = error["problems"][0]
    assert set(problem) == {"message", "path", "file", "line", "column"}
    assert (problem["file"], problem["line"], problem["column"]) == (str(path), line, column)
    described = (f"{problem['path']}: " if problem["path"] else "") + problem["message"]
    assert described.endswith(ending)
    assert error["message"] == f"{path}:{line}:{column}: {described}"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "1:1: the file is empty"),
        (b"- a\n- b\n", "1:1: a policy file must be a mapping of sections"),
        (MINIMAL.replace("Zaļā", "Zal").encode() + b"# \xff\n", "73:1: not UTF-8 text"),
    ],
    ids=["empty", "top-level list", "not utf-8"],
)
def test_lint_unusable_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    result = runner.invoke(app, ["lint", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {path}:{expected}"]


def test_lint_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["lint", str(tmp_path), "--json"])
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["error"]["problems"][0]
    assert problem == {
        "message": "is a directory, not a policy file",
        "path": "",
        "file": str(tmp_path),
        "line": 1,
        "column": 1,
    }


def _steward() -> str:
    beside_python = Path(sys.executable).with_name("steward")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("steward")
    if found is None:
        pytest.fail("the steward console script is not installed")
    return found


def test_lint_broken_file_in_a_real_process(tmp_path: Path) -> None:
    path = _write_broken(tmp_path, "unknown purpose")
    env = {**os.environ, "NO_COLOR": "1"}
    completed = subprocess.run(
        [_steward(), "lint", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [
        f"error: {path}:41:16: processing_activities[0].purposes[0]: unknown purpose 'order' "
        "(did you mean 'orders'?)"
    ]
    as_json = subprocess.run(
        [_steward(), "lint", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["problems"][0]["line"] == 41
