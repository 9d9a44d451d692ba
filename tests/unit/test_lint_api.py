"""The linter's public surface: exports, finding shape, order, the rule
registry, the documentation of every rule, and speed on large policies."""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

import datasteward.lint as lint_package
from datasteward.lint import RULES, Finding, Rule, Severity, lint_policy
from datasteward.lint.registry import rule_for
from datasteward.policy import LoadedPolicy, Policy, load_policy_file, parse_policy
from datasteward.policy.source import SourceMap

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"
DOCS = ROOT / "docs" / "lint-rules.md"
HEADING = re.compile(r"^## (\S+) (.+)$", re.MULTILINE)


@cache
def _minimal() -> dict[str, Any]:
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def base() -> dict[str, Any]:
    """A fresh copy of the minimal policy as plain data."""
    return copy.deepcopy(_minimal())


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


@dataclass
class Linted:
    text: str
    findings: list[Finding]

    def of(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def line_of(self, needle: str) -> int:
        return next(i for i, line in enumerate(self.text.splitlines(), 1) if needle in line)


def lint(data: dict[str, Any]) -> Linted:
    text = dump(data)
    return Linted(text, lint_policy(parse_policy(text, "policy.yaml")))


def test_public_api_is_exactly_the_documented_names() -> None:
    assert set(lint_package.__all__) == {"RULES", "Finding", "Rule", "Severity", "lint_policy"}
    for name in lint_package.__all__:
        assert hasattr(lint_package, name)


def test_finding_to_dict_has_exactly_the_interface_keys() -> None:
    finding = Finding("DS201", Severity.ERROR, "m", "Art. 6(1) GDPR", "purposes[0]", 7)
    assert finding.to_dict() == {
        "code": "DS201",
        "severity": "error",
        "message": "m",
        "article": "Art. 6(1) GDPR",
        "path": "purposes[0]",
        "line": 7,
    }
    assert type(finding.to_dict()["severity"]) is str


def test_minimal_fixture_has_no_errors() -> None:
    findings = lint_policy(load_policy_file(MINIMAL))
    assert [f for f in findings if f.severity is Severity.ERROR] == []


def test_codes_are_unique_well_formed_and_in_order() -> None:
    codes = [rule.code for rule in RULES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"DS[1-9]\d\d", code) for code in codes)
    assert codes == sorted(codes)
    assert len(RULES) >= 16


def test_every_rule_is_described() -> None:
    for rule in RULES:
        assert isinstance(rule, Rule)
        assert rule.title and rule.rationale.endswith(".")
        assert rule.article.endswith(("GDPR", "ePrivacy Directive")), rule.code
        assert rule.severity in set(Severity)
        assert rule_for(rule.code) is rule
        assert rule_for(rule.code.lower()) is rule
    assert rule_for("DS999") is None


