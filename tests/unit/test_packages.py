"""Access and portability packages: what goes into the zip, in which form,
what the report states, which columns portability returns, and that rows
stream through in flat memory."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from datasteward.documents import UnsupportedLanguage
from datasteward.errors import Conflict, InvalidInput, NotFound
from datasteward.packages import (
    ACCESS_FORMAT,
    PORTABILITY_FORMAT,
    FieldInfo,
    PackageSection,
    concerned_activities,
    dataset_fields,
    portable_fields,
    render_access_report,
    select_portable,
    write_access_package,
    write_portability_package,
)
from datasteward.packages.encoding import csv_text, json_value
from datasteward.packages.model import DatasetSummary
from datasteward.policy import parse_policy
from datasteward.policy.model import Policy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"
SRC = Path(__file__).resolve().parents[2] / "src"
STAMP = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"

ART15_HEADINGS = {
    "Art. 15(1)(a) GDPR": "Why we process your data and on which legal basis",
    "Art. 15(1)(b) GDPR": "Categories of personal data concerned",
    "Art. 15(1)(c) GDPR": "Who receives your data",
    "Art. 15(1)(d) GDPR": "How long we keep your data",
    "Art. 15(1)(e) GDPR": "Your rights to rectification, erasure, restriction and objection",
    "Art. 15(1)(f) GDPR": "Your right to complain",
    "Art. 15(1)(g) GDPR": "Where your data comes from",
    "Art. 15(1)(h) GDPR": "Automated decisions and profiling",
    "Art. 15(2) GDPR": "Transfers outside the European Economic Area",
}


# -- policies ------------------------------------------------------------------------


def base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return data


def build(data: dict[str, Any]) -> Policy:
    return parse_policy(yaml.safe_dump(data, allow_unicode=True), "derived.yaml").policy


def shop() -> dict[str, Any]:
    """The fixture grown into a shop with a helpdesk run by a US processor,
    data from a courier, and an automated credit decision."""
    data = copy.deepcopy(base())
    data["data_categories"] += [
        {"id": "orders", "name": "Order history"},
        {"id": "support", "name": "Support messages"},
    ]
    data["purposes"] += [
        {
            "id": "support",
            "name": "Customer support",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Answering questions about deliveries.",
        },
        {
            "id": "credit",
            "name": "Pay-later decisions",
            "legal_bases": ["contract"],
            "automated_decision": {
                "exists": True,
                "logic": "A score from the order history decides whether pay-later is offered.",
                "significance": "Without a good score, pay-later is not offered.",
            },
        },
    ]
    data["recipients"] = [
        {
            "id": "deskapp",
            "name": "Helpdesk Cloud Inc.",
            "role": "processor",
            "country": "US",
            "safeguard": {
                "kind": "standard_contractual_clauses",
                "copy_available_at": "https://zala-plava.example/scc",
            },
        }
    ]
    data["processing_activities"] += [
        {
            "id": "helpdesk",
            "name": "Support tickets",
            "purposes": ["support"],
            "data_categories": ["support"],
            "data_subjects": ["customer"],
            "systems": ["desk"],
            "recipients": ["deskapp"],
            "sources": [{"kind": "third_party", "description": "Courier delivery reports"}],
        },
        {
            "id": "paylater",
            "name": "Pay-later checks",
            "purposes": ["credit"],
            "data_categories": ["orders"],
            "data_subjects": ["customer"],
            "systems": ["shopdb"],
        },
    ]
    data["systems"][0]["datasets"].append(
        {
            "name": "orders",
            "description": "Orders placed in the shop",
            "identity_fields": [{"field": "email", "kind": "email"}],
            "fields": [
                {"name": "email", "category": "email"},
                {"name": "order_no", "category": "orders"},
            ],
        }
    )
    data["systems"].append(
        {
            "id": "desk",
            "name": "Helpdesk",
            "connector": "manual",
            "manual": {"instructions": "Export the tickets of the address."},
            "datasets": [
                {
                    "name": "tickets",
                    "description": f"Tickets {SCRIPT}",
                    "fields": [{"name": "message", "category": "support"}],
                }
            ],
        }
    )
    return data


def portability_policy() -> Policy:
    """A policy where every reason to leave a column out of portability occurs once.

    * customers.signup_ip: only a legitimate-interest activity uses it;
    * orders.total: not provided by the subject;
    * settings.theme: its consent activity says ``portable: false``;
    * crm.contacts.email: portable only through the newsletter activity,
      which names no system;
    * customers.allergies: legal obligation, but explicit consent (Art. 9(2)(a)).
    """
    data = copy.deepcopy(base())
    data["data_categories"] += [
        {"id": "ip", "name": "IP address"},
        {"id": "orders", "name": "Order history"},
        {"id": "prefs", "name": "Preferences"},
        {"id": "health", "name": "Allergies", "special": True},
    ]
    data["purposes"] += [
        {
            "id": "fraud",
            "name": "Fraud prevention",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Stopping payment fraud.",
        },
        {"id": "personalise", "name": "Personalisation", "legal_bases": ["consent"]},
        {
            "id": "food_safety",
            "name": "Food safety",
            "legal_bases": ["legal_obligation"],
            "special_category_condition": "explicit_consent",
        },
    ]
    shop_activity = data["processing_activities"][0]
    shop_activity["data_categories"] = ["email", "name", "orders"]
    data["processing_activities"] += [
        {
            "id": "fraudcheck",
            "name": "Fraud checks",
            "purposes": ["fraud"],
            "data_categories": ["ip", "email"],
            "data_subjects": ["customer"],
            "systems": ["shopdb"],
        },
        {
            "id": "prefs",
            "name": "Personal settings",
            "purposes": ["personalise"],
            "data_categories": ["prefs"],
            "data_subjects": ["customer"],
            "systems": ["shopdb"],
            "portable": False,
        },
        {
            "id": "allergens",
            "name": "Allergen warnings",
            "purposes": ["food_safety"],
            "data_categories": ["health"],
            "data_subjects": ["customer"],
            "systems": ["shopdb"],
        },
    ]
    customers = data["systems"][0]["datasets"][0]
    customers["fields"] += [
        {"name": "signup_ip", "category": "ip"},
        {"name": "allergies", "category": "health"},
    ]
    data["systems"][0]["datasets"] += [
        {
            "name": "orders",
            "fields": [
                {"name": "order_no", "category": "orders"},
                {"name": "total", "category": "orders", "provided_by_subject": False},
            ],
        },
        {"name": "settings", "fields": [{"name": "theme", "category": "prefs"}]},
        {"name": "logins", "fields": [{"name": "ip", "category": "ip"}]},
    ]
    data["systems"].append(
        {
            "id": "crm",
            "name": "Customer relations",
            "connector": "manual",
            "manual": {"instructions": "Look the address up in the CRM."},
            "datasets": [{"name": "contacts", "fields": [{"name": "email", "category": "email"}]}],
        }
    )
    return build(data)


# -- reading packages back -------------------------------------------------------------------


def read_json(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive, archive.open("data.json") as raw:
        return json.load(raw)


def read_csv(path: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (
        zipfile.ZipFile(path) as archive,
        archive.open(name) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        reader = csv.DictReader(text)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_text(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


class _Headings(HTMLParser):
    """Collects the text of every ``h2`` and whether the page has a script."""

    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.tags: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "h2":
            self._in_h2 = True
            self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2[-1] += data


def parse_html(text: str) -> _Headings:
    parser = _Headings()
    parser.feed(text)
    parser.close()
    return parser


# -- encoding --------------------------------------------------------------------------


class Colour(StrEnum):
    GREEN = "green"


ENCODED = [
    (None, None, ""),
    (True, True, "true"),
    (False, False, "false"),
    (42, 42, "42"),
    (-7, -7, "-7"),
    (2.5, 2.5, "2.5"),
    (math.nan, "NaN", "NaN"),
    (math.inf, "Infinity", "Infinity"),
    (-math.inf, "-Infinity", "-Infinity"),
    (Decimal("12.50"), "12.50", "12.50"),
    (Decimal("1E+3"), "1E+3", "1E+3"),
    ("Bērziņa", "Bērziņa", "Bērziņa"),
    (date(2026, 2, 28), "2026-02-28", "2026-02-28"),
    (
        datetime(2026, 2, 28, 23, 59, 1, 5, tzinfo=UTC),
        "2026-02-28T23:59:01.000005+00:00",
        "2026-02-28T23:59:01.000005+00:00",
    ),
    (datetime(2026, 2, 28, 8, 0), "2026-02-28T08:00:00", "2026-02-28T08:00:00"),
    (time(8, 30), "08:30:00", "08:30:00"),
    (timedelta(days=1, seconds=5), "PT86405S", "PT86405S"),
    (timedelta(seconds=1, microseconds=500_000), "PT1.5S", "PT1.5S"),
    (b"\x00\xffAna", {"$base64": "AP9BbmE="}, "base64:AP9BbmE="),
    (bytearray(b"ok"), {"$base64": "b2s="}, "base64:b2s="),
    (memoryview(b"ok"), {"$base64": "b2s="}, "base64:b2s="),
    (Colour.GREEN, "green", "green"),
    ([1, "a", None], [1, "a", None], '[1, "a", null]'),
    (
        {"k": b"x", 3: Decimal("1")},
        {"k": {"$base64": "eA=="}, "3": "1"},
        '{"k": {"$base64": "eA=="}, "3": "1"}',
    ),
    (Path("/srv/x"), "/srv/x", "/srv/x"),
]


@pytest.mark.parametrize(("value", "as_json", "as_csv"), ENCODED, ids=lambda v: repr(v)[:30])
def test_each_type_has_one_json_value_and_one_csv_text(
    value: object, as_json: object, as_csv: str
) -> None:
    assert json_value(value) == as_json
    assert json.loads(json.dumps(json_value(value), allow_nan=False)) == as_json
    assert csv_text(value) == as_csv


# -- the access package ----------------------------------------------------------------------


CUSTOMER_FIELDS = (
    FieldInfo("email", "email", "Email address"),
    FieldInfo("full_name", "name", "Name"),
    FieldInfo("note", "name", f"Notes {SCRIPT}"),
    FieldInfo("born", "name", "Name"),
    FieldInfo("balance", "name", "Name"),
    FieldInfo("avatar", "name", "Name"),
    FieldInfo("seen_at", "name", "Name"),
)
CUSTOMER_ROWS: list[dict[str, object]] = [
    {
        "email": "ana.berzina@example.lv",
        "full_name": "Ana Bērziņa",
        "note": 'Likes "green", not red,\nsays: <script>alert(1)</script>',
        "born": date(1990, 5, 17),
        "balance": Decimal("12.50"),
        "avatar": b"\x89PNG",
        "seen_at": datetime(2026, 3, 1, 18, 5, tzinfo=UTC),
    },
    {
        "email": "ana@zala-plava.example",
        "full_name": "Ана 李 🌿",
        "note": None,
        "born": None,
        "balance": Decimal("-0.01"),
        "avatar": b"",
        "seen_at": None,
    },
]


def customer_sections(policy: Policy) -> list[PackageSection]:
    return [
        PackageSection("shopdb", "customers", CUSTOMER_FIELDS, iter(CUSTOMER_ROWS)),
        PackageSection("shopdb", "orders", dataset_fields(policy, "shopdb", "orders"), iter([])),
    ]


@pytest.fixture
def access_zip(tmp_path: Path) -> Path:
    policy = build(shop())
    path = tmp_path / "work" / "access.zip"
    written = write_access_package(
        path,
        policy,
        customer_sections(policy),
        generated_at=STAMP,
        identity_kinds=["email", "customer_id", "email"],
    )
    assert written.path == path
    assert [(d.key, d.rows) for d in written.datasets] == [
        ("shopdb.customers", 2),
        ("shopdb.orders", 0),
    ]
    return path


def test_access_zip_holds_data_json_a_csv_per_dataset_and_the_report(access_zip: Path) -> None:
    with zipfile.ZipFile(access_zip) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == [
            "csv/shopdb.customers.csv",
            "csv/shopdb.orders.csv",
            "data.json",
            "report.html",
        ]


def test_data_json_is_valid_and_states_every_value_with_its_place(access_zip: Path) -> None:
    doc = read_json(access_zip)
    assert doc["format"] == ACCESS_FORMAT == "datasteward-access-1"
    assert doc["generated_at"] == "2026-03-02T09:30:00+00:00"
    assert doc["policy_version"] == "1.0"
    assert doc["controller"]["legal_name"] == 'SIA "Zaļā Pļava"'
    assert doc["controller"]["supervisory_authority"]["name"] == "Data State Inspectorate (DVI)"
    assert doc["subject"] == {"identity_kinds": ["email", "customer_id"]}
    assert [(d["system"], d["dataset"], d["rows"], d["csv"]) for d in doc["searched"]] == [
        ("shopdb", "customers", 2, "csv/shopdb.customers.csv"),
        ("shopdb", "orders", 0, "csv/shopdb.orders.csv"),
    ]
    records = doc["records"]
    assert [(r["system"], r["dataset"], r["row"]) for r in records] == [
        ("shopdb", "customers", 1),
        ("shopdb", "customers", 2),
    ]
    first = {f["field"]: f for f in records[0]["fields"]}
    assert list(first) == [f.name for f in CUSTOMER_FIELDS]
    assert first["email"] == {
        "field": "email",
        "category": "email",
        "category_name": "Email address",
        "value": "ana.berzina@example.lv",
    }
    assert first["note"]["value"] == 'Likes "green", not red,\nsays: <script>alert(1)</script>'
    assert first["born"]["value"] == "1990-05-17"
    assert first["balance"]["value"] == "12.50"
    assert first["avatar"]["value"] == {"$base64": "iVBORw=="}
    assert first["seen_at"]["value"] == "2026-03-01T18:05:00+00:00"
    second = {f["field"]: f["value"] for f in records[1]["fields"]}
    assert second == {
        "email": "ana@zala-plava.example",
        "full_name": "Ана 李 🌿",
        "note": None,
        "born": None,
        "balance": "-0.01",
        "avatar": {"$base64": ""},
        "seen_at": None,
    }


def test_csv_reads_back_to_the_same_values_as_text(access_zip: Path) -> None:
    columns, rows = read_csv(access_zip, "csv/shopdb.customers.csv")
    assert columns == [f.name for f in CUSTOMER_FIELDS]
    assert rows == [
        {
            "email": "ana.berzina@example.lv",
            "full_name": "Ana Bērziņa",
            "note": 'Likes "green", not red,\nsays: <script>alert(1)</script>',
            "born": "1990-05-17",
            "balance": "12.50",
            "avatar": "base64:iVBORw==",
            "seen_at": "2026-03-01T18:05:00+00:00",
        },
        {
            "email": "ana@zala-plava.example",
            "full_name": "Ана 李 🌿",
            "note": "",
            "born": "",
            "balance": "-0.01",
            "avatar": "base64:",
            "seen_at": "",
        },
    ]


def test_dataset_without_rows_gets_a_csv_with_only_its_header(access_zip: Path) -> None:
    columns, rows = read_csv(access_zip, "csv/shopdb.orders.csv")
    assert columns == ["email", "order_no"]
    assert rows == []


def test_report_has_every_article_15_heading_and_escapes_values(access_zip: Path) -> None:
    html = read_text(access_zip, "report.html")
    page = parse_html(html)
    for article, heading in ART15_HEADINGS.items():
        assert f"{heading} ({article})" in page.h2, article
    assert "script" not in page.tags
    assert "<script" not in html.lower()
    assert "Notes &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Content-Security-Policy" in html


def test_report_counts_records_and_names_datasets_searched_without_result(
    access_zip: Path,
) -> None:
    html = read_text(access_zip, "report.html")
    assert "We found 2 records about you in 1 dataset." in html
    assert '<td class="number">2</td><td>Email address, Name, Notes &lt;script' in html
    assert 'orders: Orders placed in the shop</td><td colspan="3">searched, nothing found' in html
    assert "email address and customer number" in html
    # The report points to the files instead of repeating values.
    assert "ana.berzina@example.lv" not in html
    assert "<code>csv/shopdb.customers.csv</code>" in html
    assert "version 1.0 of our privacy policy" in html
    assert '<time datetime="2026-03-02T09:30:00+00:00">2 March 2026 at 11:30 (Europe/Riga)' in html


def test_access_zip_is_private_and_nothing_else_is_left_behind(access_zip: Path) -> None:
    assert (access_zip.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in access_zip.parent.iterdir()) == ["access.zip"]
    with zipfile.ZipFile(access_zip) as archive:
        assert {(i.external_attr >> 16) & 0o777 for i in archive.infolist()} == {0o600}


# -- what the report states, from the policy ----------------------------------------------------


def report_for(policy: Policy, found: dict[tuple[str, str], int]) -> str:
    datasets = [
        DatasetSummary(system, dataset, dataset_fields(policy, system, dataset), rows, "x.csv")
        for (system, dataset), rows in found.items()
    ]
    return render_access_report(policy, datasets, generated_at=STAMP)


def test_report_narrows_to_activities_that_concern_the_data_found() -> None:
    policy = build(shop())
    found = {("shopdb", "customers"): 1, ("shopdb", "orders"): 2, ("desk", "tickets"): 0}
    html = report_for(policy, found)
    assert "Online shop orders, Newsletter mailing, Pay-later checks." in html
    assert "Support tickets" not in html
    assert "Helpdesk Cloud Inc." not in html
    assert "Courier delivery reports" not in html
    assert "We collected this data from you." in html
    assert "This data is not transferred to countries outside" in html
    # Automated decision of a concerned purpose (Art. 15(1)(h)).
    assert "A score from the order history decides" in html
    assert "ask for a person to review it" in html
    assert 'Tickets &lt;script&gt;alert(1)&lt;/script&gt;</td><td colspan="3">searched' in html


def test_report_states_recipients_transfers_and_sources_of_concerned_activities() -> None:
    policy = build(shop())
    html = report_for(policy, {("desk", "tickets"): 3})
    assert concerned_activities(
        policy,
        [DatasetSummary("desk", "tickets", dataset_fields(policy, "desk", "tickets"), 3, "")],
    ) == ("helpdesk",)
    assert "Helpdesk Cloud Inc., in the United States (outside the European Economic Area)" in html
    assert "standard contractual clauses adopted by the European Commission" in html
    assert '<a href="https://zala-plava.example/scc">' in html
    assert "From third parties (Courier delivery reports): Support tickets" in html
    assert "Our legitimate interest</dt><dd>Answering questions about deliveries." in html
    assert "A score from the order history" not in html
    assert "We do not make decisions about you based solely on automated processing" in html


def test_report_without_findings_covers_all_processing_and_says_so() -> None:
    policy = build(shop())
    html = report_for(policy, {("shopdb", "customers"): 0, ("desk", "tickets"): 0})
    assert "We found no personal data about you in the datasets we searched." in html
    assert "this report gives the information for all of our processing" in html
    for name in ("Online shop orders", "Newsletter mailing", "Support tickets", "Pay-later checks"):
        assert f"<h3>{name}</h3>" in html
    assert html.count('<td colspan="3">searched, nothing found</td>') == 2
    page = parse_html(html)
    for article, heading in ART15_HEADINGS.items():
        assert f"{heading} ({article})" in page.h2


def test_report_does_not_claim_no_transfer_when_a_recipient_location_is_unknown() -> None:
    data = shop()
    data["recipients"].append({"id": "courier", "name": "Kurjers SIA", "role": "processor"})
    data["processing_activities"][0]["recipients"] = ["courier"]
    html = report_for(build(data), {("shopdb", "customers"): 1})
    assert "does not state where the following recipients process it: Kurjers SIA" in html
    assert "This data is not transferred" not in html


# -- refusals ------------------------------------------------------------------------------------


def _sections(rows: list[dict[str, object]]) -> list[PackageSection]:
    fields = (FieldInfo("email", "email", "Email address"),)
    return [PackageSection("shopdb", "customers", fields, iter(rows))]


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (_sections([{"email": "a@b.lv"}, {}]), "row 2: no value for column 'email'"),
        (_sections([{"email": "a@b.lv", "pin": "1234"}]), "row 1: undeclared column(s) pin"),
        (
            _sections([{"email": "a@b.lv"}]) + _sections([]),
            "dataset shopdb.customers is given twice",
        ),
        (
            [PackageSection("s", "d", (FieldInfo("a", "c", "C"), FieldInfo("a", "c", "C")), [])],
            "names a column twice",
        ),
    ],
    ids=["missing", "undeclared", "twice", "duplicate-column"],
)
def test_bad_sections_are_refused_and_leave_no_file(
    tmp_path: Path, sections: list[PackageSection], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        write_access_package(tmp_path / "a.zip", build(base()), sections, generated_at=STAMP)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_package_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"earlier")
    with pytest.raises(Conflict, match="never overwritten"):
        write_access_package(path, build(base()), [], generated_at=STAMP)
    assert path.read_bytes() == b"earlier"


def test_generation_time_must_carry_a_time_zone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_access_package(
            tmp_path / "a.zip", build(base()), [], generated_at=datetime(2026, 1, 1)
        )


def test_unknown_report_language_is_refused_before_rows_are_read(tmp_path: Path) -> None:
    read: list[int] = []

    def rows() -> Iterator[dict[str, object]]:
        read.append(1)
        yield {"email": "a@b.lv"}

    fields = (FieldInfo("email", "email", "Email address"),)
    sections = [PackageSection("shopdb", "customers", fields, rows())]
    with pytest.raises(UnsupportedLanguage):
        write_access_package(
            tmp_path / "a.zip", build(base()), sections, generated_at=STAMP, language="xx"
        )
    assert read == []
    assert list(tmp_path.iterdir()) == []


def test_unsafe_dataset_names_make_safe_distinct_file_names(tmp_path: Path) -> None:
    fields = (FieldInfo("v", "name", "Name"),)
    sections = [
        PackageSection("shopdb", "../etc/passwd", fields, [{"v": 1}]),
        PackageSection("shopdb", "__etc_passwd", fields, [{"v": 2}]),
    ]
    written = write_access_package(tmp_path / "a.zip", build(base()), sections, generated_at=STAMP)
    names = [d.csv_name for d in written.datasets]
    assert names == ["csv/shopdb._etc_passwd.csv", "csv/shopdb.__etc_passwd.csv"]
    assert read_csv(tmp_path / "a.zip", names[0])[1] == [{"v": "1"}]


def test_dataset_fields_come_from_the_policy() -> None:
    policy = build(base())
    assert dataset_fields(policy, "shopdb", "customers") == (
        FieldInfo("email", "email", "Email address", True),
        FieldInfo("full_name", "name", "Name", True),
    )
    with pytest.raises(NotFound, match=re.escape("unknown dataset 'shopdb.nope'")):
        dataset_fields(policy, "shopdb", "nope")
    with pytest.raises(NotFound, match="unknown system 'nope'"):
        dataset_fields(policy, "nope", "customers")


# -- portability ---------------------------------------------------------------------------


def test_portability_selects_provided_fields_on_consent_or_contract() -> None:
    assert portable_fields(portability_policy()) == {
        ("shopdb", "customers"): ("email", "full_name", "allergies"),
        ("shopdb", "orders"): ("order_no",),
        ("crm", "contacts"): ("email",),
    }


def test_portability_follows_the_policy_when_it_changes() -> None:
    data = base()
    data["processing_activities"][0]["portable"] = False  # the shop opts out
    # The newsletter activity (no system) still covers the email address.
    assert portable_fields(build(data)) == {("shopdb", "customers"): ("email",)}
    data["purposes"][0]["legal_bases"] = ["legal_obligation"]
    data["purposes"][1]["legal_bases"] = ["legitimate_interest"]
    data["purposes"][1]["legitimate_interest"] = "Keeping customers informed."
    del data["purposes"][1]["consent"]
    assert portable_fields(build(data)) == {}


def _portability_sections(policy: Policy) -> Iterator[PackageSection]:
    def rows(*items: dict[str, object]) -> Iterator[dict[str, object]]:
        yield from items

    def never() -> Iterator[dict[str, object]]:
        raise AssertionError("rows of a dataset without portable columns were read")
        yield {}

    yield PackageSection(
        "shopdb",
        "customers",
        dataset_fields(policy, "shopdb", "customers"),
        rows(
            {
                "email": "ana@example.lv",
                "full_name": 'Ana Bērziņa, "Zaļā"',
                "signup_ip": "203.0.113.7",
                "allergies": None,
            }
        ),
    )
    yield PackageSection(
        "shopdb",
        "orders",
        dataset_fields(policy, "shopdb", "orders"),
        rows(
            {"order_no": "Z-1", "total": Decimal("19.90")},
            {"order_no": "Z-2", "total": Decimal("5.00")},
        ),
    )
    yield PackageSection("shopdb", "logins", dataset_fields(policy, "shopdb", "logins"), never())
    yield PackageSection("crm", "contacts", dataset_fields(policy, "crm", "contacts"), rows())


def test_portability_package_holds_only_portable_columns(tmp_path: Path) -> None:
    policy = portability_policy()
    path = tmp_path / "portable.zip"
    written = write_portability_package(
        path, policy, _portability_sections(policy), generated_at=STAMP, identity_kinds=["email"]
    )
    assert written.format == PORTABILITY_FORMAT == "datasteward-portability-1"
    doc = read_json(path)
    assert doc["format"] == "datasteward-portability-1"
    assert doc["subject"] == {"identity_kinds": ["email"]}
    assert doc["datasets"] == {
        "shopdb.customers": [
            {"email": "ana@example.lv", "full_name": 'Ana Bērziņa, "Zaļā"', "allergies": None}
        ],
        "shopdb.orders": [{"order_no": "Z-1"}, {"order_no": "Z-2"}],
        "crm.contacts": [],
    }
    assert {k: [f["name"] for f in v["fields"]] for k, v in doc["structure"].items()} == {
        "shopdb.customers": ["email", "full_name", "allergies"],
        "shopdb.orders": ["order_no"],
        "crm.contacts": ["email"],
    }
    assert doc["structure"]["shopdb.orders"]["rows"] == 2
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "csv/crm.contacts.csv",
            "csv/shopdb.customers.csv",
            "csv/shopdb.orders.csv",
            "data.json",
        ]
    assert read_csv(path, "csv/shopdb.orders.csv") == (
        ["order_no"],
        [{"order_no": "Z-1"}, {"order_no": "Z-2"}],
    )
    assert read_csv(path, "csv/shopdb.customers.csv")[1] == [
        {"email": "ana@example.lv", "full_name": 'Ana Bērziņa, "Zaļā"', "allergies": ""}
    ]


def test_select_portable_narrows_rows_lazily() -> None:
    policy = portability_policy()
    pulled: list[int] = []

    def rows() -> Iterator[dict[str, object]]:
        for n in range(3):
            pulled.append(n)
            yield {"order_no": f"Z-{n}", "total": Decimal(n)}

    fields = dataset_fields(policy, "shopdb", "orders")
    (section,) = select_portable(policy, [PackageSection("shopdb", "orders", fields, rows())])
    assert [f.name for f in section.fields] == ["order_no"]
    assert pulled == []
    assert next(iter(section.rows)) == {"order_no": "Z-0"}
    assert pulled == [0]


# -- streaming ------------------------------------------------------------------------------

_STREAM_SCRIPT = textwrap.dedent(
    """
    import resource, sys, zipfile
    from datetime import UTC, datetime
    from decimal import Decimal
    from pathlib import Path
    from datasteward.packages import FieldInfo, PackageSection, write_access_package
    from datasteward.policy import load_policy_file

    policy = load_policy_file(Path(sys.argv[1])).policy
    fields = (
        FieldInfo("id", "name", "Name"),
        FieldInfo("email", "email", "Email address"),
        FieldInfo("amount", "name", "Name"),
        FieldInfo("at", "name", "Name"),
        FieldInfo("note", "name", "Name"),
    )
    def rows():
        for i in range(300_000):
            yield {
                "id": i,
                "email": f"customer{i}@example.lv",
                "amount": Decimal(i) / 100,
                "at": datetime(2026, 1, 1, tzinfo=UTC),
                "note": 'Bērziņa, "x"\\n',
            }
    section = PackageSection("shopdb", "customers", fields, rows())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = Path(sys.argv[2])
    write_access_package(out, policy, [section], generated_at=datetime.now(UTC))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with zipfile.ZipFile(out) as archive:
        size = archive.getinfo("data.json").file_size
    print(after - before, size)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_300000_rows_stream_through_in_flat_memory(tmp_path: Path) -> None:
    """In a fresh process, so the peak belongs to this package alone."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", _STREAM_SCRIPT, str(FIXTURE), str(tmp_path / "big.zip")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    growth_kib, data_size = (int(x) for x in result.stdout.split())
    # Holding data.json alone would take more than twice the bound.
    assert data_size > 100 * 1024 * 1024
    assert growth_kib < 50 * 1024, f"peak RSS grew by {growth_kib} KiB"


# -- the documentation shows what the writer writes ----------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "packages.md"


def json_example(heading: str) -> Any:
    """The first JSON code block after ``heading`` in docs/packages.md."""
    text = DOCS.read_text(encoding="utf-8")
    after = text[text.index(f"\n{heading}\n") :]
    start = after.index("```json\n") + len("```json\n")
    return json.loads(after[start : after.index("```", start)])


def keys(doc: Any) -> list[str]:
    return list(doc)


def test_docs_access_example_has_the_shape_of_a_real_package(access_zip: Path) -> None:
    shown = json_example("### data.json, access (`datasteward-access-1`)")
    real = read_json(access_zip)
    assert shown["format"] == real["format"]
    assert keys(shown) == keys(real)
    assert keys(shown["controller"]) == keys(real["controller"])
    assert keys(shown["searched"][0]) == keys(real["searched"][0])
    assert keys(shown["searched"][0]["fields"][0]) == keys(real["searched"][0]["fields"][0])
    assert keys(shown["records"][0]) == keys(real["records"][0])
    assert keys(shown["records"][0]["fields"][0]) == keys(real["records"][0]["fields"][0])


def test_docs_portability_example_has_the_shape_of_a_real_package(tmp_path: Path) -> None:
    policy = portability_policy()
    path = tmp_path / "p.zip"
    write_portability_package(path, policy, _portability_sections(policy), generated_at=STAMP)
    shown = json_example("### data.json, portability (`datasteward-portability-1`)")
    real = read_json(path)
    assert shown["format"] == real["format"]
    assert keys(shown) == keys(real)
    assert keys(shown["controller"]) == keys(real["controller"])
    (entry,) = shown["structure"].values()
    assert keys(entry) == keys(real["structure"]["shopdb.customers"])
    assert list(shown["datasets"]) == list(shown["structure"])
