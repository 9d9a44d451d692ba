"""The ``steward`` commands end to end: real files in, real output out."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from datasteward import __version__
from datasteward.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*/policy.yaml"))
STEWARD = Path(sys.executable).with_name("steward")

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"steward {__version__}"


def test_console_script_runs_as_a_real_process() -> None:
    completed = subprocess.run(
        [str(STEWARD), "lint", str(MINIMAL), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    body = json.loads(completed.stdout)
    assert body["ok"] is True


@pytest.mark.parametrize("command", ["lint", "notice", "ropa", "diff", "schema"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_lint_json_shape_on_a_valid_policy() -> None:
    result = runner.invoke(app, ["lint", str(MINIMAL), "--json"])
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert set(body) == {"ok", "findings"}
    for finding in body["findings"]:
        assert set(finding) == {"code", "severity", "message", "article", "path", "line"}
        assert finding["severity"] != "error"


def test_lint_exit_1_and_human_output_when_errors(tmp_path: Path) -> None:
    text = MINIMAL.read_text(encoding="utf-8").replace(
        "    legal_bases: [contract]\n", "    legal_bases: []\n"
    )
    broken = tmp_path / "policy.yaml"
    broken.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["lint", str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert any(" error " in line and "orders" in line for line in lines)
    assert lines[-1].startswith(f"{broken}: ")
    as_json = json.loads(runner.invoke(app, ["lint", str(broken), "--json"]).stdout)
    assert as_json["ok"] is False


def test_lint_missing_file_is_exit_2_with_location(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = runner.invoke(app, ["lint", str(missing)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {missing}:1:1: no such file"


def test_notice_to_file_markdown_and_html(tmp_path: Path) -> None:
    md = tmp_path / "notice.md"
    html = tmp_path / "notice.html"
    assert runner.invoke(app, ["notice", str(MINIMAL), "-o", str(md)]).exit_code == 0
    assert (
        runner.invoke(app, ["notice", str(MINIMAL), "-f", "html", "-o", str(html)]).exit_code == 0
    )
    assert "Zaļā Pļava" in md.read_text(encoding="utf-8")
    page = html.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "Data State Inspectorate" in page


def test_notice_unknown_language_is_exit_2() -> None:
    result = runner.invoke(app, ["notice", str(MINIMAL), "--language", "xx"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_notice_unwritable_output_is_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "notice.md"
    result = runner.invoke(app, ["notice", str(MINIMAL), "-o", str(target)])
    assert result.exit_code == 2
    assert "cannot write" in result.stderr
    assert not target.exists()


def test_ropa_csv_and_json() -> None:
    out = runner.invoke(app, ["ropa", str(MINIMAL)])
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 2
    body = json.loads(runner.invoke(app, ["ropa", str(MINIMAL), "-f", "json"]).stdout)
    assert len(body["activities"]) == 2


def test_diff_identical_and_material(tmp_path: Path) -> None:
    same = runner.invoke(app, ["diff", str(MINIMAL), str(MINIMAL), "--json"])
    assert same.exit_code == 0
    assert json.loads(same.stdout) == {"material": False, "stale_purposes": [], "changes": []}
    text = MINIMAL.read_text(encoding="utf-8").replace(
        "  - id: newsletter-end\n    data_categories: [email]\n"
        "    anchor: {event: subscription_ended}\n    period: P1M",
        "  - id: newsletter-end\n    data_categories: [email]\n"
        "    anchor: {event: subscription_ended}\n    period: P2Y",
    )
    newer = tmp_path / "new.yaml"
    newer.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["diff", str(MINIMAL), str(newer), "--json"])
    body = json.loads(result.stdout)
    assert body["material"] is True
    assert "newsletter" in body["stale_purposes"]
    human = runner.invoke(app, ["diff", str(MINIMAL), str(newer)])
    assert "MATERIAL" in human.stdout


def test_schema_is_valid_and_accepts_every_shipped_policy() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    quoted = MINIMAL.read_text(encoding="utf-8").replace(
        "registration_number: 40000000001", 'registration_number: "40000000001"'
    )
    documents = [("minimal (quoted)", quoted)] + [
        (str(p), p.read_text(encoding="utf-8")) for p in EXAMPLES
    ]
    for path, text in documents:
        data = yaml.safe_load(text)
        data = json.loads(json.dumps(data, default=str))
        errors = sorted(validator.iter_errors(data), key=str)
        assert not errors, f"{path}: {errors[0].message}"


def test_schema_rejects_an_unknown_key() -> None:
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    data = json.loads(json.dumps(yaml.safe_load(MINIMAL.read_text()), default=str))
    data["controler"] = {}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data))


def test_shop_generate_loads_a_deterministic_shop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    first = runner.invoke(app, ["shop", "generate", "--rows", "3000", "--url", url, "--json"])
    assert first.exit_code == 0, first.stderr
    body = json.loads(first.stdout)
    assert sum(body["rows"].values()) == 3000
    assert url not in first.stdout
    again = runner.invoke(app, ["shop", "generate", "--rows", "3000", "--url", url])
    assert again.exit_code == 3
    replaced = runner.invoke(
        app, ["shop", "generate", "--rows", "3000", "--url", url, "--replace", "--json"]
    )
    assert replaced.exit_code == 0
    assert json.loads(replaced.stdout)["sample_subjects"] == body["sample_subjects"]


def test_systems_check_on_the_generated_shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    assert runner.invoke(app, ["shop", "generate", "--rows", "2000", "--url", url]).exit_code == 0
    policy = ROOT / "examples" / "shop" / "policy.yaml"
    monkeypatch.setenv("SHOP_DATABASE_URL", url)
    result = runner.invoke(app, ["systems", "check", "--policy", str(policy), "--json"])
    assert result.exit_code == 0, result.stdout
    body = json.loads(result.stdout)
    assert body["ok"] is True
    assert body["systems"][0]["problems"] == []
    broken = tmp_path / "policy.yaml"
    broken.write_text(
        policy.read_text(encoding="utf-8").replace(
            "{name: line1, category: address", "{name: street_line, category: address"
        ),
        encoding="utf-8",
    )
    failed = runner.invoke(app, ["systems", "check", "--policy", str(broken)])
    assert failed.exit_code == 1
    assert "street_line" in failed.stdout
    monkeypatch.delenv("SHOP_DATABASE_URL")
    missing = runner.invoke(app, ["systems", "check", "--policy", str(policy)])
    assert missing.exit_code == 2
    assert "SHOP_DATABASE_URL" in missing.stderr
