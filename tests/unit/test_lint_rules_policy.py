"""Each controller, purpose and rights rule (DS1xx, DS2xx, DS7xx) fires on a
policy that breaks it, at the right path and line, and stays quiet on one
that keeps it."""

from __future__ import annotations

import pytest
from tests.unit.lint_cases import (
    Case,
    add,
    both,
    check_fires,
    check_quiet,
    drop,
    put,
)

from datasteward.lint import RULES

# -- cases ---------------------------------------------------------------------

HEALTH = {"id": "health", "name": "Health data", "special": True}
ANA = {"name": "Ana Bērziņa", "email": "dpo@zala-plava.example"}
SHOP_HEALTH = both(
    add("data_categories", HEALTH), add("processing_activities[0].data_categories", "health")
)
MAILING_HEALTH = both(
    add("data_categories", HEALTH), add("processing_activities[1].data_categories", "health")
)
ORDERS_ON_LI = both(
    put("purposes[0].legal_bases", ["legitimate_interest"]),
    put("purposes[0].legitimate_interest", "Keeping our records of orders complete."),
)
ALL_RIGHTS = [
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "withdraw_consent",
    "complaint",
]

FIRES = [
    Case(
        "DS101",
        drop("controller.registered_address"),
        "controller.registered_address",
        at="legal_name:",
        says="'SIA \"Zaļā Pļava\"' gives neither",
    ),
    Case(
        "DS102",
        put("controller.contact_email", None),
        "controller.contact_email",
        at="contact_email: null",
        says="neither a contact_email nor a contact_phone",
    ),
    Case(
        "DS102",
        both(drop("controller.contact_email"), put("controller.contact_phone", " ")),
        "controller.contact_email",
        at="legal_name:",
        says="cannot reach it",
    ),
    Case(
        "DS103",
        drop("controller.supervisory_authority"),
        "controller.supervisory_authority",
        at="legal_name:",
        says="no supervisory_authority",
    ),
    Case(
        "DS104",
        SHOP_HEALTH,
        "controller.dpo",
        at="legal_name:",
        says="processes special categories ('health')",
    ),
    Case(
        "DS104",
        both(add("cookies", {"name": "_ga", "provider": "first_party", "purpose": "newsletter"})),
        "controller.dpo",
        at="legal_name:",
        says="non-essential cookies ('_ga')",
    ),
    Case(
        "DS105",
        put("controller.dpo", {"name": "Ana Bērziņa"}),
        "controller.dpo",
        at="name: Ana Bērziņa",
        says="officer 'Ana Bērziņa' has no email",
    ),
    Case(
        "DS106",
        put("controller.country", "GB"),
        "controller.country",
        at="country: GB",
        says="established in GB, outside the EEA",
    ),
    Case(
        "DS107",
        both(
            put("controller.declarations", {"no_automated_decisions": True}),
            put("purposes[0].automated_decision", {"profiling": True}),
        ),
        "purposes[0].automated_decision",
        at="profiling: true",
        says="purpose 'orders' involves profiling",
    ),
    Case(
        "DS201",
        put("purposes[0].legal_bases", []),
        "purposes[0].legal_bases",
        at="legal_bases: []",
        says="purpose 'orders' names no legal basis",
    ),
    Case(
        "DS202",
        put("purposes[0].legal_bases", ["legitimate_interest"]),
        "purposes[0].legal_bases",
        at="- legitimate_interest",
        says="purpose 'orders' rests on legitimate_interest but states no legitimate interest",
    ),
    Case(
        "DS203",
        put("purposes[1].consent.withdrawal_channels", []),
        "purposes[1].consent.withdrawal_channels",
        at="withdrawal_channels: []",
        says="purpose 'newsletter' rests on consent but lists no withdrawal_channels",
    ),
    Case(
        "DS203",
        drop("purposes[1].consent"),
        "purposes[1].legal_bases",
        at="- consent",
        says="has no consent settings",
    ),
    Case(
        "DS204",
        SHOP_HEALTH,
        "processing_activities[0].purposes[0]",
        at="- orders",
        after="id: shop",
        says="activity 'shop' processes special category 'health' for purpose 'orders'",
    ),
    Case(
        "DS205",
        MAILING_HEALTH,
        "purposes[1].consent",
        at="mechanism: double_opt_in",
        says="purpose 'newsletter' relies on consent for special category 'health'",
    ),
    Case(
        "DS205",
        both(SHOP_HEALTH, put("purposes[0].special_category_condition", "explicit_consent")),
        "purposes[0].consent",
        at="id: orders",
        says="is not explicit",
    ),
    Case(
        "DS206",
        add("purposes", {"id": "surveys", "name": "Surveys", "legal_bases": ["contract"]}),
        "purposes[2].id",
        at="id: surveys",
        says="purpose 'surveys' is served by no",
    ),
    Case(
        "DS207",
        put("processing_activities[0].purposes", []),
        "processing_activities[0].purposes",
        at="purposes: []",
        says="activity 'shop' serves no purpose",
    ),
    Case(
        "DS208",
        both(ORDERS_ON_LI, put("purposes[0].objection", {"allowed": False})),
        "purposes[0].objection",
        at="allowed: false",
        says="purpose 'orders' rests on legitimate_interest and does not allow objection",
    ),
    Case(
        "DS209",
        put("purposes[1].objection", {"allowed": False}),
        "purposes[1].objection.allowed",
        at="allowed: false",
        says="purpose 'newsletter' is direct marketing",
    ),
    Case(
        "DS210",
        put("purposes[0].automated_decision", {"exists": True, "logic": "Scoring."}),
        "purposes[0].automated_decision",
        at="exists: true",
        says="purpose 'orders' makes automated decisions but does not explain their significance",
    ),
    Case(
        "DS211",
        drop("purposes[0].requirement"),
        "purposes[0].requirement",
        at="id: orders",
        says="purpose 'orders' rests on contract but does not say",
    ),
    Case(
        "DS211",
        put("purposes[0].requirement", {"kind": "statutory"}),
        "purposes[0].requirement",
        at="kind: statutory",
        says="makes providing data statutory but gives no consequence",
    ),
    Case(
        "DS701",
        put("data_subjects[0].may_include_children", True),
        "data_subjects[0].may_include_children",
        at="may_include_children: true",
        says="data subject 'customer' may include children",
    ),
    Case(
        "DS702",
        both(
            put("purposes[0].legal_bases", ["legal_obligation"]),
            put("processing_activities[0].portable", True),
        ),
        "processing_activities[0].portable",
        at="portable: true",
        says="activity 'shop' is marked portable",
    ),
    Case(
        "DS703",
        put("rights", {"fee_policy": "free"}),
        "rights.channels",
        at="fee_policy: free",
        says="lists no way to submit",
    ),
    Case(
        "DS704",
        put("rights.offered", [r for r in ALL_RIGHTS if r != "withdraw_consent"]),
        "rights.offered",
        at="- access",
        says="the right 'withdraw_consent'",
    ),
    Case(
        "DS704",
        put("rights.offered", [r for r in ALL_RIGHTS if r != "erasure"]),
        "rights.offered",
        at="- access",
        says="the right 'erasure', which data subjects have",
    ),
    Case(
        "DS705",
        put("rights.response_period", "P2M"),
        "rights.response_period",
        at="response_period: P2M",
        says="rights.response_period P2M is longer",
    ),
    Case(
        "DS705",
        put("rights.extension", "P3M"),
        "rights.extension",
        at="extension: P3M",
        says="rights.extension P3M",
    ),
]

