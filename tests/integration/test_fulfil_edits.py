"""Rectification (Art. 16) and restriction (Art. 18) in the example shop,
checked by querying the database: corrected values land in the subject's
rows in canonical form and nowhere else, a value that does not fit refuses
the whole request before anything is written, reports hold counts and never
a value, the restriction flag is set and lifted on the subject's rows only,
and a system without a flag column is restricted in the engine only.

SQLite always runs; PostgreSQL and MariaDB when their URLs are set."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration import fulfil_helpers as h
from tests.integration.databases import scratch_database

from datasteward.crypto import Keyring, MasterKey
from datasteward.fulfilment.plan import PlanKind
from datasteward.fulfilment.service import Fulfilment, PlanRefused
from datasteward.policy import load_policy_file, parse_policy
from datasteward.policy.model import Policy
from datasteward.shop import database_fingerprint, load, sample_subjects_by_role

ROWS = 5_000
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=h.BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("edit"), "edit_t") as url:
        load(url, ROWS, seed=11, replace=True)
        yield url


@pytest.fixture
def shop(loaded: str) -> Iterator[str]:
    """The shop, to change; reloaded afterwards."""
    yield loaded
    load(loaded, ROWS, seed=11, replace=True)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_file(h.POLICY_FILE).policy


@pytest.fixture
def fulfilment(shop: str, policy: Policy, tmp_path: Path) -> Iterator[Fulfilment]:
    key = MasterKey.generate()
    with h.service(shop, policy, Keyring([key], key.kid), tmp_path, NOW) as service:
        yield service


def _customer(url: str, cid: int) -> tuple[Any, ...]:
    return h.query(
        url,
        "SELECT email, first_name, phone, restricted FROM customers WHERE id = :c",
        c=cid,
    )[0]


# -- rectification ---------------------------------------------------------------------------


def test_rectification_writes_checked_values_into_the_subjects_rows_only(
    shop: str, fulfilment: Fulfilment
) -> None:
    address = sample_subjects_by_role(shop)["customer"]
    cid = h.customer_id(shop, address)
    mine = h.subject_ids(shop, address)
    before = h.others_checksum(shop, mine)
    orders = len(mine["orders"])
    changes = {
        "shop.customers.phone": "+371 26 123 456",
        "shop.customers.first_name": "Anna",
        "shop.orders.billing_name": "Anna Bērziņa",
        "shop.customers.email": " Anna.Berzina@Example.LV ",
    }
    plan = fulfilment.plan(PlanKind.RECTIFICATION, [h.email(address)], changes=changes)
    assert plan.ok, plan.problems
    rows = {d.dataset: d.rows for s in plan.systems for d in s.datasets}
    assert rows == {"customers": 1, "orders": orders}

    report = fulfilment.rectify([h.email(address)], changes)

    assert report.complete, report.reasons
    counted = {f.key: (f.rows_matched, f.rows_changed) for f in report.fields}
    assert counted == {
        "shop.customers.phone": (1, 1),
        "shop.customers.first_name": (1, 1),
        "shop.customers.email": (1, 1),
        "shop.orders.billing_name": (orders, orders),
    }
    text = json.dumps(report.to_dict())
    assert "Anna" not in text and "26 123 456" not in text and "+37126123456" not in text
    email_value, first_name, phone, _ = _customer(shop, cid)
    assert (email_value, first_name, phone) == ("anna.berzina@example.lv", "Anna", "+37126123456")
    names = h.query(shop, "SELECT DISTINCT billing_name FROM orders WHERE customer_id = :c", c=cid)
    assert names == [("Anna Bērziņa",)]
    # billing emails were not named, so they still hold the old address
    assert h.query(
        shop,
        "SELECT COUNT(*) FROM orders WHERE customer_id = :c AND billing_email = :e",
        c=cid,
        e=address,
    ) == [(orders,)]
    assert h.others_checksum(shop, mine) == before

    # the same correction again changes nothing; the subject is found by the new address
    again = fulfilment.rectify(
        [h.email("anna.berzina@example.lv")],
        {"shop.customers.phone": "+37126123456", "shop.customers.first_name": "Anna"},
    )
    assert [(f.rows_matched, f.rows_changed) for f in again.fields] == [(1, 0), (1, 0)]


@pytest.mark.parametrize(
    "changes",
    [
        {"shop.customers.first_name": "Anna", "shop.customers.phone": "12345"},
        {"shop.customers.first_name": "A" * 101},
        {"shop.customers.first_name": "Anna", "shop.access_log.customer_id": "1"},
        {"shop.customers.first_name": "Anna", "shop.customers.nickname": "An"},
    ],
    ids=["bad-phone", "too-long", "link-column", "undeclared"],
)
def test_a_value_that_does_not_fit_refuses_the_rectification_and_writes_nothing(
    loaded: str, policy: Policy, tmp_path: Path, changes: dict[str, str]
) -> None:
    address = sample_subjects_by_role(loaded)["customer"]
    before = database_fingerprint(loaded)
    key = MasterKey.generate()
    with (
        h.service(loaded, policy, Keyring([key], key.kid), tmp_path, NOW) as service,
        pytest.raises(PlanRefused) as refused,
    ):
        service.rectify([h.email(address)], changes)
    assert refused.value.plan.problems
    assert database_fingerprint(loaded) == before


def test_a_field_with_none_of_the_subjects_rows_leaves_rectification_incomplete(
    shop: str, fulfilment: Fulfilment
) -> None:
    correspondent = sample_subjects_by_role(shop)["correspondent"]
    report = fulfilment.rectify(
        [h.email(correspondent)],
        {"shop.contact_messages.name": "Jānis Ozols", "shop.customers.first_name": "Jānis"},
    )
    assert not report.complete
    assert report.reasons == ["shop.customers.first_name: none of the subject's rows was found"]
    assert h.query(
        shop, "SELECT DISTINCT name FROM contact_messages WHERE email = :e", e=correspondent
    ) == [("Jānis Ozols",)]


def test_a_broken_dataset_elsewhere_does_not_hold_up_a_correction(
    shop: str, tmp_path: Path
) -> None:
    data = yaml.safe_load(h.POLICY_FILE.read_text(encoding="utf-8"))
    data["systems"][0]["datasets"].append(
        {
            "name": "wishlists",
            "identity_fields": [{"field": "email", "kind": "email"}],
            "fields": [{"name": "email", "category": "email", "erasure": "delete_row"}],
        }
    )
    policy = parse_policy(yaml.safe_dump(data, allow_unicode=True), "p.yaml").policy
    address = sample_subjects_by_role(shop)["customer"]
    key = MasterKey.generate()
    with h.service(shop, policy, Keyring([key], key.kid), tmp_path, NOW) as service:
        erasure = service.plan(PlanKind.ERASURE, [h.email(address)])
        assert any("table 'wishlists' does not exist" in p for p in erasure.problems)
        report = service.rectify([h.email(address)], {"shop.customers.first_name": "Anna"})
        assert report.complete and report.fields[0].rows_changed == 1
        assert service.restrict([h.email(address)]).systems[0].datasets[0].rows_changed == 1


# -- restriction -----------------------------------------------------------------------------


def test_restriction_sets_and_lifts_the_flag_on_the_subjects_rows_only(
    shop: str, fulfilment: Fulfilment
) -> None:
    address = sample_subjects_by_role(shop)["customer"]
    cid = h.customer_id(shop, address)
    mine = h.subject_ids(shop, address)
    before = h.others_checksum(shop, mine)
    assert not _customer(shop, cid)[3]

    report = fulfilment.restrict([h.email(address)])

    assert report.complete and not report.lift and report.engine_only == []
    (system,) = report.systems
    (flagged,) = system.datasets
    assert (flagged.dataset, flagged.flag, flagged.rows_matched, flagged.rows_changed) == (
        "customers",
        "restricted",
        1,
        1,
    )
    assert _customer(shop, cid)[3] in (True, 1)
    assert h.others_checksum(shop, mine) == before
    assert fulfilment.restrict([h.email(address)]).systems[0].datasets[0].rows_changed == 0

    lifted = fulfilment.restrict([h.email(address)], lift=True)
    assert lifted.to_dict()["restriction"] == "lifted"
    assert lifted.systems[0].datasets[0].rows_changed == 1
    assert _customer(shop, cid)[3] in (False, 0)
    assert h.others_checksum(shop, mine) == before


def test_a_system_without_flag_column_is_restricted_in_the_engine_only(
    loaded: str, tmp_path: Path
) -> None:
    data = yaml.safe_load(h.POLICY_FILE.read_text(encoding="utf-8"))
    for dataset in data["systems"][0]["datasets"]:
        dataset.pop("restriction_flag", None)
    policy = parse_policy(yaml.safe_dump(data, allow_unicode=True), "p.yaml").policy
    address = sample_subjects_by_role(loaded)["customer"]
    before = database_fingerprint(loaded)
    key = MasterKey.generate()
    with h.service(loaded, policy, Keyring([key], key.kid), tmp_path, NOW) as service:
        report = service.restrict([h.email(address)])
    assert report.complete
    assert report.engine_only == ["shop"]
    assert report.to_dict()["systems"] == [
        {
            "system": "shop",
            "engine_only": True,
            "note": "no dataset has a restriction flag column: restricted in the engine only",
            "datasets": [],
        }
    ]
    assert database_fingerprint(loaded) == before


# -- command line ----------------------------------------------------------------------------


def test_command_line_rectifies_and_restricts(shop: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from datasteward.cli.fulfil_commands import fulfil_app

    address = sample_subjects_by_role(shop)["customer"]
    cid = h.customer_id(shop, address)
    env = {
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_SECRET_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
        "SHOP_DATABASE_URL": shop,
        "STEWARD_DATABASE_URL": None,
        "STEWARD_KEYSTORE_URL": None,
    }
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(fulfil_app, list(args), env=env)

    subject = ("--subject", f"email:{address}", "--policy", str(h.POLICY_FILE))
    planned = run(
        "plan",
        "--type",
        "rectification",
        *subject,
        "--set",
        "shop.customers.phone=12345",
        "--json",
    )
    assert planned.exit_code == 1, planned.output
    assert any("phone" in p for p in json.loads(planned.stdout)["problems"])
    refused = run("rectify", *subject, "--set", "shop.customers.phone=12345", "--json")
    assert refused.exit_code == 2, refused.output
    assert json.loads(refused.stdout)["refused"] is True
    assert "12345" not in refused.stdout

    done = run("rectify", *subject, "--set", "shop.customers.phone=+371 26 123 456", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["fields"][0]["rows_changed"] == 1
    assert _customer(shop, cid)[2] == "+37126123456"
    shown = run("rectify", *subject, "--set", "shop.customers.first_name=Anna")
    assert shown.exit_code == 0, shown.output
    assert "shop.customers.first_name: 1 row(s), 1 changed" in shown.output

    restricted = run("restrict", *subject, "--json")
    assert restricted.exit_code == 0, restricted.output
    assert json.loads(restricted.stdout)["restriction"] == "imposed"
    assert _customer(shop, cid)[3] in (True, 1)
    lifted = run("restrict", *subject, "--lift")
    assert lifted.exit_code == 0, lifted.output
    assert "restriction lifted" in lifted.output
    assert _customer(shop, cid)[3] in (False, 0)
    plan = run("plan", "--type", "restriction", *subject, "--json")
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["systems"][0]["datasets"][0]["restriction_flag"] == "restricted"
