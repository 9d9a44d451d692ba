"""The privacy notice states every Art. 13/14 item, from the policy alone."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt

from datasteward.documents import NOTICE_FORMATS, UnsupportedLanguage, render_notice
from datasteward.documents.derive import derive_facts
from datasteward.policy import load_policy_file, parse_policy
from datasteward.policy.model import Policy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"

HEADINGS = {
    "Art. 13(1)(a)": "Who is responsible for your data",
    "Art. 13(1)(b)": "Data protection officer",
    "Art. 13(1)(c)-(d)": "Why we process your data and on which legal basis",
    "Art. 14(1)(d)": "What data we process and about whom",
    "Art. 14(2)(f)": "Where your data comes from",
    "Art. 13(1)(e)": "Who receives your data",
    "Art. 13(1)(f)": "Transfers outside the European Economic Area",
    "Art. 13(2)(a)": "How long we keep your data",
    "Art. 13(2)(b)": "Your rights",
    "Art. 13(2)(c)": "Withdrawing your consent",
    "Art. 13(2)(d)": "Your right to complain",
    "Art. 13(2)(e)": "Whether you must provide your data",
    "Art. 13(2)(f)": "Automated decisions and profiling",
    "Art. 21": "Your right to object",
}

NO_TRANSFER = "no data leaves the EEA"


# -- policies derived from the fixture -------------------------------------------


def base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return data


def build(data: dict[str, Any]) -> Policy:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return parse_policy(text, "derived.yaml").policy


def minimal() -> Policy:
    return load_policy_file(FIXTURE).policy


def with_us_mailer(data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(data or base())
    data.setdefault("recipients", []).append(
        {
            "id": "mailer",
            "name": "Pastnieks Cloud Inc.",
            "role": "processor",
            "country": "US",
            "safeguard": {
                "kind": "standard_contractual_clauses",
                "reference": "Commission Implementing Decision (EU) 2021/914",
                "copy_available_at": "https://zala-plava.example/scc",
            },
        }
    )
    data["processing_activities"][1]["recipients"] = ["mailer"]
    return data


def rich() -> dict[str, Any]:
    """The fixture grown into a shop with most of what a notice can say."""
    data = with_us_mailer()
    c = data["controller"]
    c["short_name"] = "Zaļā Pļava"
    c["website"] = "https://zala-plava.example"
    c["dpo"] = {"name": "Ana Bērziņa", "email": "dpo@zala-plava.example"}
    c["eu_representative"] = None
    c["declarations"] = {"no_sale_of_data": True}
    data["data_subjects"][0]["minimum_age"] = 16
    data["data_subjects"][0]["minors_on_discovery"] = "We delete the account."
    data["data_subjects"].append({"id": "visitor", "name": "Website visitors"})
    data["data_categories"] += [
        {"id": "ip", "name": "IP address"},
        {"id": "invoice", "name": "Invoice data"},
        {"id": "account", "name": "Account data"},
    ]
    data["purposes"] += [
        {
            "id": "security",
            "name": "Website security",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Keeping the shop safe from attacks.",
            "objection": {"allowed": False, "reason_if_not": "Logs are needed to run the site."},
        },
        {
            "id": "accounting",
            "name": "Bookkeeping",
            "legal_bases": ["legal_obligation"],
            "requirement": {"kind": "statutory", "consequence": "We cannot issue an invoice."},
        },
        {
            "id": "analytics",
            "name": "Visitor statistics",
            "legal_bases": ["consent"],
            "consent": {
                "mechanism": "banner",
                "withdrawal_channels": ["banner", "email:consent@zala-plava.example"],
                "expires_after": "P1Y",
            },
        },
    ]
    data["processing_activities"] += [
        {
            "id": "logs",
            "name": "Web server logs",
            "purposes": ["security"],
            "data_categories": ["ip"],
            "data_subjects": ["visitor"],
            "sources": [{"kind": "observed", "description": "the web server"}],
            "retention": ["logs-7d"],
        },
        {
            "id": "books",
            "name": "Invoices",
            "purposes": ["accounting"],
            "data_categories": ["invoice", "name"],
            "data_subjects": ["customer"],
            "retention": ["invoices"],
        },
        {
            "id": "accounts",
            "name": "Customer accounts",
            "purposes": ["orders"],
            "data_categories": ["account"],
            "data_subjects": ["customer"],
            "retention": ["accounts-3m"],
        },
        {
            "id": "stats",
            "name": "Statistics",
            "purposes": ["analytics"],
            "data_categories": ["ip"],
            "data_subjects": ["visitor"],
            "retention_criteria": "Kept while the consent is valid.",
        },
    ]
    data["retention_rules"] += [
        {
            "id": "logs-7d",
            "data_categories": ["ip"],
            "anchor": {"event": "collected"},
            "period": "P7D",
            "action": "anonymise",
            "fields": ["ip"],
        },
        {
            "id": "accounts-3m",
            "data_categories": ["account"],
            "anchor": {"event": "account_closed"},
            "period": "P3M",
        },
        {
            "id": "invoices",
            "data_categories": ["invoice"],
            "anchor": {"event": "contract_ended"},
            "period": "P11Y",
            "legal_holds": ["accounting-law"],
        },
    ]
    data["legal_holds"] = [
        {
            "id": "accounting-law",
            "law": "Accounting Law (Grāmatvedības likums)",
            "reference": "Section 10",
            "data_categories": ["invoice"],
            "period": "P5Y",
            "anchor": {"event": "contract_ended"},
        }
    ]
    data["cookies"] = [
        {
            "name": "basket",
            "provider": "first_party",
            "purpose": "orders",
            "strictly_necessary": True,
            "description": "Keeps your basket.",
            "session": True,
        },
        {"name": "_stats", "provider": "mailer", "purpose": "analytics", "duration": "P2Y"},
    ]
    data["security"] = [
        {"id": "encryption_at_rest", "description": "Data is encrypted at rest."},
        {"id": "access_control", "description": "Only authorised staff have access."},
    ]
    data["rights"] = {
        "channels": [
            {"kind": "email", "address": "privacy@zala-plava.example"},
            {"kind": "web", "url": "https://zala-plava.example/privacy"},
        ]
    }
    return data


# -- helpers ---------------------------------------------------------------------


class _Balance(HTMLParser):
    """Checks that every opened element is closed in order."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.start_tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.start_tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def parse_html(page: str) -> _Balance:
    checker = _Balance()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def md_tokens(text: str) -> list[Any]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def headings(text: str, fmt: str) -> list[str]:
    if fmt == "markdown":
        return re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    return re.findall(r"<h2 id=\"[a-z]+\">(.+?)</h2>", text)


