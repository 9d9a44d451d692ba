"""The README's examples are executed: every ``.venv/bin/steward`` line in its
code blocks runs, in order, in a scratch directory holding the examples."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
STEWARD = Path(sys.executable).with_name("steward")

# lint exits 1 when the seed policy has genuine problems; that is the point.
ALLOWED_EXIT = {"lint": {0, 1}}


def _commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith((".venv/bin/steward", "export "))
    ]


def test_readme_starts_with_the_two_setup_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    assert first_block is not None
    lines = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert [line for line in lines if line] == ["make demo", "make test"]


def test_readme_commands_run(tmp_path: Path) -> None:
    commands = _commands()
    assert len(commands) >= 10
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    for command in commands:
        if command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            env[name] = value
            continue
        argv = shlex.split(command.split(" > ")[0])
        argv[0] = str(STEWARD)
        completed = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        subcommand = next(a for a in argv[1:] if not a.startswith("-") and a != "demo")
        allowed = ALLOWED_EXIT.get(subcommand, {0})
        assert completed.returncode in allowed, (
            f"{command} exited {completed.returncode}: {completed.stderr[-500:]}"
        )
        assert "Traceback" not in completed.stderr
