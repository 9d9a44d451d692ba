"""Compiling retention rules into sweep units, on the example shop policy and
variants of it, against the shop's own table definitions (no database)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from datasteward.connectors.reflect import column_info
from datasteward.fulfilment.columns import ColumnInfo
from datasteward.policy import parse_policy
from datasteward.policy.model import Policy, Suspension
from datasteward.retention import CheckKind, Program, SweepUnit, UnitAction, compile_rules
from datasteward.shop import SHOP_METADATA

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "policy.yaml"
KEY = b"k" * 32

Edit = Callable[[dict[str, Any]], None]


_SHOP_DATA = yaml.safe_load(SHOP.read_text(encoding="utf-8"))


def _policy(edit: Edit | None = None) -> Policy:
    """The shop policy, edited; validated by the model (the loader's file
    positions are not needed here, and skipping them keeps the tests fast)."""
    data = copy.deepcopy(_SHOP_DATA)
    if edit is not None:
        edit(data)
    return Policy.model_validate(data)


def _schema(drop: tuple[str, str] | None = None) -> dict[str, dict[str, dict[str, ColumnInfo]]]:
    """The shop's tables as the connector would reflect them on SQLite."""
    referenced = {
        (fk.column.table.name, fk.column.name)
        for t in SHOP_METADATA.sorted_tables
        for fk in t.foreign_keys
    }
    tables = {
        table.name: {
            column.name: column_info(
                column, "sqlite", referenced=(table.name, column.name) in referenced
            )
            for column in table.columns
            if (table.name, column.name) != drop
        }
        for table in SHOP_METADATA.sorted_tables
    }
    return {"shop": tables}


def _compile(edit: Edit | None = None, schema: Any = None) -> Program:
    return compile_rules(_policy(edit), _schema() if schema is None else schema, hash_key=KEY)


def _unit(program: Program, rule: str, dataset: str) -> SweepUnit:
    found = program.unit((rule, "shop", dataset))
    assert found is not None, [b.reason for b in program.blocked]
    return found


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    rule = next(r for r in data["retention_rules"] if r["id"] == rule_id)
    assert isinstance(rule, dict)
    return rule


def test_every_rule_of_the_shop_compiles() -> None:
    assert parse_policy(SHOP.read_text(encoding="utf-8"), str(SHOP)).policy == _policy()
    program = _compile()
    assert program.blocked == ()
    assert [(u.rule_id, u.dataset) for u in program.units] == [
        ("access-log-ip-7d", "access_log"),
        ("access-log-1y", "access_log"),
        ("newsletter-unsubscribed", "newsletter_subscribers"),
        ("newsletter-events-1y", "newsletter_events"),
        ("contact-messages-resolved", "contact_messages"),
        ("contact-metadata-1y", "contact_messages"),
        # children first: the addresses point at the customers
        ("customer-accounts-closed", "addresses"),
        ("customer-accounts-closed", "customers"),
        ("order-records-11y", "order_items"),
        ("order-records-11y", "payments"),
        ("order-records-11y", "orders"),
        ("sellers-closed-3m", "seller_documents"),
        ("sellers-closed-3m", "sellers"),
    ]


def test_anonymisation_takes_the_fields_erasure_operators() -> None:
    program = _compile()
    ip = _unit(program, "access-log-ip-7d", "access_log")
    assert ip.action is UnitAction.ANONYMISE
    assert [(f.name, f.operator.action.value) for f in ip.fields] == [("ip_address", "truncate_ip")]
    customers = _unit(program, "customer-accounts-closed", "customers")
    assert {f.name: f.operator.action.value for f in customers.fields} == {
        "email": "keyed_hash",
        "first_name": "set_null",
        "last_name": "set_null",
        "phone": "set_null",
        "national_id": "set_null",
        "country": "set_null",
    }


def test_an_anchor_missing_in_the_dataset_is_read_through_its_relations() -> None:
    program = _compile()
    addresses = _unit(program, "customer-accounts-closed", "addresses")
    assert addresses.anchor.describe("addresses") == "addresses.customer_id -> customers.closed_at"
    items = _unit(program, "order-records-11y", "order_items")
    assert items.anchor.describe("order_items") == "order_items.order_id -> orders.created_at"