# -- every Art. 13 item ------------------------------------------------------------


@pytest.mark.parametrize("fmt", NOTICE_FORMATS)
def test_every_art13_item_has_its_heading_in_both_formats(fmt: str) -> None:
    found = headings(render_notice(minimal(), fmt), fmt)
    for article, heading in HEADINGS.items():
        assert heading in found, f"{article} heading missing in {fmt}"


@pytest.mark.parametrize("fmt", NOTICE_FORMATS)
def test_minimal_notice_states_the_policy(fmt: str) -> None:
    text = render_notice(minimal(), fmt)
    if fmt == "html":
        text = text.replace("&#34;", '"')
    for expected in (
        'SIA "Zaļā Pļava"',
        "40000000001",
        "Lauku iela 1, Rīga, LV-1001",
        "privacy@zala-plava.example",
        "We have not appointed a data protection officer",
        "Handling orders",
        "Art. 6(1)(b) GDPR",
        "Art. 6(1)(a) GDPR",
        "Email address, Name: deleted 5 years after the contract ended.",
        "Email address: deleted 1 month after the subscription ends.",
        "with the unsubscribe link in every message we send or in our privacy center",
        "does not affect the lawfulness of processing based on your consent before its withdrawal",
        "Data State Inspectorate (DVI)",
        "https://www.dvi.gov.lv/",
        "required to enter into a contract with us",
        "We cannot deliver your order.",
        "We do not use cookies or similar technologies.",
        "We do not make decisions based solely on automated processing",
        "15 January 2026",
        "version 1.0",
        NO_TRANSFER,
    ):
        assert expected in text, expected


def test_without_request_channels_the_controller_email_is_the_channel() -> None:
    text = render_notice(minimal())
    assert "- by email to <privacy@zala-plava.example>" in text