QUIET = [
    Case(
        "DS101",
        both(
            drop("controller.registered_address"),
            put("controller.office_address", "Zemeņu iela 2, Salaspils"),
        ),
    ),
    Case(
        "DS102",
        both(
            put("controller.contact_email", None), put("controller.contact_phone", "+371 20000000")
        ),
    ),
    Case("DS103", lambda data: None),
    Case("DS104", both(SHOP_HEALTH, put("controller.dpo", ANA))),
    Case("DS104", lambda data: None),
    Case("DS105", put("controller.dpo", ANA)),
    Case(
        "DS106",
        both(
            put("controller.country", "GB"),
            put("controller.eu_representative", {"name": "SIA Pārstāvis"}),
        ),
    ),
    Case("DS106", put("controller.country", "NO")),
    Case(
        "DS107",
        both(
            put("controller.declarations", {"no_automated_decisions": True}),
            put("purposes[0].automated_decision", {"profiling": False}),
        ),
    ),
    Case("DS107", put("purposes[0].automated_decision", {"profiling": True})),
    Case("DS201", lambda data: None),
    Case("DS202", ORDERS_ON_LI),
    Case("DS203", lambda data: None),
    Case(
        "DS204",
        both(SHOP_HEALTH, put("purposes[0].special_category_condition", "health_or_social_care")),
    ),
    Case(
        "DS205",
        both(
            MAILING_HEALTH,
            put("purposes[1].special_category_condition", "explicit_consent"),
            put("purposes[1].consent.explicit", True),
        ),
    ),
    Case(
        "DS205",
        both(SHOP_HEALTH, put("purposes[0].special_category_condition", "health_or_social_care")),
    ),
    Case("DS206", lambda data: None),
    Case("DS207", lambda data: None),
    Case(
        "DS208",
        both(
            ORDERS_ON_LI,
            put("purposes[0].objection", {"allowed": False, "reason_if_not": "Needed for audits."}),
        ),
    ),
    Case("DS208", put("purposes[0].objection", {"allowed": False})),
    Case("DS209", put("purposes[0].objection", {"allowed": False, "reason_if_not": "Contract."})),
    Case(
        "DS210",
        put(
            "purposes[0].automated_decision",
            {"exists": True, "logic": "Scoring.", "significance": "Prepayment."},
        ),
    ),
    Case("DS210", put("purposes[0].automated_decision", {"profiling": True})),
    Case("DS211", lambda data: None),
    Case("DS211", put("purposes[0].requirement", {"kind": "voluntary"})),
    Case(
        "DS701",
        both(
            put("data_subjects[0].may_include_children", True),
            put("data_subjects[0].minimum_age", 16),
        ),
    ),
    Case("DS702", put("processing_activities[0].portable", True)),
    Case(
        "DS702",
        both(
            put("purposes[0].legal_bases", ["legal_obligation"]),
            put("processing_activities[0].portable", False),
        ),
    ),
    Case("DS703", put("rights.channels", [{"kind": "email", "address": "privacy@x.example"}])),
    Case("DS704", put("rights.offered", ALL_RIGHTS)),
    Case(
        "DS704",
        both(
            put("purposes[1].legal_bases", ["contract"]),
            drop("purposes[1].direct_marketing"),
            put(
                "rights.offered",
                [r for r in ALL_RIGHTS if r not in ("objection", "withdraw_consent")],
            ),
        ),
    ),
    Case("DS705", both(put("rights.response_period", "P30D"), put("rights.extension", "P2M"))),
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
    areas = ("DS1", "DS2", "DS7")
    codes = {rule.code for rule in RULES if rule.code.startswith(areas)}
    assert {case.code for case in FIRES} == codes
    assert {case.code for case in QUIET} == codes
