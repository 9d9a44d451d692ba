"""Each recipient, transfer, retention, cookie and field-mapping rule (DS3xx
to DS6xx) fires on a policy that breaks it, at the right path and line, and
stays quiet on one that keeps it."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.lint_cases import (
    Case,
    Change,
    add,
    both,
    check_fires,
    check_quiet,
    drop,
    put,
)

from datasteward.lint import RULES

# -- cases ---------------------------------------------------------------------


def recipient(rid: str, country: str = "LV", **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "name": f"{rid.title()} SIA",
        "role": "processor",
        "country": country,
        "written_agreement": True,
        **extra,
    }


def used_by_mailing(rid: str) -> Change:
    return add("processing_activities[1].recipients", rid)


DPF = {"kind": "adequacy_decision", "reference": "EU-US Data Privacy Framework"}
SCC = {"kind": "standard_contractual_clauses"}
PHONE = {"id": "phone", "name": "Phone number"}
MAILING_PHONE = both(
    add("data_categories", PHONE), add("processing_activities[1].data_categories", "phone")
)
NO_TRANSFERS = put("controller.declarations", {"no_third_country_transfers": True})
ANALYTICS = both(
    add(
        "purposes",
        {
            "id": "analytics",
            "name": "Analytics",
            "legal_bases": ["legitimate_interest"],
            "legitimate_interest": "Improving the shop.",
        },
    ),
    add("processing_activities[1].purposes", "analytics"),
    add(
        "cookies",
        {"name": "_ga", "provider": "first_party", "purpose": "analytics", "duration": "P13M"},
    ),
)
BASKET = add(
    "cookies",
    {"name": "basket", "provider": "first_party", "purpose": "orders", "strictly_necessary": True},
)
HOLD = {
    "id": "accounting-law",
    "law": "Latvian Accounting Law",
    "period": "P5Y",
    "anchor": {"event": "contract_ended"},
}
FIELD = "systems[0].datasets[0].fields"

FIRES = [
    Case(
        "DS301",
        both(add("recipients", recipient("mailer", "US")), used_by_mailing("mailer")),
        "recipients[0].country",
        at="country: US",
        says="recipient 'mailer' is in US, a third country, but names no safeguard",
    ),
    Case(
        "DS302",
        put("systems[0].country", "US"),
        "systems[0].country",
        at="country: US",
        says="system 'shopdb' is hosted in US, a third country, but has no declared operator",
    ),
    Case(
        "DS302",
        both(
            put("systems[0].country", "US"),
            put("systems[0].operator", "host"),
            add("recipients", recipient("host", "DE")),
        ),
        "systems[0].country",
        at="country: US",
        says="its operator 'host' names no safeguard",
    ),
    Case(
        "DS303",
        both(
            NO_TRANSFERS,
            add("recipients", recipient("mailer", "US", safeguard=DPF)),
            used_by_mailing("mailer"),
        ),
        "recipients[0].country",
        at="country: US",
        says="recipient 'mailer' is in US, outside the EEA, but controller.declarations."
        "no_third_country_transfers says no personal data leaves the EEA",
    ),
    Case(
        "DS303",
        both(NO_TRANSFERS, put("systems[0].country", "CH")),
        "systems[0].country",
        at="country: CH",
        says="system 'shopdb' is hosted in CH",
    ),
    Case(
        "DS304",
        add("recipients", recipient("mailer")),
        "recipients[0].id",
        at="id: mailer",
        says="recipient 'mailer' is declared but no activity, system or cookie uses it",
    ),
    Case(
        "DS305",
        both(add("recipients", recipient("mailer")), used_by_mailing("mailr")),
        "processing_activities[1].recipients[0]",
        at="- mailr",
        says="activity 'mailing' discloses data to recipient 'mailr', which is not declared "
        "(did you mean 'mailer'?)",
    ),
    Case(
        "DS305",
        put("systems[0].operator", "hoster"),
        "systems[0].operator",
        at="operator: hoster",
        says="system 'shopdb' is operated by recipient 'hoster'",
    ),
    Case(
        "DS305",
        add("cookies", {"name": "_ga", "provider": "google", "purpose": "newsletter"}),
        "cookies[0].provider",
        at="provider: google",
        says="cookie '_ga' is set by recipient 'google'",
    ),
    Case(
        "DS306",
        both(
            add("recipients", recipient("mailer", written_agreement=None)),
            used_by_mailing("mailer"),
        ),
        "recipients[0].written_agreement",
        at="written_agreement: null",
        says="processor 'mailer' is not confirmed to have a written processing agreement",
    ),
    Case(
        "DS306",
        both(
            add("recipients", recipient("mailer", written_agreement=False)),
            used_by_mailing("mailer"),
        ),
        "recipients[0].written_agreement",
        at="written_agreement: false",
        says="processor 'mailer' has no written processing agreement",
    ),
    Case(
        "DS307",
        both(
            add("recipients", recipient("mailer", "US", safeguard=SCC)), used_by_mailing("mailer")
        ),
        "recipients[0].safeguard",
        at="kind: standard_contractual_clauses",
        says="recipient 'mailer' relies on standard_contractual_clauses",
    ),
    Case(
        "DS401",
        MAILING_PHONE,
        "processing_activities[1].data_categories[1]",
        at="- phone",
        after="id: mailing",
        says="data category 'phone' of activity 'mailing' is ended by no retention rule",
    ),
    Case(
        "DS402",
        both(
            MAILING_PHONE,
            add(
                "retention_rules",
                {
                    "id": "phone-crit",
                    "data_categories": ["phone"],
                    "anchor": {"event": "collected"},
                    "criteria": "As long as the subscription lasts.",
                },
            ),
        ),
        "processing_activities[1].data_categories[1]",
        at="- phone",
        after="id: mailing",
        says="kept only by criteria (retention rule 'phone-crit'), with no retention period",
    ),
    Case(
        "DS402",
        both(
            MAILING_PHONE,
            put("processing_activities[1].retention_criteria", "As long as necessary."),
        ),
        "processing_activities[1].data_categories[1]",
        at="- phone",
        after="id: mailing",
        says="the activity's retention_criteria",
    ),
    Case(
        "DS403",
        drop("retention_rules[0].period"),
        "retention_rules[0].period",
        at="id: orders-5y",
        says="retention rule 'orders-5y' gives neither a period nor",
    ),
    Case(
        "DS404",
        put("retention_rules[1].action", "anonymise"),
        "retention_rules[1].fields",
        at="id: newsletter-end",
        says="retention rule 'newsletter-end' anonymises but lists no",
    ),
    Case(
        "DS405",
        both(
            put("retention_rules[1].action", "anonymise"),
            put("retention_rules[1].fields", ["emial"]),
        ),
        "retention_rules[1].fields[0]",
        at="- emial",
        says="anonymises field 'emial', which is not a field of any declared dataset "
        "(did you mean 'email'?)",
    ),
    Case(
        "DS405",
        both(
            put("retention_rules[1].action", "anonymise"),
            put("retention_rules[1].fields", ["full_nam"]),
            put("retention_rules[1].datasets", [{"system": "shopdb", "dataset": "customers"}]),
        ),
        "retention_rules[1].fields[0]",
        at="- full_nam",
        says="not a field of its datasets",
    ),
    Case(
        "DS406",
        add("retention_rules", {"id": "orphan", "anchor": {"event": "collected"}, "period": "P1Y"}),
        "retention_rules[2].id",
        at="id: orphan",
        says="retention rule 'orphan' names no",
    ),
    Case(
        "DS501",
        ANALYTICS,
        "cookies[0].purpose",
        at="purpose: analytics",
        says="cookie '_ga' is not strictly necessary, but its purpose 'analytics' rests on "
        "legitimate_interest instead of consent",
    ),
    Case(
        "DS502",
        BASKET,
        "cookies[0]",
        at="name: basket",
        says="cookie 'basket' states no lifetime",
    ),
    Case(
        "DS601",
        put(f"{FIELD}[1].category", "nme"),
        f"{FIELD}[1].category",
        at="category: nme",
        says="field 'customers.full_name' of system 'shopdb' maps to undeclared data category "
        "'nme' (did you mean 'name'?)",
    ),
    Case(
        "DS602",
        drop("systems[0].url_env"),
        "systems[0].url_env",
        at="id: shopdb",
        says="system 'shopdb' uses the sqlite connector but names no url_env",
    ),
    Case(
        "DS603",
        both(drop("systems[0].url_env"), put("systems[0].connector", "manual")),
        "systems[0].manual",
        at="id: shopdb",
        says="system 'shopdb' is handled manually",
    ),
    Case(
        "DS604",
        put(f"{FIELD}[1].erasure", "set_value"),
        f"{FIELD}[1].erasure",
        at="erasure: set_value",
        says="is erased with set_value but gives no erasure_value",
    ),
    Case(
        "DS604",
        both(
            put(f"{FIELD}[1].erasure", "generalise_date"), put(f"{FIELD}[1].generalise_to", "week")
        ),
        f"{FIELD}[1].generalise_to",
        at="generalise_to: week",
        says="generalise_to is 'week'; use 'month' or 'year'",
    ),
    Case(
        "DS605",
        add("data_categories", PHONE),
        "data_categories[2].id",
        at="id: phone",
        says="data category 'phone' is processed by no activity",
    ),
    Case(
        "DS606",
        both(add("data_categories", PHONE), add(FIELD, {"name": "phone", "category": "phone"})),
        f"{FIELD}[2].category",
        at="category: phone",
        says="field 'customers.phone' of system 'shopdb' holds 'phone', which no processing",
    ),
    Case(
        "DS607",
        add(
            "systems[0].datasets",
            {"name": "orders", "fields": [{"name": "email", "category": "email"}]},
        ),
        "systems[0].datasets[1]",
        at="- name: orders",
        says="dataset 'orders' of system 'shopdb' holds personal data but has no",
    ),
    Case(
        "DS608",
        put(f"{FIELD}[1].erasure", "keep"),
        f"{FIELD}[1].erasure",
        at="erasure: keep",
        says="field 'customers.full_name' of system 'shopdb' is kept on erasure, but no legal "
        "hold covers its category 'name'",
    ),
]

QUIET = [
    Case(
        "DS301",
        both(
            add("recipients", recipient("mailer", "US", safeguard=DPF)), used_by_mailing("mailer")
        ),
    ),
    Case(
        "DS302",
        both(
            put("systems[0].country", "US"),
            put("systems[0].operator", "host"),
            add("recipients", recipient("host", "DE", safeguard=DPF)),
        ),
    ),
    Case(
        "DS302",
        both(
            put("systems[0].country", "US"),
            put("systems[0].operator", "host"),
            add("recipients", recipient("host", "US")),
        ),
    ),
    Case(
        "DS303",
        both(NO_TRANSFERS, add("recipients", recipient("mailer", "IE")), used_by_mailing("mailer")),
    ),
    Case(
        "DS303",
        both(
            add("recipients", recipient("mailer", "US", safeguard=DPF)), used_by_mailing("mailer")
        ),
    ),
    Case(
        "DS304",
        both(
            add("recipients", recipient("google", "IE")),
            add("cookies", {"name": "_ga", "provider": "google", "purpose": "newsletter"}),
        ),
    ),
    Case(
        "DS305",
        add(
            "cookies",
            {
                "name": "cart",
                "provider": "first_party",
                "purpose": "orders",
                "strictly_necessary": True,
            },
        ),
    ),
    Case("DS306", both(add("recipients", recipient("mailer")), used_by_mailing("mailer"))),
    Case(
        "DS306",
        both(
            add(
                "recipients",
                {**recipient("tax"), "role": "public_authority", "written_agreement": None},
            ),
            used_by_mailing("tax"),
        ),
    ),
    Case(
        "DS307",
        both(
            add(
                "recipients",
                recipient(
                    "mailer",
                    "US",
                    safeguard={
                        **SCC,
                        "copy_available_at": "On request from privacy@zala-plava.example",
                    },
                ),
            ),
            used_by_mailing("mailer"),
        ),
    ),
    Case(
        "DS307",
        both(
            add("recipients", recipient("mailer", "US", safeguard=DPF)), used_by_mailing("mailer")
        ),
    ),
    Case(
        "DS401",
        both(
            MAILING_PHONE,
            add(
                "retention_rules",
                {"id": "mailing-all", "anchor": {"event": "collected"}, "period": "P1Y"},
            ),
            add("processing_activities[1].retention", "mailing-all"),
        ),
    ),
    Case(
        "DS401",
        both(
            MAILING_PHONE,
            add(FIELD, {"name": "phone", "category": "phone"}),
            put("retention_rules[0].datasets", [{"system": "shopdb", "dataset": "customers"}]),
        ),
    ),
    Case(
        "DS402",
        both(
            MAILING_PHONE,
            add(
                "retention_rules",
                {
                    "id": "phone-1y",
                    "data_categories": ["phone"],
                    "anchor": {"event": "collected"},
                    "period": "P1Y",
                    "criteria": "Until unsubscribed, at most a year.",
                },
            ),
        ),
    ),
    Case(
        "DS403",
        both(
            drop("retention_rules[0].period"),
            put("retention_rules[0].criteria", "Until the warranty ends."),
        ),
    ),
    Case(
        "DS404",
        both(
            put("retention_rules[1].action", "anonymise"),
            put("retention_rules[1].fields", ["email"]),
        ),
    ),
    Case(
        "DS405",
        both(
            put("retention_rules[1].action", "anonymise"),
            put("retention_rules[1].fields", ["full_name", "customers.email"]),
            put("retention_rules[1].datasets", [{"system": "shopdb", "dataset": "customers"}]),
        ),
    ),
    Case(
        "DS406",
        both(
            add(
                "retention_rules",
                {"id": "mailing-all", "anchor": {"event": "collected"}, "period": "P1Y"},
            ),
            add("processing_activities[1].retention", "mailing-all"),
        ),
    ),
    Case("DS501", both(ANALYTICS, put("cookies[0].strictly_necessary", True))),
    Case("DS501", both(ANALYTICS, put("purposes[2].legal_bases", ["consent"]))),
    Case("DS502", both(BASKET, put("cookies[0].session", True))),
    Case("DS601", lambda data: None),
    Case("DS602", lambda data: None),
    Case(
        "DS603",
        both(
            drop("systems[0].url_env"),
            put("systems[0].connector", "manual"),
            put("systems[0].manual", {"instructions": "Search the binders."}),
        ),
    ),
    Case(
        "DS604",
        both(put(f"{FIELD}[1].erasure", "set_value"), put(f"{FIELD}[1].erasure_value", "(erased)")),
    ),
    Case(
        "DS604",
        both(
            put(f"{FIELD}[1].erasure", "generalise_date"), put(f"{FIELD}[1].generalise_to", "year")
        ),
    ),
    Case("DS605", lambda data: None),
    Case("DS606", both(MAILING_PHONE, add(FIELD, {"name": "phone", "category": "phone"}))),
    Case(
        "DS607",
        add(
            "systems[0].datasets",
            {
                "name": "orders",
                "relations": [{"field": "customer_id", "references": "customers.id"}],
                "fields": [{"name": "email", "category": "email"}],
            },
        ),
    ),
    Case(
        "DS608",
        both(
            put(f"{FIELD}[1].erasure", "keep"),
            add("legal_holds", {**HOLD, "data_categories": ["name"]}),
        ),
    ),
    Case(
        "DS608",
        both(
            put(f"{FIELD}[1].erasure", "keep"),
            add(
                "legal_holds", {**HOLD, "datasets": [{"system": "shopdb", "dataset": "customers"}]}
            ),
        ),
    ),
]


def _id(case: Case) -> str:
    return f"{case.code}-{case.path or 'quiet'}"


@pytest.mark.parametrize("case", FIRES, ids=_id)
def test_rule_fires(case: Case, minimal_policy_text: str) -> None:
    check_fires(case, minimal_policy_text)


@pytest.mark.parametrize("case", QUIET, ids=_id)
def test_rule_stays_quiet(case: Case, minimal_policy_text: str) -> None:
    check_quiet(case, minimal_policy_text)


def test_every_rule_of_these_areas_has_both_cases() -> None:
    codes = {rule.code for rule in RULES if rule.code.startswith(("DS3", "DS4", "DS5", "DS6"))}
    assert {case.code for case in FIRES} == codes
    assert {case.code for case in QUIET} == codes