# -- transfers ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", NOTICE_FORMATS)
def test_us_recipient_with_scc_shows_the_safeguard_and_no_eea_claim(fmt: str) -> None:
    text = render_notice(build(with_us_mailer()), fmt)
    assert NO_TRANSFER not in text
    assert "Pastnieks Cloud Inc." in text
    assert "the United States" in text
    assert "standard contractual clauses adopted by the European Commission" in text
    assert "Art. 46(2)(c) GDPR" in text
    assert "Commission Implementing Decision (EU) 2021/914" in text
    assert "https://zala-plava.example/scc" in text


def test_recipient_inside_the_eea_keeps_the_no_transfer_statement() -> None:
    data = base()
    data["recipients"] = [
        {"id": "courier", "name": "Kurjers SIA", "role": "processor", "country": "LT"}
    ]
    data["processing_activities"][0]["recipients"] = ["courier"]
    text = render_notice(build(data))
    assert NO_TRANSFER in text
    assert "Kurjers SIA, in Lithuania, for Online shop orders" in text


def test_recipient_of_unknown_location_prevents_the_no_transfer_statement() -> None:
    data = base()
    data["recipients"] = [
        {"id": "courier", "name": "Kurjers SIA", "role": "processor"},
        {"id": "tax", "name": "State Revenue Service", "role": "public_authority"},
    ]
    data["processing_activities"][0]["recipients"] = ["courier", "tax"]
    text = render_notice(build(data))
    assert NO_TRANSFER not in text
    assert "does not state where the following recipients process your data: Kurjers SIA." in text
    data["controller"]["declarations"] = {"no_third_country_transfers": True}
    assert NO_TRANSFER in render_notice(build(data))


def test_system_hosted_in_a_third_country_is_a_transfer_without_safeguard() -> None:
    data = base()
    data["systems"][0]["country"] = "US"
    text = render_notice(build(data))
    assert NO_TRANSFER not in text
    assert "| Shop database | the United States | no safeguard is stated |" in text


def test_system_operated_by_a_third_country_recipient_is_one_transfer() -> None:
    data = with_us_mailer()
    data["systems"][0]["country"] = "US"
    data["systems"][0]["operator"] = "mailer"
    transfers = derive_facts(build(data)).transfers
    assert [(t.recipient, t.country) for t in transfers] == [("Pastnieks Cloud Inc.", "US")]
    assert set(transfers[0].activities) == {"Online shop orders", "Newsletter mailing"}


# -- derived facts --------------------------------------------------------------------


def test_legal_holds_reach_the_activities_processing_their_data() -> None:
    data = base()
    data["legal_holds"] = [
        {
            "id": "commercial",
            "law": "Commercial Law",
            "datasets": [{"system": "shopdb", "dataset": "customers"}],
            "period": "P3Y",
            "anchor": {"event": "contract_ended"},
        },
        {
            "id": "names",
            "law": "Archive Law",
            "data_categories": ["name"],
            "period": "P1Y",
            "anchor": {"event": "collected"},
        },
    ]
    shop, mailing = derive_facts(build(data)).activities
    assert [h.law for h in shop.holds] == ["Commercial Law", "Archive Law"]
    assert shop.holds[0].categories == ("Email address", "Name")
    assert [h.law for h in mailing.holds] == ["Commercial Law"]


def test_rule_on_datasets_covers_the_categories_of_their_fields() -> None:
    data = base()
    data["retention_rules"][0]["data_categories"] = []
    data["retention_rules"][0]["datasets"] = [{"system": "shopdb", "dataset": "customers"}]
    shop = derive_facts(build(data)).activities[0]
    assert shop.retention[0].categories == ("Email address", "Name")


def test_portability_follows_the_bases_unless_the_policy_says_otherwise() -> None:
    data = base()
    assert [a.portable for a in derive_facts(build(data)).activities] == [True, True]
    data["processing_activities"][1]["portable"] = False
    facts = derive_facts(build(data))
    assert facts.rights.portable_activities == ("Online shop orders",)


# -- purposes, recipients, retention ------------------------------------------------


