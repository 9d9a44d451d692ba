"""The record of processing (Art. 30(1)) holds one record per activity, in
CSV, JSON and HTML, with points (a) to (g) taken from the policy."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from datasteward.documents import ROPA_COLUMNS, ROPA_FORMATS, render_ropa
from datasteward.documents import ropa as ropa_module
from datasteward.policy import load_policy_file, parse_policy
from datasteward.policy.model import Policy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"


def base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return data


def build(data: dict[str, Any]) -> Policy:
    return parse_policy(yaml.safe_dump(data, allow_unicode=True), "derived.yaml").policy


def minimal() -> Policy:
    return load_policy_file(FIXTURE).policy


def extended() -> Policy:
    """The fixture with a DPO, representative, US processor, joint controller,
    legal hold and security measures."""
    data = copy.deepcopy(base())
    controller = data["controller"]
    controller["dpo"] = {"name": "Ana Bērziņa", "email": "dpo@zala-plava.example"}
    controller["eu_representative"] = {"name": "Jānis Kalniņš", "address": "Rīga"}
    data["data_categories"].append({"id": "invoice", "name": "Invoice data"})
    data["data_categories"].append({"id": "health", "name": "Allergies", "special": True})
    data["purposes"].append(
        {
            "id": "fraud",
            "name": "Fraud prevention",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Stopping payment fraud.",
        }
    )
    data["recipients"] = [
        {
            "id": "mailer",
            "name": "Pastnieks Cloud Inc.",
            "role": "processor",
            "country": "US",
            "safeguard": {
                "kind": "standard_contractual_clauses",
                "copy_available_at": "https://zala-plava.example/scc",
            },
        },
        {"id": "partner", "name": "SIA Meža Ceļš", "role": "joint_controller", "country": "LV"},
    ]
    shop, mailing = data["processing_activities"]
    shop["purposes"] = ["orders", "fraud"]
    shop["data_categories"] += ["invoice", "health"]
    shop["recipients"] = ["partner"]
    shop["description"] = 'Orders, "express" deliveries,\nand returns'
    mailing["recipients"] = ["mailer"]
    data["legal_holds"] = [
        {
            "id": "accounting-law",
            "law": "Accounting Law",
            "reference": "Section 10",
            "data_categories": ["invoice"],
            "period": "P5Y",
            "anchor": {"event": "contract_ended"},
        }
    ]
    data["security"] = [
        {"id": "encryption_at_rest", "description": "Data is encrypted at rest."},
        {"id": "access_control", "description": "Only authorised staff have access."},
    ]
    return build(data)


def csv_rows(policy: Policy) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(render_ropa(policy, "csv")))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


# -- CSV ---------------------------------------------------------------------------


def test_csv_has_the_documented_columns_and_one_row_per_activity() -> None:
    fields, rows = csv_rows(minimal())
    assert fields == list(ROPA_COLUMNS)
    assert [r["activity_id"] for r in rows] == ["shop", "mailing"]
    shop = rows[0]
    assert shop["controller"].startswith('SIA "Zaļā Pļava", Lauku iela 1')
    assert shop["purposes"] == "Handling orders"
    assert shop["legal_bases"] == "Handling orders: Art. 6(1)(b) GDPR"
    assert shop["data_subject_categories"] == "Customers"
    assert shop["personal_data_categories"] == "Email address; Name"
    assert shop["retention"] == "Email address, Name: deleted 5 years after the contract ended"
    assert shop["transfers"] == ""
    assert shop["policy_version"] == "1.0"
    assert shop["effective_date"] == "2026-01-15"
    assert rows[1]["retention"] == "Email address: deleted 1 month after the subscription ends"


def test_every_column_is_documented_in_the_module_docstring() -> None:
    doc = ropa_module.__doc__ or ""
    for column in ROPA_COLUMNS:
        assert re.search(rf"^{column}\s", doc, flags=re.MULTILINE), column


def test_csv_points_a_to_g() -> None:
    _, rows = csv_rows(extended())
    shop, mailing = rows
    assert shop["activity_description"] == 'Orders, "express" deliveries,\nand returns'
    assert shop["dpo"] == "Ana Bērziņa, dpo@zala-plava.example"
    assert shop["representative"] == "Jānis Kalniņš, Rīga"
    assert shop["joint_controllers"] == "SIA Meža Ceļš (joint controller, LV)"
    assert shop["legal_bases"] == (
        "Handling orders: Art. 6(1)(b) GDPR; Fraud prevention: Art. 6(1)(f) GDPR "
        "(legitimate interest: Stopping payment fraud.)"
    )
    assert shop["special_categories"] == "Allergies"
    assert shop["legal_holds"] == (
        "Invoice data: kept for 5 years after the contract ended as required by "
        "Accounting Law, Section 10"
    )
    assert shop["security_measures"] == (
        "Data is encrypted at rest.; Only authorised staff have access."
    )
    assert mailing["recipients"] == "Pastnieks Cloud Inc. (processor, US)"
    assert mailing["third_country_recipients"] == "Pastnieks Cloud Inc. (processor, US)"
    assert mailing["transfers"] == (
        "Pastnieks Cloud Inc., US: standard contractual clauses adopted by the European "
        "Commission (Art. 46(2)(c) GDPR); copy available at https://zala-plava.example/scc"
    )
    assert shop["transfers"] == ""


# -- JSON ---------------------------------------------------------------------------


def test_json_parses_back_with_lists_kept() -> None:
    document = json.loads(render_ropa(extended(), "json"))
    assert set(document) == {"controller", "generated_from", "activities"}
    assert document["generated_from"] == {"version": "1.0", "effective_date": "2026-01-15"}
    controller = document["controller"]
    assert controller["legal_name"] == 'SIA "Zaļā Pļava"'
    assert controller["dpo"]["email"] == "dpo@zala-plava.example"
    assert controller["supervisory_authority"]["url"] == "https://www.dvi.gov.lv/"
    shop, mailing = document["activities"]
    assert shop["id"] == "shop"
    assert shop["data_subjects"] == ["Customers"]
    assert [c["name"] for c in shop["data_categories"]] == [
        "Email address",
        "Name",
        "Invoice data",
        "Allergies",
    ]
    assert shop["purposes"][1]["legal_bases"] == [
        {"basis": "legitimate_interest", "article": "Art. 6(1)(f) GDPR"}
    ]
    assert shop["retention"][0]["period"] == "P5Y"
    assert shop["retention"][0]["text"] == "deleted 5 years after the contract ended"
    assert shop["legal_holds"][0]["ground_article"] == "Art. 17(3)(b) GDPR"
    assert shop["security_measures"] == [
        "Data is encrypted at rest.",
        "Only authorised staff have access.",
    ]
    assert mailing["transfers"] == [
        {
            "recipient": "Pastnieks Cloud Inc.",
            "system": None,
            "country": "US",
            "safeguard": "standard_contractual_clauses",
            "safeguard_reference": None,
            "copy_available_at": "https://zala-plava.example/scc",
            "text": "Pastnieks Cloud Inc., US: standard contractual clauses adopted by the "
            "European Commission (Art. 46(2)(c) GDPR); copy available at "
            "https://zala-plava.example/scc",
        }
    ]
    assert mailing["recipients"][0]["third_country"] is True


# -- HTML ---------------------------------------------------------------------------


def test_html_has_a_table_per_activity_and_every_point() -> None:
    page = render_ropa(extended(), "html")
    assert '<html lang="en">' in page
    assert page.count('<table id="activity-') == 2
    for point in "abcdefg":
        assert f"({point})</th>" in page
    assert "Ana Bērziņa, dpo@zala-plava.example" in page
    assert "<script" not in page and "<link" not in page


def test_html_escapes_text_from_the_policy() -> None:
    data = base()
    data["controller"]["legal_name"] = "<script>alert(1)</script>"
    data["data_categories"][0]["name"] = "<b>Email</b>"
    page = render_ropa(build(data), "html")
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Email&lt;/b&gt;, Name: deleted 5 years" in page


# -- formats -------------------------------------------------------------------------


def test_every_format_renders_and_unknown_is_refused() -> None:
    for fmt in ROPA_FORMATS:
        assert render_ropa(minimal(), fmt)
    with pytest.raises(ValueError, match="csv, json, html"):
        render_ropa(minimal(), "xlsx")