def test_fields_erased_with_delete_row_make_the_anonymising_rule_delete_the_row() -> None:
    addresses = _unit(_compile(), "customer-accounts-closed", "addresses")
    assert addresses.action is UnitAction.DELETE
    assert any("delete_row" in note for note in addresses.notes)


def test_restriction_is_checked_by_flag_along_the_anchor_path_and_by_subject() -> None:
    addresses = _unit(_compile(), "customer-accounts-closed", "addresses")
    kinds = [(h.kind, h.suspension) for h in addresses.holds]
    assert kinds == [
        (CheckKind.FLAG, Suspension.RESTRICTION),
        (CheckKind.SUBJECTS, Suspension.RESTRICTION),
        (CheckKind.SUBJECTS, Suspension.OPEN_REQUEST),
    ]
    flag = addresses.holds[0].path
    assert flag is not None and flag.describe("addresses") == (
        "addresses.customer_id -> customers.restricted"
    )


def test_deleting_rows_deletes_or_unlinks_the_rows_pointing_at_them_first() -> None:
    subscribers = _unit(_compile(), "newsletter-unsubscribed", "newsletter_subscribers")
    assert [(c.dataset, c.unlink) for c in subscribers.children] == [("newsletter_events", False)]
    assert [(g.child, g.column) for g in subscribers.guards] == [
        ("newsletter_events", "subscriber_id")
    ]

    def delete_customers(data: dict[str, Any]) -> None:
        rule = _rule(data, "customer-accounts-closed")
        rule["action"] = "delete"
        rule["datasets"] = [{"system": "shop", "dataset": "customers"}]
        del rule["fields"]

    customers = _unit(_compile(delete_customers), "customer-accounts-closed", "customers")
    children = {c.dataset: (c.unlink, len(c.hops)) for c in customers.children}
    # NOT NULL links are deleted (with their own children first), nullable ones unlinked
    assert children["addresses"] == (False, 1)
    assert children["order_items"] == (False, 2)
    assert children["orders"] == (False, 1)
    assert children["access_log"] == (True, 1)
    assert children["newsletter_subscribers"] == (True, 1)
    names = [c.dataset for c in customers.children]
    assert names.index("order_items") < names.index("orders")
    # orders kept by the accounting law keep their customer
    assert any(h.kind is CheckKind.CHILDREN and h.child == "orders" for h in customers.holds)


def test_the_legal_hold_is_checked_per_row_from_its_own_anchor() -> None:
    orders = _unit(_compile(), "order-records-11y", "orders")
    hold = next(h for h in orders.holds if h.kind is CheckKind.LEGAL_HOLD)
    assert hold.hold_id == "latvian-accounting-law"
    assert str(hold.period) == "P5Y"
    assert hold.path is not None and hold.path.describe("orders") == "orders.created_at"
    assert "Art. 17(3)(b)" in hold.reason


def test_pending_proceedings_without_a_column_keep_every_due_row() -> None:
    orders = _unit(_compile(), "order-records-11y", "orders")
    check = next(h for h in orders.holds if h.suspension is Suspension.PENDING_PROCEEDINGS)
    assert check.kind is CheckKind.ALL
    assert "suspend_column" in check.reason


def test_a_suspend_column_is_read_in_the_dataset_or_through_its_anchor() -> None:
    def flag(data: dict[str, Any]) -> None:
        _rule(data, "order-records-11y")["suspend_column"] = "restricted"
        _rule(data, "order-records-11y")["datasets"] = [{"system": "shop", "dataset": "customers"}]
        _rule(data, "order-records-11y")["anchor"]["column"] = "closed_at"

    customers = _unit(_compile(flag), "order-records-11y", "customers")
    check = next(h for h in customers.holds if h.suspension is Suspension.PENDING_PROCEEDINGS)
    assert check.kind is CheckKind.FLAG
    assert check.path is not None and check.path.column == "restricted"


def test_a_hold_without_an_anchor_column_keeps_every_due_row() -> None:
    def no_anchor(data: dict[str, Any]) -> None:
        del data["legal_holds"][0]["anchor"]["column"]

    orders = _unit(_compile(no_anchor), "order-records-11y", "orders")
    hold = next(h for h in orders.holds if h.hold_id == "latvian-accounting-law")
    assert hold.kind is CheckKind.ALL


