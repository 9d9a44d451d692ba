"""Rectification and restriction plans on the example shop policy: which
fields may be corrected, new values checked by meaning and by column before
anything runs (and never repeated in a message), restriction flags found and
checked, systems without one restricted in the engine only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.shop_plans import column, policy, schema

from datasteward.fulfilment.columns import ColumnKind
from datasteward.fulfilment.plan import PlanKind, build_plan
from datasteward.fulfilment.plan_edits import ENGINE_ONLY
from datasteward.fulfilment.rectify import (
    FieldRectification,
    RectificationReport,
    rectified_value,
)


def _rectification(changes: dict[str, str], **kwargs: Any) -> Any:
    shop = kwargs.pop("shop", None) or policy()
    return build_plan(
        shop,
        PlanKind.RECTIFICATION,
        {"email"},
        schema=kwargs.pop("schema", None) or schema(shop),
        changes=changes,
        **kwargs,
    )


def test_a_sound_rectification_plans_only_the_named_datasets() -> None:
    plan = _rectification(
        {
            "shop.customers.phone": "+371 26 123 456",
            "shop.customers.first_name": "Anna",
            "shop.contact_messages.email": "Anna.Berzina@Example.LV",
        },
        counts={("shop", "customers"): 1, ("shop", "contact_messages"): 2},
    )
    assert plan.ok, plan.problems
    (system,) = plan.systems
    by_name = {d.dataset: d for d in system.datasets}
    assert set(by_name) == {"customers", "contact_messages"}
    assert by_name["customers"].rows == 1 and by_name["contact_messages"].rows == 2
    assert {f.name: f.action for f in by_name["customers"].fields} == {
        "phone": "rectify",
        "first_name": "rectify",
    }
    phone = next(f for f in by_name["customers"].fields if f.name == "phone")
    assert "phone number" in phone.explanation
    assert "+371" not in json.dumps(plan.to_dict())  # the plan never shows a value


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"shop.customers.phone": "12345"}, "not a valid phone number"),
        ({"shop.customers.email": "ana@@example.lv"}, "not a valid email address"),
        ({"shop.orders.billing_email": "no address"}, "not a valid email address"),
        ({"shop.customers.first_name": "A" * 101}, "holds at most 100"),
        ({"shop.customers.first_name": "   "}, "the new value is empty"),
        ({"shop.access_log.customer_id": "7"}, "not rectifiable"),
        ({"shop.customers.nickname": "Ana"}, "'nickname' is not a declared field"),
        ({"shop.wishlists.note": "x"}, "declares no dataset 'wishlists'"),
        ({"crm.contacts.email": "ana@example.lv"}, "no system 'crm'"),
        ({"customers.phone": "+37126123456"}, "does not name a field"),
        ({}, "at least one field"),
    ],
)
def test_a_bad_change_is_a_plan_problem_that_never_repeats_the_value(
    changes: dict[str, str], expected: str
) -> None:
    plan = _rectification(changes)
    assert not plan.ok
    assert any(expected in problem for problem in plan.problems), plan.problems
    for value in changes.values():
        if len(value.strip()) > 2:
            assert all(value not in problem for problem in plan.problems)


def test_a_missing_column_or_unreached_dataset_refuses_the_rectification() -> None:
    shop = policy()
    tables = schema(shop)
    del tables["shop"]["customers"]["phone"]
    plan = _rectification({"shop.customers.phone": "+37126123456"}, shop=shop, schema=tables)
    assert any("column 'phone' does not exist" in p for p in plan.problems)
    by_phone = build_plan(
        shop,
        PlanKind.RECTIFICATION,
        {"phone"},
        schema=schema(shop),
        changes={"shop.contact_messages.name": "Ana"},
    )
    assert any("no identity field or relation" in p for p in by_phone.problems)


def test_a_system_outside_the_selection_is_unknown_to_the_plan() -> None:
    plan = _rectification({"shop.customers.first_name": "Anna"}, systems=["crm"])
    assert "unknown system 'crm'" in plan.problems
    assert any("no system 'shop' is declared (or selected)" in p for p in plan.problems)


def test_new_values_are_written_in_canonical_form_and_typed_by_the_column() -> None:
    text = column("email", length=254)
    assert rectified_value("email", text, " Ana.Berzina@Example.LV ") == "ana.berzina@example.lv"
    assert rectified_value("phone", column("phone", length=32), "+371 26 123 456") == (
        "+37126123456"
    )
    assert rectified_value(None, column("n", kind=ColumnKind.INTEGER, length=32), "42") == 42
    with pytest.raises(ValueError, match="does not fit"):
        rectified_value(None, column("n", kind=ColumnKind.INTEGER, length=16), "70000")
    with pytest.raises(ValueError, match="type the engine does not know"):
        rectified_value(None, column("tags", kind=ColumnKind.OTHER), "x")
    with pytest.raises(ValueError, match="phone number") as refused:
        rectified_value("phone", column("phone", length=32), "26 123 456")
    assert "26 123 456" not in str(refused.value)


def test_the_rectification_report_holds_counts_only() -> None:
    report = RectificationReport(
        False,
        [FieldRectification("shop", "customers", "phone", 0, 0)],
        ["shop.customers.phone: none of the subject's rows was found"],
    )
    data = report.to_dict()
    assert data["complete"] is False
    assert data["fields"] == [
        {
            "system": "shop",
            "dataset": "customers",
            "field": "phone",
            "rows_matched": 0,
            "rows_changed": 0,
        }
    ]


# -- restriction -----------------------------------------------------------------------------


def test_restriction_plans_the_flag_column() -> None:
    shop = policy()
    plan = build_plan(shop, PlanKind.RESTRICTION, {"email"}, schema=schema(shop))
    assert plan.ok, plan.problems
    (system,) = plan.systems
    (customers,) = system.datasets
    assert (customers.dataset, customers.flag, customers.row_action) == (
        "customers",
        "restricted",
        "set flag",
    )
    lifted = build_plan(shop, PlanKind.RESTRICTION, {"email"}, schema=schema(shop), lift=True)
    assert lifted.systems[0].datasets[0].row_action == "clear flag"


def test_a_system_without_flag_column_is_restricted_in_the_engine_only() -> None:
    def no_flag(data: dict[str, Any]) -> None:
        for dataset in data["systems"][0]["datasets"]:
            dataset.pop("restriction_flag", None)
        data["systems"].append(
            {
                "id": "paper",
                "name": "Paper archive",
                "connector": "manual",
                "manual": {"instructions": "Mark the customer's folder."},
            }
        )

    shop = policy(no_flag)
    plan = build_plan(shop, PlanKind.RESTRICTION, {"email"}, schema=None)
    assert plan.ok, plan.problems  # nothing to connect to, so nothing to check
    notes = {s.system: s.note for s in plan.systems}
    assert notes["shop"] == f"no dataset has a restriction flag column: {ENGINE_ONLY}"
    assert notes["paper"] == f"handled by hand: {ENGINE_ONLY}"


def test_a_flag_column_that_is_missing_or_not_boolean_is_a_problem() -> None:
    shop = policy()
    tables = schema(shop)
    tables["shop"]["customers"]["restricted"] = column("restricted", kind=ColumnKind.DATE)
    plan = build_plan(shop, PlanKind.RESTRICTION, {"email"}, schema=tables)
    assert any("holds date values; it must be a boolean" in p for p in plan.problems)
    del tables["shop"]["customers"]["restricted"]
    plan = build_plan(shop, PlanKind.RESTRICTION, {"email"}, schema=tables)
    assert any("restriction flag column 'restricted' does not exist" in p for p in plan.problems)
    unchecked = build_plan(shop, PlanKind.RESTRICTION, {"email"}, schema=None)
    assert any("not checked against the live schema" in p for p in unchecked.problems)
