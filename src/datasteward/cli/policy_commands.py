"""Commands that read a policy file: lint, notice, ropa, diff, schema.

None of them needs the engine's store or a server: a policy file is enough."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

from datasteward.cli.output import emit_json, reporting_errors, write_output
from datasteward.documents import render_notice, render_ropa
from datasteward.errors import EXIT_FINDINGS, EXIT_OK
from datasteward.lint import Finding, Severity, lint_policy
from datasteward.policy import load_policy_file
from datasteward.policy.diff import diff_policies
from datasteward.policy.model import Policy

__all__ = ["register"]

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
OUTPUT_OPTION = typer.Option(
    None, "--output", "-o", help="Write to this file instead of standard output."
)


class NoticeFormat(StrEnum):
    markdown = "markdown"
    html = "html"


class RopaFormat(StrEnum):
    csv = "csv"
    json = "json"
    html = "html"


def lint(
    path: Path = typer.Argument(..., help="Policy file to check."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a policy against the GDPR rules.

    Exit 0 when there are no errors (warnings allowed), 1 when errors were
    found, 2 when the file is unusable (missing, not YAML, not a policy)."""
    with reporting_errors(as_json=as_json):
        loaded = load_policy_file(path)
        findings = lint_policy(loaded)
    errors = [f for f in findings if f.severity == Severity.ERROR]
    if as_json:
        emit_json({"ok": not errors, "findings": [f.to_dict() for f in findings]})
    else:
        _print_findings(str(path), findings)
    raise typer.Exit(EXIT_FINDINGS if errors else EXIT_OK)


def _print_findings(file: str, findings: list[Finding]) -> None:
    for f in findings:
        where = f"{file}:{f.line}" if f.line else file
        sys.stdout.write(
            f"{where}: {f.severity.value} {f.code} {f.message} [{f.article}] ({f.path})\n"
        )
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    summary = ", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items())
    sys.stdout.write(f"{file}: {summary}\n")


def notice(
    path: Path = typer.Argument(..., help="Policy file."),
    fmt: NoticeFormat = typer.Option(
        NoticeFormat.markdown, "--format", "-f", help="Output format."
    ),
    language: str | None = typer.Option(
        None, "--language", help="Template language (default: the policy's first language)."
    ),
    output: Path | None = OUTPUT_OPTION,
) -> None:
    """Write the Art. 13/14 privacy notice generated from the policy."""
    with reporting_errors(as_json=False):
        loaded = load_policy_file(path)
        text = render_notice(loaded.policy, fmt.value, language)
        write_output(text, output)


def ropa(
    path: Path = typer.Argument(..., help="Policy file."),
    fmt: RopaFormat = typer.Option(RopaFormat.csv, "--format", "-f", help="Output format."),
    output: Path | None = OUTPUT_OPTION,
) -> None:
    """Write the Art. 30(1) record of processing activities."""
    with reporting_errors(as_json=False):
        loaded = load_policy_file(path)
        text = render_ropa(loaded.policy, fmt.value)
        write_output(text, output)


def diff(
    old: Path = typer.Argument(..., help="The earlier policy file."),
    new: Path = typer.Argument(..., help="The later policy file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List what changed between two policy versions and mark material changes.

    Exit 0 in every case the files load; read ``material`` to decide."""
    with reporting_errors(as_json=as_json):
        before = load_policy_file(old).policy
        after = load_policy_file(new).policy
    result = diff_policies(before, after)
    if as_json:
        emit_json(result.to_dict())
        return
    if not result.changes:
        sys.stdout.write("no changes\n")
        return
    for change in result.changes:
        mark = "MATERIAL " if change.material else ""
        sys.stdout.write(f"{mark}{change.kind} {change.path}: {change.summary}\n")
        if change.material and change.reason:
            sys.stdout.write(f"    why material: {change.reason}\n")
    if result.material:
        stale = ", ".join(result.stale_purposes) or "none"
        sys.stdout.write(f"material change; consent to renew for purposes: {stale}\n")


def schema() -> None:
    """Print the JSON Schema of policy files, for editors and CI checks."""
    document = Policy.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "datasteward policy"
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def register(app: typer.Typer) -> None:
    """Add the policy commands to the ``steward`` app."""
    app.command()(lint)
    app.command()(notice)
    app.command()(ropa)
    app.command()(diff)
    app.command()(schema)