def test_a_hold_by_category_covers_the_datasets_holding_that_category() -> None:
    def by_category(data: dict[str, Any]) -> None:
        data["legal_holds"][0]["datasets"] = []
        data["legal_holds"][0]["data_categories"] = ["ip_address"]

    program = _compile(by_category)
    ip = _unit(program, "access-log-ip-7d", "access_log")
    assert [h.hold_id for h in ip.holds] == ["latvian-accounting-law"]
    orders = _unit(program, "order-records-11y", "orders")
    assert not any(h.kind is CheckKind.LEGAL_HOLD for h in orders.holds)


@pytest.mark.parametrize(
    ("edit", "rule", "by_hand", "words"),
    [
        (
            lambda d: (
                _rule(d, "access-log-1y").pop("period"),
                _rule(d, "access-log-1y").update(criteria="as long as needed"),
            ),
            "access-log-1y",
            True,
            "criteria",
        ),
        (
            lambda d: _rule(d, "access-log-1y").update(datasets=[], data_categories=["browsing"]),
            "access-log-1y",
            True,
            "names no datasets",
        ),
        (
            lambda d: _rule(d, "access-log-1y")["anchor"].update(column="seen_at"),
            "access-log-1y",
            False,
            "anchor column 'seen_at'",
        ),
        (
            lambda d: _rule(d, "access-log-1y")["anchor"].update(column="path"),
            "access-log-1y",
            False,
            "dates and date-times",
        ),
        (
            lambda d: (
                _rule(d, "access-log-ip-7d").update(fields=["user_agent"]),
                d["systems"][0]["datasets"][8]["fields"][1].update(erasure="set_null"),
            ),
            "access-log-ip-7d",
            False,
            "NOT NULL",
        ),
        (
            lambda d: _rule(d, "contact-metadata-1y").update(fields=["nothing_here"]),
            "contact-metadata-1y",
            False,
            "none of the fields",
        ),
    ],
)
def test_what_cannot_be_swept_is_blocked_with_the_reason(
    edit: Edit, rule: str, by_hand: bool, words: str
) -> None:
    program = _compile(edit)
    blocked = [b for b in program.blocked if b.rule_id == rule]
    assert len(blocked) == 1
    assert blocked[0].by_hand is by_hand
    assert words in blocked[0].reason
    assert all(u.rule_id != rule for u in program.units)


def test_a_field_kept_by_its_erasure_action_cannot_be_anonymised() -> None:
    def keep(data: dict[str, Any]) -> None:
        rule = _rule(data, "customer-accounts-closed")
        rule["datasets"] = [{"system": "shop", "dataset": "orders"}]
        rule["fields"] = ["orders.billing_name"]
        rule["anchor"]["column"] = "created_at"

    blocked = next(b for b in _compile(keep).blocked if b.rule_id == "customer-accounts-closed")
    assert "'keep'" in blocked.reason


def test_a_system_without_a_connection_is_reported_unchecked() -> None:
    program = compile_rules(_policy(), {}, hash_key=KEY)
    assert program.units == ()
    assert program.unchecked == ("shop",)
    assert all("SHOP_DATABASE_URL" in b.reason and not b.by_hand for b in program.blocked)


def test_a_manual_system_is_carried_out_by_hand() -> None:
    def manual(data: dict[str, Any]) -> None:
        data["systems"][0]["connector"] = "manual"
        data["systems"][0]["manual"] = {"instructions": "Ask the shop's admin."}

    program = compile_rules(_policy(manual), {}, hash_key=KEY)
    assert program.units == ()
    assert program.blocked and all(b.by_hand for b in program.blocked)
    assert "Ask the shop's admin." in program.blocked[0].reason


def test_a_missing_table_blocks_only_its_units() -> None:
    schema = _schema()
    del schema["shop"]["sellers"]
    program = _compile(schema=schema)
    blocked = {(b.rule_id, b.dataset) for b in program.blocked}
    assert ("sellers-closed-3m", "sellers") in blocked
    assert program.unit(("access-log-1y", "shop", "access_log")) is not None


def test_the_suspend_column_is_documented_in_the_model() -> None:
    def flag(data: dict[str, Any]) -> None:
        _rule(data, "order-records-11y")["suspend_column"] = "on_hold"

    rule = _policy(flag).retention_rule("order-records-11y")
    assert rule.suspend_column == "on_hold"
