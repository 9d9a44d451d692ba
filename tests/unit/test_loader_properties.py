"""Whatever a policy file contains, the loader answers with a policy or with
located problems, never with a stray exception.

Valid policies (the minimal fixture and a richer one built here) are mutated
at random, on their YAML data (delete, add, replace, duplicate, swap) and on
their text (truncate, insert characters); ``parse_policy`` must either
return a :class:`LoadedPolicy` or raise :class:`PolicyLoadError` whose every
problem points at a line of the file."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from datasteward.errors import PolicyLoadError
from datasteward.policy import LoadedPolicy, parse_policy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"
MINIMAL_TEXT = FIXTURE.read_text(encoding="utf-8")

RICH: dict[str, Any] = {
    "datasteward": 1,
    "version": "2.3",
    "effective_date": date(2026, 3, 1),
    "controller": {
        "legal_name": "SIA Zaļā Pļava",
        "short_name": "Zaļā Pļava",
        "registration_number": "40000000001",
        "vat_number": "LV40000000001",
        "registered_address": "Lauku iela 1, Rīga, LV-1001",
        "country": "LV",
        "contact_email": "privacy@zala-plava.example",
        "website": "https://zala-plava.example",
        "languages": ["lv", "en"],
        "dpo": {"name": "Ana Bērziņa", "email": "dpo@zala-plava.example"},
        "supervisory_authority": {"name": "Data State Inspectorate (DVI)", "country": "LV"},
        "declarations": {"no_sale_of_data": True},
    },
    "data_subjects": [
        {"id": "customer", "name": "Customers", "minimum_age": 16},
        {"id": "visitor", "name": "Website visitors", "may_include_children": True},
    ],
    "data_categories": [
        {"id": "email", "name": "Email address", "dpv": "pd:EmailAddress"},
        {"id": "name", "name": "Name"},
        {"id": "ip", "name": "IP address"},
        {"id": "orders", "name": "Order history"},
        {"id": "health", "name": "Allergies", "special": True},
    ],
    "purposes": [
        {
            "id": "orders",
            "name": "Handling orders",
            "legal_bases": ["contract"],
            "requirement": {"kind": "contract_prerequisite", "consequence": "No delivery."},
        },
        {
            "id": "analytics",
            "name": "Website analytics",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Improving the shop.",
            "objection": {"allowed": True, "how": "Use the cookie banner."},
        },
        {
            "id": "newsletter",
            "name": "Newsletter",
            "legal_bases": ["consent"],
            "direct_marketing": True,
            "consent": {
                "mechanism": "double_opt_in",
                "withdrawal_channels": ["unsubscribe_link"],
                "expires_after": "P2Y",
            },
        },
        {
            "id": "diet",
            "name": "Dietary advice",
            "legal_bases": ["consent"],
            "special_category_condition": "explicit_consent",
            "consent": {"explicit": True},
            "automated_decision": {"exists": False, "profiling": True, "logic": "Scores."},
        },
    ],
    "processing_activities": [
        {
            "id": "shop",
            "name": "Online shop orders",
            "purposes": ["orders"],
            "data_categories": ["email", "name", "orders"],
            "data_subjects": ["customer"],
            "systems": ["shopdb"],
            "recipients": ["courier"],
            "retention": ["orders-5y"],
        },
        {
            "id": "web",
            "name": "Website statistics",
            "purposes": ["analytics"],
            "data_categories": ["ip"],
            "data_subjects": ["visitor"],
            "sources": [{"kind": "observed", "description": "Server logs."}],
            "recipients": ["analytics-co"],
            "retention": ["logs-90d"],
        },
        {
            "id": "mailing",
            "name": "Newsletter mailing",
            "purposes": ["newsletter", "diet"],
            "data_categories": ["email", "health"],
            "data_subjects": ["customer"],
            "systems": ["paper"],
            "retention_criteria": "Until the subscription ends.",
        },
    ],
    "recipients": [
        {
            "id": "courier",
            "name": "Courier services",
            "role": "processor",
            "is_category": True,
            "written_agreement": True,
        },
        {
            "id": "analytics-co",
            "name": "Analytics Example Inc.",
            "role": "processor",
            "country": "US",
            "safeguard": {"kind": "adequacy_decision", "reference": "EU-US DPF"},
            "notify": {"kind": "webhook", "url_env": "ANALYTICS_WEBHOOK_URL"},
        },
    ],
    "cookies": [
        {
            "name": "session",
            "provider": "first_party",
            "purpose": "orders",
            "strictly_necessary": True,
        },
        {"name": "_stats", "provider": "analytics-co", "purpose": "analytics", "duration": "P13M"},
    ],
    "retention_rules": [
        {
            "id": "orders-5y",
            "data_categories": ["email", "name", "orders"],
            "datasets": [{"system": "shopdb", "dataset": "orders"}],
            "anchor": {"event": "contract_ended", "column": "closed_at"},
            "period": "P5Y",
            "suspended_by": ["legal_hold", "pending_proceedings"],
            "legal_holds": ["accounting"],
        },
        {
            "id": "logs-90d",
            "data_categories": ["ip"],
            "anchor": {"event": "collected"},
            "period": "P90D",
            "action": "anonymise",
            "fields": ["ip"],
        },
    ],
    "legal_holds": [
        {
            "id": "accounting",
            "law": "Accounting Law of Latvia",
            "reference": "Section 10",
            "data_categories": ["orders"],
            "datasets": [{"system": "shopdb", "dataset": "orders"}],
            "period": "P5Y",
            "anchor": {"event": "contract_ended"},
        }
    ],
    "rights": {
        "response_period": "P1M",
        "clock_starts": "receipt",
        "verification": {"erasure": "email_code", "access": "signed_in"},
        "repeat_window": "P3M",
        "channels": [{"kind": "email", "address": "privacy@zala-plava.example"}],
    },
    "systems": [
        {
            "id": "shopdb",
            "name": "Shop database",
            "connector": "postgresql",
            "url_env": "SHOP_DATABASE_URL",
            "country": "LV",
            "datasets": [
                {
                    "name": "customers",
                    "schema": "shop",
                    "identity_fields": [{"field": "email", "kind": "email"}],
                    "restriction_flag": "restricted",
                    "fields": [
                        {"name": "email", "category": "email", "erasure": "keyed_hash"},
                        {"name": "full_name", "category": "name"},
                    ],
                },
                {
                    "name": "orders",
                    "relations": [{"field": "customer_id", "references": "customers.id"}],
                    "fields": [
                        {
                            "name": "placed_at",
                            "category": "orders",
                            "erasure": "generalise_date",
                            "generalise_to": "month",
                        },
                        {
                            "name": "note",
                            "category": "orders",
                            "erasure": "set_value",
                            "erasure_value": "-",
                        },
                    ],
                },
            ],
        },
        {
            "id": "paper",
            "name": "Paper forms",
            "connector": "manual",
            "manual": {"instructions": "Shred the form.", "assignee": "Office"},
        },
    ],
    "security": [{"id": "encryption_at_rest", "description": "Disks are encrypted."}],
}

BASES: dict[str, Any] = {
    "minimal": yaml.safe_load(MINIMAL_TEXT),
    "rich": RICH,
}

YAML_SIGNIFICANT = [*"!&*[]{}:-#|>'\"%@`?,\t\n \\", "\x00", "\ufeff", "é", "<<", "---"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["P5Y", "P", "consent", "consnt", "orders", "LV", "2026-01-15", "id", ""]),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=8,
)


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every mapping and list in ``node`` (root included)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        found.append(path)
        for key, child in node.items():
            found += _containers(child, (*path, key))
    elif isinstance(node, list):
        found.append(path)
        for index, child in enumerate(node):
            found += _containers(child, (*path, index))
    return found


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _mutate(data: Any, draw: Callable[..., Any]) -> Any:
    """Apply one random structural change to (a copy of) ``data``."""
    data = copy.deepcopy(data)
    containers = _containers(data)
    target = _at(data, draw(st.sampled_from(containers)))
    operation = draw(st.sampled_from(["delete", "add_unknown", "replace", "duplicate", "swap_ids"]))
    with_ids = [p for p in containers if isinstance(_at(data, p), dict) and "id" in _at(data, p)]
    if operation == "swap_ids" and with_ids:
        first, second = (_at(data, draw(st.sampled_from(with_ids))) for _ in range(2))
        first["id"], second["id"] = second["id"], first["id"]
    elif isinstance(target, dict):
        keys = list(target)
        if operation == "delete" and keys:
            del target[draw(st.sampled_from(keys))]
        elif operation == "add_unknown":
            key = draw(
                st.one_of(
                    st.text(min_size=1, max_size=10),
                    st.sampled_from(
                        ["purpose", "legal_basis", "schema", "db_schema", "idd", "periode"]
                    ),
                )
            )
            target[key] = draw(values)
        elif keys:
            target[draw(st.sampled_from(keys))] = draw(values)
    elif isinstance(target, list) and target:
        index = draw(st.integers(min_value=0, max_value=len(target) - 1))
        if operation == "delete":
            del target[index]
        elif operation == "duplicate":
            target.insert(index, copy.deepcopy(target[index]))
        else:
            target[index] = draw(values)
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


TEXTS = {"minimal": MINIMAL_TEXT, "rich": _dump(RICH)}
"""Unmutated texts: the fixture as written, the rich policy as dumped."""


def _assert_loads_or_locates(text: str) -> None:
    try:
        loaded = parse_policy(text, "mutated.yaml")
    except PolicyLoadError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.location is not None, str(problem)
            assert problem.location.file == "mutated.yaml"
            assert problem.location.line >= 1, str(problem)
            assert problem.location.column >= 1, str(problem)
            assert problem.message, str(problem)
            assert "\n" not in str(problem), "a problem must print as one line"
    else:
        assert isinstance(loaded, LoadedPolicy)


@pytest.mark.parametrize("name", sorted(BASES))
def test_unmutated_bases_load(name: str) -> None:
    loaded = parse_policy(_dump(BASES[name]), f"{name}.yaml")
    assert loaded.policy.purposes


@pytest.mark.parametrize("name", sorted(BASES))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_structural_mutations(name: str, data: st.DataObject) -> None:
    mutated = BASES[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="changes")):
        mutated = _mutate(mutated, data.draw)
    _assert_loads_or_locates(_dump(mutated))


@pytest.mark.parametrize("name", sorted(BASES))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_truncated_text(name: str, data: st.DataObject) -> None:
    text = TEXTS[name]
    cut = data.draw(st.integers(min_value=0, max_value=len(text)), label="cut")
    _assert_loads_or_locates(text[:cut])


@pytest.mark.parametrize("name", sorted(BASES))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_inserted_characters(name: str, data: st.DataObject) -> None:
    text = TEXTS[name]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="insertions")):
        at = data.draw(st.integers(min_value=0, max_value=len(text)), label="at")
        inserted = data.draw(
            st.lists(
                st.one_of(st.sampled_from(YAML_SIGNIFICANT), st.characters()),
                min_size=1,
                max_size=4,
            ).map("".join),
            label="inserted",
        )
        text = text[:at] + inserted + text[at:]
    _assert_loads_or_locates(text)
