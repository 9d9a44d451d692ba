"""The loader on broken policies: every fault is one located, precise problem.

Each broken policy is the minimal fixture with a targeted text edit, so the
expected ``file:line:column`` can be read off the fixture. A problem that
points at the wrong place, or an exception other than ``PolicyLoadError``,
is a bug the policy author pays for."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from datasteward.errors import PolicyLoadError, Problem
from datasteward.policy import LoadedPolicy, load_policy_file, parse_policy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"
BASE = FIXTURE.read_text(encoding="utf-8")
FILE = "minimal.yaml"

LEGAL_HOLDS_SECTION = (
    "legal_holds:\n"
    "  - id: accounting\n"
    "    law: Accounting Law of Latvia\n"
    "    period: P5Y\n"
    "    anchor: {event: contract_ended}\n"
    "systems:\n"
)


def edit(*replacements: tuple[str, str]) -> str:
    """The fixture with each ``old`` (which must occur exactly once) replaced."""
    text = BASE
    for old, new in replacements:
        assert text.count(old) == 1, f"edit target not unique in fixture: {old!r}"
        text = text.replace(old, new)
    return text


def only_problem(text: str, file: str = FILE) -> Problem:
    """Parse ``text``, expecting exactly one problem, and return it."""
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy(text, file)
    problems = caught.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_the_unedited_fixture_loads() -> None:
    loaded = parse_policy(BASE, FILE)
    assert [p.id for p in loaded.policy.purposes] == ["orders", "newsletter"]


# -- one fault, one problem, exact place and wording -------------------------

BROKEN: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    # YAML syntax
    "unclosed bracket": (
        (("legal_bases: [contract]", "legal_bases: [contract"),),
        "minimal.yaml:28:16: YAML syntax error: did not find expected ',' or ']'",
    ),
    "bad indentation": (
        (("    url: https://www.dvi", "   url: https://www.dvi"),),
        "minimal.yaml:13:4: YAML syntax error: did not find expected key",
    ),
    "key indented under a scalar": (
        (("    name: Shop database", "     name: Shop database"),),
        "minimal.yaml:63:10: YAML syntax error: mapping values are not allowed in this context",
    ),
    "tab indentation": (
        (("    name: Customers", "\tname: Customers"),),
        "minimal.yaml:17:1: YAML syntax error: found a tab character that violates indentation",
    ),
    # unknown keys
    "unknown key": (
        (("  time_zone:", "  time_zon:"),),
        "minimal.yaml:10:3: controller.time_zon: unknown key 'time_zon' "
        "(did you mean 'time_zone'?)",
    ),
    "unknown nested key": (
        (("identity_fields:", "identity_field:"),),
        "minimal.yaml:69:9: systems[0].datasets[0].identity_field: unknown key "
        "'identity_field' (did you mean 'identity_fields'?)",
    ),
    "field name instead of its alias": (
        (("      - name: customers\n", "      - name: customers\n        db_schema: shop\n"),),
        "minimal.yaml:69:9: systems[0].datasets[0].db_schema: unknown key 'db_schema' "
        "(did you mean 'schema'?)",
    ),
    # unknown references
    "unknown purpose": (
        (("purposes: [orders]", "purposes: [order]"),),
        "minimal.yaml:41:16: processing_activities[0].purposes[0]: unknown purpose 'order' "
        "(did you mean 'orders'?)",
    ),
    "unknown data category": (
        (
            (
                "data_categories: [email, name]\n    data_subjects",
                "data_categories: [emial, name]\n    data_subjects",
            ),
        ),
        "minimal.yaml:42:23: processing_activities[0].data_categories[0]: unknown data "
        "category 'emial' (did you mean 'email'?)",
    ),
    "unknown system": (
        (("systems: [shopdb]", "systems: [shopbd]"),),
        "minimal.yaml:44:15: processing_activities[0].systems[0]: unknown system 'shopbd' "
        "(did you mean 'shopdb'?)",
    ),
    "unknown retention rule": (
        (("retention: [orders-5y]", "retention: [orders-5v]"),),
        "minimal.yaml:45:17: processing_activities[0].retention[0]: unknown retention rule "
        "'orders-5v' (did you mean 'orders-5y'?)",
    ),
    "unknown legal hold": (
        (
            ("    period: P5Y\n", "    period: P5Y\n    legal_holds: [acounting]\n"),
            ("systems:\n", LEGAL_HOLDS_SECTION),
        ),
        "minimal.yaml:57:19: retention_rules[0].legal_holds[0]: unknown legal hold "
        "'acounting' (did you mean 'accounting'?)",
    ),
    "unknown system of a retention dataset": (
        (
            (
                "    period: P1M\n",
                "    period: P1M\n    datasets: [{system: shop, dataset: customers}]\n",
            ),
        ),
        "minimal.yaml:61:25: retention_rules[1].datasets[0].system: unknown system 'shop' "
        "(did you mean 'shopdb'?)",
    ),
    "relation to an unknown dataset": (
        (
            (
                "        identity_fields: [{field: email, kind: email}]\n",
                "        identity_fields: [{field: email, kind: email}]\n"
                "        relations: [{field: id, references: customer.id}]\n",
            ),
        ),
        "minimal.yaml:70:45: systems[0].datasets[0].relations[0].references: unknown dataset "
        "'customer' (did you mean 'customers'?)",
    ),
    "relation without a column": (
        (
            (
                "        identity_fields: [{field: email, kind: email}]\n",
                "        identity_fields: [{field: email, kind: email}]\n"
                "        relations: [{field: id, references: customers}]\n",
            ),
        ),
        "minimal.yaml:70:45: systems[0].datasets[0].relations[0].references: 'customers' "
        "must be written as dataset.column",
    ),
    # durations
    "duration with an unknown unit": (
        (("period: P5Y", "period: P5X"),),
        "minimal.yaml:56:13: retention_rules[0].period: 'P5X' is not an ISO 8601 duration; "
        "write it like P7D, P3M, P1Y or P11Y",
    ),
    "duration in words": (
        (("period: P5Y", "period: 5 years"),),
        "minimal.yaml:56:13: retention_rules[0].period: '5 years' is not an ISO 8601 duration; "
        "write it like P7D, P3M, P1Y or P11Y",
    ),
    "duration without parts": (
        (("period: P5Y", "period: P"),),
        "minimal.yaml:56:13: retention_rules[0].period: 'P' is not an ISO 8601 duration; "
        "write it like P7D, P3M, P1Y or P11Y",
    ),
    # enums
    "misspelt legal basis": (
        (("legal_bases: [consent]", "legal_bases: [consnt]"),),
        "minimal.yaml:33:19: purposes[1].legal_bases[0]: 'consnt' is not one of consent, "
        "contract, legal_obligation, vital_interests, public_task, legitimate_interest "
        "(did you mean 'consent'?)",
    ),
    "misspelt connector": (
        (("connector: sqlite", "connector: sqlit"),),
        "minimal.yaml:64:16: systems[0].connector: 'sqlit' is not one of sqlite, postgresql, "
        "mysql, manual (did you mean 'sqlite'?)",
    ),
    # duplicates
    "duplicate purpose id": (
        (
            (
                "processing_activities:\n",
                "  - id: orders\n    name: Orders again\nprocessing_activities:\n",
            ),
        ),
        "minimal.yaml:38:9: purposes[2].id: duplicate purpose 'orders' (also purposes[0])",
    ),
    "duplicate data category id": (
        (("purposes:\n", "  - id: name\n    name: Full name\npurposes:\n"),),
        "minimal.yaml:24:9: data_categories[2].id: duplicate data category 'name' "
        "(also data_categories[1])",
    ),
    "duplicate YAML key": (
        (("  time_zone: Europe/Riga\n", "  time_zone: Europe/Riga\n  time_zone: UTC\n"),),
        "minimal.yaml:11:3: controller.time_zone: duplicate key 'time_zone' "
        "(first defined at line 10)",
    ),
    # shapes and types
    "list where a mapping is expected": (
        (("    anchor: {event: contract_ended}", "    anchor: [contract_ended]"),),
        "minimal.yaml:55:13: retention_rules[0].anchor: expected a mapping, got a list",
    ),
    "mapping where a list is expected": (
        (("legal_bases: [contract]", "legal_bases: {contract: true}"),),
        "minimal.yaml:27:18: purposes[0].legal_bases: expected a list, got a mapping",
    ),
    "section written as a list": (
        (("controller:\n  legal_name", "controller:\n- legal_name"),),
        "minimal.yaml:5:1: controller: expected a mapping, got a list",
    ),
    "missing required key": (
        (('  legal_name: SIA "Zaļā Pļava"\n', ""),),
        "minimal.yaml:5:3: controller.legal_name: missing required key 'legal_name'",
    ),
    "upper-case id": (
        (("  - id: orders\n", "  - id: Orders\n"),),
        "minimal.yaml:25:9: purposes[0].id: 'Orders' is not a valid id: use lower-case "
        "letters, digits, '_', '-' and '.'",
    ),
    "id with a space": (
        (("  - id: customer\n", "  - id: our customer\n"),),
        "minimal.yaml:16:9: data_subjects[0].id: 'our customer' is not a valid id: use "
        "lower-case letters, digits, '_', '-' and '.'",
    ),
    "unsupported format version": (
        (("datasteward: 1", "datasteward: 2"),),
        "minimal.yaml:1:14: datasteward: unsupported policy format 2; this engine reads format 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_policy_is_one_located_problem(case: str) -> None:
    replacements, expected = BROKEN[case]
    assert str(only_problem(edit(*replacements))) == expected


def test_unknown_dataset_of_a_retention_rule_names_system_and_suggests() -> None:
    problem = only_problem(
        edit(
            (
                "    period: P1M\n",
                "    period: P1M\n    datasets: [{system: shopdb, dataset: customer}]\n",
            )
        )
    )
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (61, 42)
    assert problem.path == "retention_rules[1].datasets[0].dataset"
    assert problem.message.startswith("unknown dataset")
    assert "'customer'" in problem.message
    assert "'shopdb'" in problem.message
    assert problem.message.endswith("(did you mean 'customers'?)")


def test_problem_carries_its_fields_separately() -> None:
    problem = only_problem(edit(("purposes: [orders]", "purposes: [order]")))
    assert problem.location is not None
    assert (problem.location.file, problem.location.line, problem.location.column) == (
        FILE,
        41,
        16,
    )
    assert problem.path == "processing_activities[0].purposes[0]"
    assert problem.message == "unknown purpose 'order' (did you mean 'orders'?)"


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = edit(("period: P5Y", "period: P5X"), ("time_zone:", "time_zon:"))
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy(text, FILE)
    lines = caught.value.lines()
    assert len(lines) == 2
    assert any(line.startswith("minimal.yaml:10:3: controller.time_zon:") for line in lines)
    assert any(line.startswith("minimal.yaml:56:13: retention_rules[0].period:") for line in lines)
    assert str(caught.value) == lines[0]


def test_impossible_calendar_date_is_a_located_problem() -> None:
    problem = only_problem(edit(("effective_date: 2026-01-15", "effective_date: 2026-02-30")))
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (3, 17)


# -- whole-file faults ---------------------------------------------------------


def test_empty_file() -> None:
    assert str(only_problem("")) == "minimal.yaml:1:1: the file is empty"


def test_only_comments_is_empty() -> None:
    assert str(only_problem("# a policy, some day\n\n")) == "minimal.yaml:1:1: the file is empty"


def test_list_at_top_level() -> None:
    as_list = "- " + textwrap.indent(BASE, "  ").lstrip()
    assert str(only_problem(as_list)) == (
        "minimal.yaml:1:1: a policy file must be a mapping of sections"
    )


def test_two_documents_in_one_file() -> None:
    problem = only_problem(BASE + "---\ndatasteward: 1\n")
    assert problem.location is not None
    assert problem.location.line == 73
    assert "another document" in problem.message


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.encode("utf-8").replace("Zaļā Pļava".encode(), b"Zal\xe2 Plava"))
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_file(path)
    assert caught.value.lines() == [f"{path}:5:1: not UTF-8 text"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_file(path)
    assert caught.value.lines() == [f"{path}:1:1: no such file"]


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_file(tmp_path)
    assert caught.value.lines() == [f"{tmp_path}:1:1: is a directory, not a policy file"]


def test_load_policy_file_reports_under_the_given_path(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(edit(("period: P5Y", "period: P5X")), encoding="utf-8")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_file(path)
    assert caught.value.lines()[0].startswith(f"{path}:56:13: retention_rules[0].period: ")


# -- hostile input ----------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""

_BOMB_PROBE = """\
import json, resource, sys, time
from datasteward.errors import PolicyLoadError
from datasteward.policy import parse_policy
text = sys.stdin.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    parse_policy(text, "bomb.yaml")
    outcome = {"raised": None}