def test_rich_policy_notice_content() -> None:
    text = render_notice(build(rich()))
    for expected in (
        '**SIA "Zaļā Pļava"** ("Zaļā Pļava")',
        "- Name: Ana Bērziņa",
        "- Email: <dpo@zala-plava.example>",
        "our legitimate interests (Art. 6(1)(f) GDPR)",
        "Our legitimate interest: Keeping the shop safe from attacks.",
        "compliance with a legal obligation (Art. 6(1)(c) GDPR)",
        "Observed when you use our services (the web server): Web server logs",
        "### Processors acting on our behalf",
        "We do not sell your personal data.",
        "IP address: anonymised 7 days after collection.",
        "Account data: deleted 3 months after the account is closed.",
        "Invoice data: deleted 11 years after the contract ended.",
        "Invoice data: kept for 5 years after the contract ended as required by "
        "Accounting Law (Grāmatvedības likums), Section 10",
        "Criteria for the retention period: Kept while the consent is valid.",
        "Website security: objection is not available: Logs are needed to run the site.",
        "Bookkeeping: providing your data is required by law. "
        "If you do not provide it: We cannot issue an invoice.",
        "- through the form at <https://zala-plava.example/privacy>",
        "You can withdraw it in the cookie settings of our website or by email to "
        "<consent@zala-plava.example>. Your consent lapses after 1 year unless you renew it.",
        "## How we protect your data",
        "- Data is encrypted at rest.",
        "Customers: minimum age 16 years. If we find data of a person under the minimum "
        "age: We delete the account.",
    ):
        assert expected in text, expected


def test_no_dpo_sentence_disappears_when_a_dpo_is_appointed() -> None:
    text = render_notice(build(rich()))
    assert "We have not appointed a data protection officer" not in text


def test_retention_without_a_period_or_criteria_is_said_plainly() -> None:
    data = base()
    data["processing_activities"][1]["retention"] = []
    text = render_notice(build(data))
    assert "### Newsletter mailing\n\n- No retention period is stated for this activity." in text


def test_custom_anchor_and_zero_period() -> None:
    data = base()
    data["retention_rules"][1]["anchor"] = {"event": "custom", "name": "the event ends"}
    data["retention_rules"][1]["period"] = "P0D"
    text = render_notice(build(data))
    assert "Email address: deleted immediately after the event ends." in text


# -- rights, consent, objection ------------------------------------------------------


def test_rights_offered_only_and_periods_in_words() -> None:
    data = base()
    data["rights"] = {
        "offered": ["access", "erasure"],
        "response_period": "P14D",
        "extension": "P1M",
        "clock_starts": "verification",
        "fee_policy": "free",
        "channels": [{"kind": "post", "address": "Lauku iela 1, Rīga"}],
    }
    text = render_notice(build(data))
    assert "**Access** (Art. 15 GDPR)" in text
    assert "**Erasure** (Art. 17 GDPR)" in text
    assert "Data portability" not in text
    assert "- by post to Lauku iela 1, Rīga" in text
    assert "We answer within 14 days of confirming your identity." in text
    assert "extend this by a further 1 month" in text
    assert "Requests are free of charge. We may refuse" in text


def test_without_consent_purposes_the_notice_says_so() -> None:
    data = base()
    data["purposes"][1]["legal_bases"] = ["legitimate_interest"]
    data["purposes"][1]["legitimate_interest"] = "Telling customers about new products."
    del data["purposes"][1]["consent"]
    text = render_notice(build(data))
    assert "We do not process your personal data on the basis of consent." in text
    assert "- Newsletter: you may object through any of the channels" in text


def test_direct_marketing_objection_is_always_stated() -> None:
    data = base()
    data["purposes"][1]["direct_marketing"] = False
    text = render_notice(build(data))
    assert "You may object at any time, free of charge, to the use of your data for direct" in text
    assert "We do not currently use your data for direct marketing." in text
    marketing = render_notice(minimal())
    assert "This applies to:\n\n- Newsletter" in marketing


def test_automated_decision_with_logic_and_significance() -> None:
    data = base()
    data["purposes"][0]["automated_decision"] = {
        "exists": True,
        "profiling": True,
        "logic": "Order history gives a risk score.",
        "significance": "A high score means prepayment.",
    }
    text = render_notice(build(data))
    assert "We do not make decisions based solely" not in text
    assert "- How it works: Order history gives a risk score." in text
    assert "- What it means for you: A high score means prepayment." in text
    assert "Art. 22(3) GDPR" in text


