"""``steward retention`` end to end on a generated SQLite shop: the plan
writes nothing and shows statements with placeholders, a run limited by
``--max-seconds`` resumes, a second run changes nothing, a sweep killed with
SIGKILL mid-run and started again ends where an uninterrupted one ends, and
bad arguments get the one error shape and exit code 2.

The shop is generated around the real current time (the commands run at
"now"), so the boundaries are those of the shop's own dates."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner, Result

from datasteward.cli.main import app
from datasteward.crypto import MasterKey
from datasteward.shop import database_fingerprint, load
from datasteward.store import engine as store_engine

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "shop" / "policy.yaml"
SHOP_NOW = (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None, microsecond=0)


class Cli:
    """``steward --home HOME ...`` with a clean environment of its own."""

    def __init__(self, home: Path, shop: str, secret: str) -> None:
        self.home = home
        self.env: dict[str, str | None] = {
            "STEWARD_HOME": None,
            "STEWARD_DATABASE_URL": None,
            "STEWARD_KEYSTORE_URL": None,
            "STEWARD_SECRET_KEY": secret,
            "STEWARD_ACTOR": "cli:retention-test",
            "SHOP_DATABASE_URL": shop,
        }
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, ["--home", str(self.home), *args], env=self.env)

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
        env |= {k: v for k, v in self.env.items() if v is not None}
        return env


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated shop, copied for each test."""
    path = tmp_path_factory.mktemp("shop") / "shop.sqlite"
    load(f"sqlite:///{path}", 8_000, seed=11, now=SHOP_NOW)
    return path


@pytest.fixture
def secret() -> str:
    """A master key in STEWARD_SECRET_KEY: two data directories that share it
    write the same keyed hashes, so their shops can be compared."""
    return base64.urlsafe_b64encode(MasterKey.generate().secret).decode("ascii")


def _cli(tmp_path: Path, template: Path, name: str, secret: str) -> Cli:
    shop = tmp_path / f"{name}.sqlite"
    shutil.copyfile(template, shop)
    cli = Cli(tmp_path / f"{name}-home", f"sqlite:///{shop}", secret)
    assert cli("init").exit_code == 0
    applied = cli("policy", "apply", str(POLICY))
    assert applied.exit_code == 0, applied.output
    return cli


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Engine]]:
    made: list[Engine] = []
    original = store_engine.make_engine

    def tracked(url: str, **kwargs: Any) -> Engine:
        engine = original(url, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(store_engine, "make_engine", tracked)
    yield made
    for engine in made:
        engine.dispose()


def _json(result: Result, code: int = 0) -> Any:
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def _url(cli: Cli) -> str:
    shop = cli.env["SHOP_DATABASE_URL"]
    assert shop is not None
    return shop


def test_plan_then_run_then_nothing_left(
    tmp_path: Path, template: Path, secret: str, engines: list[Engine]
) -> None:
    cli = _cli(tmp_path, template, "a", secret)
    before = database_fingerprint(_url(cli))
    plan = _json(cli("retention", "plan", "--json"))
    assert plan["ok"] is True
    assert database_fingerprint(_url(cli)) == before
    units = {(u["rule"], u["dataset"]): u for u in plan["units"]}
    ip = units[("access-log-ip-7d", "access_log")]
    assert ip["rows_due"] > 0 and ip["fields"][0]["action"] == "truncate_ip"
    assert all(":cutoff" in s["sql"] for s in ip["statements"] if "by key" not in s["label"])
    orders = units[("order-records-11y", "orders")]
    assert any("suspend_column" in h["reason"] for h in orders["held"])
    text_plan = cli("retention", "plan")
    assert text_plan.exit_code == 0 and "sql (pick the next batch of due keys)" in text_plan.stdout

    stopped = _json(
        cli("retention", "run", "--batch-size", "50", "--max-seconds", "0", "--json"), code=1
    )
    assert stopped["stopped"] is True and stopped["complete"] is False
    assert sum(u["batches"] for u in stopped["units"]) == 1

    done = _json(cli("retention", "run", "--batch-size", "500", "--json"))
    assert done["resumed"] is True and done["complete"] is True
    assert done["run_id"] == stopped["run_id"]
    ip_done = next(u for u in done["units"] if u["rule"] == "access-log-ip-7d")
    assert ip_done["total_rows_done"] == ip["rows_due"]

    after = database_fingerprint(_url(cli))
    again = _json(cli("retention", "run", "--json"))
    assert again["resumed"] is False and again["complete"] is True
    assert all(u["rows_done"] == 0 for u in again["units"])
    assert database_fingerprint(_url(cli)) == after

    dry = _json(cli("retention", "run", "--dry-run", "--json"))
    assert dry["dry_run"] is True and all(u["rows_done"] == 0 for u in dry["units"])

    shown = cli("audit", "show", "--action", "retention.anonymise", "--json")
    assert shown.exit_code == 0, shown.output

    cleaned = _json(cli("retention", "housekeeping", "--json"))
    assert cleaned["verification_codes"] == 0 and cleaned["packages"] == []


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["retention", "run", "--at", "2999-01-01", "--json"], "retention_error", "later than now"),
        (["retention", "plan", "--at", "yesterday", "--json"], "usage_error", "--at"),
        (["retention", "run", "--batch-size", "0", "--json"], "retention_error", "at least 1"),
    ],
)
def test_bad_arguments_have_the_error_shape(
    tmp_path: Path,
    template: Path,
    secret: str,
    engines: list[Engine],
    args: list[str],
    code: str,
    words: str,
) -> None:
    cli = _cli(tmp_path, template, "bad", secret)
    result = cli(*args)
    body = _json(result, code=2)
    assert body["error"]["code"] == code and words in body["error"]["message"]


def test_a_missing_system_url_is_a_problem_of_the_plan(
    tmp_path: Path, template: Path, secret: str, engines: list[Engine]
) -> None:
    cli = _cli(tmp_path, template, "nourl", secret)
    cli.env["SHOP_DATABASE_URL"] = None
    plan = _json(cli("retention", "plan", "--json"), code=1)
    assert plan["units"] == [] and plan["ok"] is False
    assert any("SHOP_DATABASE_URL" in p for p in plan["problems"])


def _batches(home: Path) -> int:
    engine = create_engine(f"sqlite:///{home / 'engine.sqlite'}")
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT COALESCE(SUM(batches), 0) FROM sweep_progress"))
            return int(found.scalar_one())
    finally:
        engine.dispose()


def test_a_sweep_killed_mid_run_resumes_to_the_uninterrupted_state(
    tmp_path: Path, template: Path, secret: str, engines: list[Engine]
) -> None:
    straight = _cli(tmp_path, template, "straight", secret)
    _json(straight("retention", "run", "--batch-size", "1000", "--json"))
    expected = database_fingerprint(_url(straight))

    killed = _cli(tmp_path, template, "killed", secret)
    command = [sys.executable, "-m", "datasteward.cli", "--home", str(killed.home)]
    process = subprocess.Popen(
        [*command, "retention", "run", "--batch-size", "20", "--json"],
        env=killed.process_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while _batches(killed.home) < 8:
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert database_fingerprint(_url(killed)) != expected

    # the rest in larger batches: where batches fall does not change the result
    resumed = _json(killed("retention", "run", "--batch-size", "1000", "--json"))
    assert resumed["resumed"] is True and resumed["complete"] is True
    assert database_fingerprint(_url(killed)) == expected