except PolicyLoadError as exc:
    p = exc.problems[0]
    outcome = {"raised": "PolicyLoadError", "count": len(exc.problems),
               "line": p.location.line if p.location else None}
except BaseException as exc:
    outcome = {"raised": type(exc).__name__}
outcome["seconds"] = time.perf_counter() - start
outcome["grown_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps(outcome))
"""


def test_alias_bomb_is_rejected_quickly_and_without_memory_blowup() -> None:
    """Nine lines that expand to 9**9 strings; run apart so memory is measured alone."""
    completed = subprocess.run(
        [sys.executable, "-c", _BOMB_PROBE],
        input=BILLION_LAUGHS,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome = json.loads(completed.stdout)
    assert outcome["raised"] == "PolicyLoadError", outcome
    assert outcome["count"] == 1 and outcome["line"] >= 1, outcome
    assert outcome["seconds"] < 2.0, outcome
    assert outcome["grown_kib"] < 64 * 1024, outcome


@pytest.mark.parametrize("depth", [100, 10_000])
def test_deeply_nested_flow_input_is_a_located_problem(depth: int) -> None:
    text = BASE + "extra: " + "[" * depth + "]" * depth + "\n"
    problem = only_problem(text)
    assert problem.location is not None
    assert problem.location.line == 73


def test_deeply_nested_block_mappings_are_a_located_problem() -> None:
    nested = "".join("  " * level + f"k{level}:\n" for level in range(200)) + "  " * 200 + "x: 1\n"
    problem = only_problem(nested)
    assert problem.location is not None
    assert problem.location.line >= 1
    assert "nests too deeply" in problem.message


def test_unknown_yaml_tag_is_a_located_problem() -> None:
    problem = only_problem(edit(('version: "1.0"', "version: !!python/object:os.system 1")))
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (2, 10)


def test_control_character_is_one_line_at_its_place() -> None:
    """Problems print as one line each (``steward lint`` writes one per line)."""
    problem = only_problem(edit(("    name: Data State", "    name: Data\x00State")))
    assert "\n" not in str(problem)
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (12, 15)


def test_unknown_key_with_a_line_break_prints_on_one_line() -> None:
    problem = only_problem(edit(("  time_zone:", '  "time\\nzone": UTC\n  time_zone:')))
    assert "\n" not in str(problem)
    assert str(problem).startswith("minimal.yaml:10:3: ")


def test_merge_keys_are_refused() -> None:
    problem = only_problem(
        edit(
            ("    anchor: {event: contract_ended}", "    anchor: &end {event: contract_ended}"),
            ("    anchor: {event: subscription_ended}", "    anchor:\n      <<: *end"),
        )
    )
    assert str(problem) == (
        "minimal.yaml:60:7: retention_rules[1].anchor: YAML merge keys (<<) are not supported"
    )


# -- what loads, and how ----------------------------------------------------------


def test_version_written_as_a_bare_date_stays_text() -> None:
    loaded = parse_policy(edit(('version: "1.0"', "version: 2025-04-22")), FILE)
    assert loaded.policy.version == "2025-04-22"
    assert loaded.policy.effective_date == date(2026, 1, 15)


def test_registration_number_written_as_a_bare_integer_becomes_text() -> None:
    assert "registration_number: 40000000001\n" in BASE
    loaded = parse_policy(BASE, FILE)
    assert loaded.policy.controller.registration_number == "40000000001"


def test_registration_number_keeps_leading_zeros_when_quoted() -> None:
    loaded = parse_policy(edit(("40000000001", '"040000001"')), FILE)
    assert loaded.policy.controller.registration_number == "040000001"


def test_schema_alias_on_datasets() -> None:
    loaded = parse_policy(
        edit(("      - name: customers\n", "      - name: customers\n        schema: shop\n")), FILE
    )
    dataset = loaded.policy.systems[0].datasets[0]
    assert dataset.db_schema == "shop"
    assert loaded.line(("systems", 0, "datasets", 0, "schema")) == 69


def test_sha256_follows_the_exact_text() -> None:
    first = parse_policy(BASE, FILE)
    again = parse_policy(BASE, "elsewhere.yaml")
    changed = parse_policy(BASE + "# reviewed\n", FILE)
    assert first.sha256 == again.sha256
    assert first.sha256 != changed.sha256
    assert len(first.sha256) == 64
    assert int(first.sha256, 16) >= 0


def test_loaded_policy_keeps_file_and_text() -> None:
    loaded = parse_policy(BASE, FILE)
    assert isinstance(loaded, LoadedPolicy)
    assert loaded.file == FILE
    assert loaded.text == BASE


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ((), 1),
        (("controller",), 5),
        (("controller", "supervisory_authority", "url"), 13),
        (("purposes", 1, "legal_bases"), 33),
        (("purposes", 1, "legal_bases", 0), 33),
        (("purposes", 1, "consent", "withdrawal_channels", 1), 37),
        (("processing_activities", 1, "retention", 0), 51),
        (("retention_rules", 0, "anchor", "event"), 55),
        (("systems", 0, "datasets", 0, "fields", 1, "category"), 72),
        # absent paths resolve to their nearest present ancestor
        (("purposes", 0, "description"), 25),
        (("systems", 0, "datasets", 0, "fields", 9), 71),
    ],
)
def test_line_of_nested_paths(path: tuple[str | int, ...], line: int) -> None:
    assert parse_policy(BASE, FILE).line(path) == line
