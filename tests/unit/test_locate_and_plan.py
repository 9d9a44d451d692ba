"""Locating a subject's rows and planning a request, on the example shop
policy and small variants of it, with reflected columns given by hand."""

from __future__ import annotations

from typing import Any

from tests.unit.shop_plans import column as _column
from tests.unit.shop_plans import policy as _policy
from tests.unit.shop_plans import schema as _schema

from datasteward.fulfilment.locate import Link, Match, locate
from datasteward.fulfilment.plan import PlanKind, build_plan


def test_locate_follows_identities_then_relations_parents_first() -> None:
    system = _policy().systems[0]
    scope = locate(system, {"email"})
    names = [loc.dataset for loc in scope.locators]
    assert names.index("customers") < names.index("orders") < names.index("order_items")
    customers = scope.locator("customers")
    assert customers is not None and Match("email", "email") in customers.matches
    items = scope.locator("order_items")
    assert items is not None
    assert items.links == (Link("order_id", "orders", "id"),)
    assert items.depth == 1
    orders = scope.locator("orders")
    assert orders is not None and Link("customer_id", "customers", "id") in orders.links
    for locator in scope.locators:
        for link in locator.links:
            assert names.index(link.target) < names.index(locator.dataset)


def test_identity_kind_decides_the_start() -> None:
    system = _policy().systems[0]
    by_phone = locate(system, {"phone"})
    assert by_phone.locator("customers") is not None
    assert by_phone.locator("contact_messages") is None
    assert "contact_messages" in by_phone.unreachable


def test_erasure_plan_keeps_held_fields_and_erases_the_rest() -> None:
    policy = _policy()
    plan = build_plan(policy, PlanKind.ERASURE, {"email"}, schema=_schema(policy))
    assert plan.ok, plan.problems
    by_name = {d.dataset: d for s in plan.systems for d in s.datasets}
    orders = by_name["orders"]
    assert orders.row_action == "keep"
    assert all(f.hold is not None for f in orders.fields)
    customers = by_name["customers"]
    assert {f.action for f in customers.fields} - {"keep"}
    assert all(f.explanation for f in customers.fields)


def test_missing_column_and_unfit_operator_are_plan_problems() -> None:
    policy = _policy()
    schema = _schema(policy)
    del schema["shop"]["customers"]["phone"]
    schema["shop"]["customers"]["first_name"] = _column("first_name", nullable=False)
    plan = build_plan(policy, PlanKind.ERASURE, {"email"}, schema=schema)
    assert not plan.ok
    assert any("customers.phone: column 'phone' does not exist" in p for p in plan.problems)
    assert any("customers.first_name" in p and "NOT NULL" in p for p in plan.problems)


def test_unreached_dataset_with_fields_is_a_problem() -> None:
    def cut(data: dict[str, Any]) -> None:
        for dataset in data["systems"][0]["datasets"]:
            if dataset["name"] == "order_items":
                dataset["relations"] = []

    policy = _policy(cut)
    plan = build_plan(policy, PlanKind.ACCESS, {"email"}, schema=_schema(policy))
    assert any("order_items: holds declared personal fields" in p for p in plan.problems)


def test_unchecked_schema_is_never_ok() -> None:
    plan = build_plan(_policy(), PlanKind.ACCESS, {"email"}, schema=None)
    assert not plan.ok
    assert any("not checked against the live schema" in p for p in plan.problems)


def test_plan_serialises() -> None:
    policy = _policy()
    plan = build_plan(
        policy,
        PlanKind.ACCESS,
        {"email"},
        schema=_schema(policy),
        counts={("shop", "customers"): 1},
    )
    data = plan.to_dict()
    assert data["ok"] is True
    customers = next(d for d in data["systems"][0]["datasets"] if d["dataset"] == "customers")
    assert customers["rows"] == 1
    assert customers["row_action"] == "read"


def test_a_narrowed_scope_keeps_what_the_named_datasets_read() -> None:
    scope = locate(_policy().systems[0], {"email"})
    narrow = scope.narrowed(["payments", "contact_messages"])
    names = [loc.dataset for loc in narrow.locators]
    assert set(names) == {"payments", "orders", "customers", "contact_messages"}
    assert names == [loc.dataset for loc in scope.locators if loc.dataset in names]
    assert scope.narrowed(["no_such_dataset"]).locators == ()