# -- cookies -------------------------------------------------------------------------


def test_cookie_rows_in_both_formats() -> None:
    policy = build(rich())
    text = render_notice(policy)
    assert (
        "| `basket` | us (first party) | Handling orders | Keeps your basket. | "
        "until you close the browser (session) | strictly necessary |"
    ) in text
    assert (
        "| `_stats` | Pastnieks Cloud Inc. | Visitor statistics |  | 2 years | "
        "only with your consent |"
    ) in text
    page = render_notice(policy, "html")
    assert '<th scope="row"><code>_stats</code></th>' in page
    assert "<td>2 years</td><td>only with your consent</td>" in page


# -- format safety -------------------------------------------------------------------


def test_html_escapes_text_from_the_policy() -> None:
    data = base()
    data["controller"]["legal_name"] = "<script>alert(1)</script>"
    data["data_categories"][0]["name"] = "<img src=x onerror=alert(2)>"
    data["controller"]["supervisory_authority"]["url"] = "javascript:alert(3)"
    page = render_notice(build(data), "html")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;: deleted 1 month" in page
    assert 'href="javascript:' not in page
    parse_html(page)


def test_markdown_makes_text_from_the_policy_inert() -> None:
    data = base()
    data["controller"]["legal_name"] = "<script>alert(1)</script> *bold* [x](javascript:y)"
    data["purposes"][0]["description"] = "| not a table\n# not a heading"
    text = render_notice(build(data))
    tokens = md_tokens(text)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert "html_inline" not in kinds and "html_block" not in kinds
    hrefs = [c.attrs.get("href") for t in tokens for c in t.children or [] if c.type == "link_open"]
    assert not any(str(h).startswith("javascript") for h in hrefs)
    assert "<script>" not in text
    assert "\\<script\\>" in text


@pytest.mark.parametrize("policy_data", [base(), rich()], ids=["minimal", "rich"])
def test_markdown_is_valid_commonmark_with_real_tables(policy_data: dict[str, Any]) -> None:
    text = render_notice(build(policy_data))
    tokens = md_tokens(text)
    h1 = [t for t in tokens if t.type == "heading_open" and t.tag == "h1"]
    assert len(h1) == 1
    tables = [t for t in tokens if t.type == "table_open"]
    assert len(tables) >= 1
    assert "\n\n\n" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_html_page_is_self_contained_and_accessible() -> None:
    page = render_notice(build(rich()), "html")
    assert page.startswith("<!DOCTYPE html>")
    checker = parse_html(page)
    tags = [t for t, _ in checker.start_tags]
    assert ("html", {"lang": "en"}) in checker.start_tags
    assert tags.count("h1") == 1
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert all("src" not in attrs for _, attrs in checker.start_tags)
    header_cells = [a for t, a in checker.start_tags if t == "th"]
    assert header_cells and all(a.get("scope") in {"col", "row"} for a in header_cells)
    hrefs = [str(a.get("href")) for t, a in checker.start_tags if t == "a"]
    anchors = {h[1:] for h in hrefs if h.startswith("#")}
    assert anchors, "the page has a table of contents"
    ids = {a["id"] for _, a in checker.start_tags if "id" in a}
    assert anchors <= ids


# -- language and format selection -------------------------------------------------


def test_explicit_unknown_language_is_refused() -> None:
    with pytest.raises(UnsupportedLanguage) as caught:
        render_notice(minimal(), "markdown", "lv")
    assert caught.value.code == "unsupported_language"
    assert caught.value.exit_code == 2
    assert "'lv'" in caught.value.message and "en" in caught.value.message


def test_controller_language_without_templates_falls_back_to_english() -> None:
    data = base()
    data["controller"]["languages"] = ["lv", "en"]
    page = render_notice(build(data), "html")
    assert '<html lang="en">' in page


def test_language_codes_match_by_primary_subtag() -> None:
    assert render_notice(minimal(), "markdown", "en-GB") == render_notice(minimal())


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="markdown, html"):
        render_notice(minimal(), "pdf")