def _doc_sections() -> dict[str, tuple[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    sections: dict[str, tuple[str, str]] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        assert match.group(1) not in sections, f"{match.group(1)} documented twice"
        sections[match.group(1)] = (match.group(2), text[match.end() : end])
    return sections


def test_docs_describe_exactly_the_rules() -> None:
    sections = _doc_sections()
    assert set(sections) == {rule.code for rule in RULES}
    for rule in RULES:
        title, body = sections[rule.code]
        assert title == rule.title, rule.code
        assert f"- **Severity:** {rule.severity.value}\n" in body, rule.code
        assert f"- **Article:** {rule.article}\n" in body, rule.code
        for part in ("**Checks**", "**Why:**", "**Fix:**", "```yaml"):
            assert part in body, f"{rule.code} lacks {part}"


def test_docs_examples_are_valid_yaml() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= len(RULES)
    for block in blocks:
        assert yaml.safe_load(block) is not None


def test_findings_are_sorted_by_line_then_code_and_located() -> None:
    data = base()
    data["controller"]["contact_email"] = None  # DS102, near the top
    data["purposes"][0]["legal_bases"] = []  # DS201, further down
    data["systems"][0]["datasets"][0]["fields"][1]["category"] = "nme"  # DS601, at the end
    linted = lint(data)
    keys = [(f.line or 0, f.code) for f in linted.findings]
    assert keys == sorted(keys)
    codes = [f.code for f in linted.findings if f.code in {"DS102", "DS201", "DS601"}]
    assert codes == ["DS102", "DS201", "DS601"]
    (ds601,) = linted.of("DS601")
    assert ds601.path == "systems[0].datasets[0].fields[1].category"
    assert ds601.line == linted.line_of("category: nme")
    assert ds601.article == "Art. 30(1)(c) GDPR"
    assert ds601.severity is Severity.ERROR


def test_lint_is_repeatable_across_policies() -> None:
    """Shared per-policy lookups must never leak from one policy into another."""
    good = parse_policy(MINIMAL.read_text(encoding="utf-8"))
    data = base()
    data["purposes"][0]["legal_bases"] = ["legitimate_interest"]
    bad = parse_policy(dump(data))
    first = lint_policy(good)
    assert "DS202" in {f.code for f in lint_policy(bad)}
    assert lint_policy(good) == first
    assert "DS202" not in {f.code for f in first}


def test_selected_rules_only() -> None:
    data = base()
    data["purposes"][0]["legal_bases"] = []
    loaded = parse_policy(dump(data))
    only = tuple(rule for rule in RULES if rule.code == "DS201")
    assert [f.code for f in lint_policy(loaded, only)] == ["DS201"]


def _large_policy(purposes: int, fields: int) -> dict[str, Any]:
    data = base()
    data["data_categories"] = [{"id": f"cat{i}", "name": f"Category {i}"} for i in range(fields)]
    data["purposes"] = [
        {
            "id": f"p{i}",
            "name": f"Purpose {i}",
            "legal_bases": ["consent"],
            "consent": {"withdrawal_channels": ["privacy_center"]},
        }
        for i in range(purposes)
    ]
    per_activity = fields // purposes
    data["processing_activities"] = [
        {
            "id": f"a{i}",
            "name": f"Activity {i}",
            "purposes": [f"p{i}"],
            "data_categories": [f"cat{j}" for j in range(i * per_activity, (i + 1) * per_activity)],
            "data_subjects": ["customer"],
            "systems": ["shopdb"],
            "recipients": ["mailer"],
            "retention": ["r"],
        }
        for i in range(purposes)
    ]
    data["recipients"] = [
        {"id": "mailer", "name": "Mailer", "role": "processor", "written_agreement": True}
    ]
    data["retention_rules"] = [{"id": "r", "anchor": {"event": "collected"}, "period": "P1Y"}]
    data["systems"][0]["datasets"] = [
        {
            "name": f"t{t}",
            "identity_fields": [{"field": "f0", "kind": "email"}],
            "fields": [{"name": f"f{k}", "category": f"cat{t * 100 + k}"} for k in range(100)],
        }
        for t in range(fields // 100)
    ]
    data["rights"] = {"channels": [{"kind": "email", "address": "privacy@zala-plava.example"}]}
    return data


def test_large_policy_lints_quickly() -> None:
    """200 purposes and 2,000 fields lint in milliseconds; a rule that scans
    the policy once per item would take about a second here."""
    policy = Policy.model_validate(_large_policy(200, 2000))
    loaded = LoadedPolicy(policy=policy, file="large.yaml", text="", source_map=SourceMap("x"))
    started = time.perf_counter()
    findings = lint_policy(loaded)
    elapsed = time.perf_counter() - started
    assert findings == []
    assert elapsed < 0.5, f"lint took {elapsed:.2f}s"


def test_korte_google_analytics_contradicts_no_transfer_promise() -> None:
    """Korte.lv's notice: analytics cookies on legitimate interest, Google in
    the USA, and a notice that says nothing leaves the EEA."""
    data = base()
    controller = data["controller"]
    controller.update(
        legal_name='SIA "Korte.lv"',
        registered_address="Vaidavas 7-43, Riga, LV1084",
        office_address="Zemeņu 2, Salaspils, LV2169",
        dpo={"name": "Lorens Balodis", "email": "lorens@korte.lv"},
        declarations={"no_third_country_transfers": True},
    )
    data["purposes"].append(
        {
            "id": "analytics",
            "name": "Website analytics",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Improving the website and its usability.",
        }
    )
    data["processing_activities"].append(
        {
            "id": "google-analytics",
            "name": "Google Analytics",
            "purposes": ["analytics"],
            "data_categories": ["email"],
            "data_subjects": ["customer"],
            "recipients": ["google"],
        }
    )
    data["recipients"] = [
        {
            "id": "google",
            "name": "Google Inc.",
            "role": "processor",
            "country": "US",
            "written_agreement": True,
        }
    ]
    data["cookies"] = [{"name": "_ga", "provider": "google", "purpose": "analytics"}]
    linted = lint(data)

    (contradiction,) = linted.of("DS303")
    assert contradiction.severity is Severity.ERROR
    assert contradiction.path == "recipients[0].country"
    assert contradiction.line == linted.line_of("country: US")
    assert contradiction.message.startswith("recipient 'google' is in US, outside the EEA")
    assert contradiction.article == "Art. 13(1)(f) GDPR"
    assert [f.path for f in linted.of("DS301")] == ["recipients[0].country"]
    assert [f.path for f in linted.of("DS501")] == ["cookies[0].purpose"]
