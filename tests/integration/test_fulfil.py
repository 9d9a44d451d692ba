"""Fulfilment end to end on the generated example shop: the plan counts the
subject's rows, the access package holds exactly their rows (compared with
hand-written SQL) and nobody else's, portability returns only provided
fields, erasure leaves no declared personal field of theirs outside what a
legal hold keeps and touches no one else's rows, refused values make the
report incomplete, and a plan with problems changes nothing.

SQLite always runs; PostgreSQL and MariaDB when ``STEWARD_TEST_POSTGRES_URL``
and ``STEWARD_TEST_MARIADB_URL`` are set (databases ``ful_t_<hex>`` created
and dropped here)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.integration import fulfil_helpers as h
from tests.integration.databases import scratch_database

from datasteward.crypto import Keyring, MasterKey
from datasteward.fulfilment.plan import PlanKind
from datasteward.fulfilment.service import Fulfilment, PlanRefused
from datasteward.packages import export_package
from datasteward.policy import load_policy_file, parse_policy
from datasteward.policy.model import Policy
from datasteward.shop import database_fingerprint, load, sample_subjects_by_role

POLICY_FILE = h.POLICY_FILE
ROWS = 20_000
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HELD = ("orders", "order_items", "payments")


@pytest.fixture(scope="module", params=h.BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("shop"), "ful_t") as url:
        yield url


@pytest.fixture(scope="module")
def read_shop(database_url: str) -> str:
    """A shop loaded once per module; tests using it must not change it."""
    load(database_url, ROWS, seed=7, replace=True)
    return database_url


@pytest.fixture
def fresh_shop(read_shop: str) -> Iterator[str]:
    """The shop, to change; reloaded afterwards for the next test."""
    yield read_shop
    load(read_shop, ROWS, seed=7, replace=True)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_file(POLICY_FILE).policy


@pytest.fixture
def keyring() -> Keyring:
    key = MasterKey.generate()
    return Keyring([key], key.kid)


def _service(url: str, policy: Policy, keyring: Keyring, home: Path) -> Fulfilment:
    return h.service(url, policy, keyring, home, NOW)


_email = h.email
_query = h.query
_customer_id = h.customer_id
_subject_ids = h.subject_ids
_others_checksum = h.others_checksum


# -- planning and access ----------------------------------------------------------------------


def test_plan_counts_the_subjects_rows_and_is_ok(
    read_shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    email = sample_subjects_by_role(read_shop)["customer"]
    expected = {t: len(ids) for t, ids in _subject_ids(read_shop, email).items()}
    with _service(read_shop, policy, keyring, tmp_path) as service:
        plan = service.plan(PlanKind.ERASURE, [_email(email)])
    assert plan.ok, plan.problems
    counted = {d.dataset: d.rows for s in plan.systems for d in s.datasets}
    assert counted == expected
    assert counted["orders"] and counted["access_log"]
    actions = {d.dataset: d.row_action for s in plan.systems for d in s.datasets}
    assert actions["orders"] == "keep" and actions["addresses"] == "delete"


def _export(home: Path, keyring: Keyring, package_id: str, out: Path) -> zipfile.ZipFile:
    target = out / f"{package_id}.zip"
    export_package(home, keyring, package_id, target, now=NOW)
    return zipfile.ZipFile(target)


def test_access_package_holds_exactly_the_subjects_rows(
    read_shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    subjects = sample_subjects_by_role(read_shop)
    email, other = subjects["customer"], subjects["closed_customer"]
    expected = {t: len(ids) for t, ids in _subject_ids(read_shop, email).items()}
    home = tmp_path / "home"
    with _service(read_shop, policy, keyring, home) as service:
        plan, stored = service.access([_email(email)])
    assert plan.ok
    assert stored.expires_at == NOW + (stored.expires_at - stored.created_at)
    assert (stored.expires_at - stored.created_at).days == 30
    # the plaintext staging zip is gone; only the encrypted package stays
    assert not list((home / "packages" / "staging").glob("*.zip"))
    with _export(home, keyring, stored.package_id, tmp_path) as archive:
        data = json.loads(archive.read("data.json"))
        everything = b"".join(archive.read(name) for name in archive.namelist())
    searched = {entry["dataset"]: entry["rows"] for entry in data["searched"]}
    assert searched == expected  # datasets with no rows are listed too (sellers: 0)
    assert searched["sellers"] == 0
    records = [r for r in data["records"] if r["dataset"] == "customers"]
    assert len(records) == 1
    values = {f["field"]: f["value"] for f in records[0]["fields"]}
    assert values["email"] == email
    assert email.encode() in everything
    assert other.encode() not in everything


def test_portability_package_holds_only_provided_fields(
    read_shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    email = sample_subjects_by_role(read_shop)["customer"]
    home = tmp_path / "home"
    with _service(read_shop, policy, keyring, home) as service:
        _plan, stored = service.access([_email(email)], portability=True)
    with _export(home, keyring, stored.package_id, tmp_path) as archive:
        data = json.loads(archive.read("data.json"))
    provided = {
        (dataset.name, f.name)
        for system in policy.systems
        for dataset in system.datasets
        for f in dataset.fields
        if f.provided_by_subject
    }
    written = {
        (entry["dataset"], f["name"])
        for entry in data["structure"].values()
        for f in entry["fields"]
    }
    assert written and written <= provided
    assert ("orders", "total") not in written and ("access_log", "ip_address") not in written
    assert data["datasets"]["shop.customers"][0]["email"] == email
    assert len(data["datasets"]["shop.orders"]) == len(_subject_ids(read_shop, email)["orders"])


# -- erasure ---------------------------------------------------------------------------------


def test_erasure_leaves_only_held_data_and_touches_no_one_else(
    fresh_shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    url = fresh_shop
    email = sample_subjects_by_role(url)["customer"]
    cid = _customer_id(url, email)
    mine = _subject_ids(url, email)
    before = _others_checksum(url, mine)
    with _service(url, policy, keyring, tmp_path) as service:
        report = service.erase([_email(email)])
    assert report.complete, report.reasons
    assert report.reasons == [] and report.manual == []

    # No declared personal field of theirs is left outside the held datasets.
    assert _query(url, "SELECT COUNT(*) FROM customers WHERE email = :e", e=email) == [(0,)]
    customer = _query(
        url,
        "SELECT email, first_name, last_name, phone, national_id, country "
        "FROM customers WHERE id = :i",
        i=cid,
    )
    assert customer[0][0] != email and len(customer[0][0]) == 64  # keyed hash
    assert customer[0][1:] == (None,) * 5
    for table in ("addresses", "newsletter_subscribers", "newsletter_events"):
        ids = ",".join(str(i) for i in mine[table]) or "-1"
        assert _query(url, f"SELECT COUNT(*) FROM {table} WHERE id IN ({ids})") == [(0,)]
    log_ids = ",".join(str(i) for i in mine["access_log"])
    log = _query(
        url,
        f"SELECT ip_address, user_agent, path, referrer, customer_id FROM access_log "
        f"WHERE id IN ({log_ids})",
    )
    assert len(log) == len(mine["access_log"])
    assert all(r[0].endswith(".0") or r[0].endswith("::") for r in log)
    assert all(r[1:] == ("-", "-", None, None) for r in log)

    # Held datasets: kept with the hold that keeps them.
    held = {d.dataset: d for d in report.datasets if d.dataset in HELD}
    assert set(held) == set(HELD)
    for entry in held.values():
        assert entry.rows_matched == len(mine[entry.dataset]) > 0
        assert entry.erased == {}
        assert {k.hold.hold_id for k in entry.kept} == {"latvian-accounting-law"}
    assert _query(url, "SELECT COUNT(*) FROM orders WHERE customer_id = :c", c=cid)[0][0] == len(
        mine["orders"]
    )
    as_dict: Any = json.loads(json.dumps(report.to_dict()))  # JSON-ready, as the CLI prints it
    orders = next(d for d in as_dict["datasets"] if d["dataset"] == "orders")
    assert orders["kept"][0]["law"].startswith("Latvian Accounting Law")
    assert orders["kept"][0]["article"].startswith("Art. 17(3)")

    assert _others_checksum(url, mine) == before


def test_a_value_an_operator_refuses_makes_erasure_incomplete(
    fresh_shop: str, policy: Policy, keyring: Keyring, tmp_path: Path
) -> None:
    url = fresh_shop
    email = sample_subjects_by_role(url)["customer"]
    cid = _customer_id(url, email)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE access_log SET ip_address = 'unknown' WHERE id = "
                    "(SELECT MIN(id) FROM access_log WHERE customer_id = :c)"
                ),
                {"c": cid},
            )
    finally:
        engine.dispose()
    with _service(url, policy, keyring, tmp_path) as service:
        report = service.erase([_email(email)])
    assert not report.complete
    assert report.reasons == ["shop.access_log.ip_address: 1 value could not take truncate_ip"]
    log = next(d for d in report.datasets if d.dataset == "access_log")
    assert log.refused == {"ip_address": 1}
    assert _query(url, "SELECT COUNT(*) FROM access_log WHERE ip_address = 'unknown'") == [(1,)]


def test_a_policy_naming_a_missing_column_refuses_erasure_and_changes_nothing(
    read_shop: str, keyring: Keyring, tmp_path: Path
) -> None:
    text_ = POLICY_FILE.read_text(encoding="utf-8")
    old = "{name: referrer, category: browsing"
    assert text_.count(old) == 1
    broken = parse_policy(text_.replace(old, "{name: referer_url, category: browsing"), "p.yaml")
    email = sample_subjects_by_role(read_shop)["customer"]
    before = database_fingerprint(read_shop)
    with (
        _service(read_shop, broken.policy, keyring, tmp_path) as service,
        pytest.raises(PlanRefused) as refused,
    ):
        service.erase([_email(email)])
    assert any("referer_url" in p.message for p in refused.value.problems)
    assert database_fingerprint(read_shop) == before


def test_manual_systems_leave_erasure_pending(
    fresh_shop: str, keyring: Keyring, tmp_path: Path
) -> None:
    text_ = POLICY_FILE.read_text(encoding="utf-8")
    manual = (
        "  - id: paper\n    name: Paper archive\n    connector: manual\n"
        "    manual:\n      instructions: Shred the customer's signed forms.\n"
    )
    policy = parse_policy(text_.replace("\nsystems:\n", "\nsystems:\n" + manual), "p.yaml").policy
    email = sample_subjects_by_role(fresh_shop)["seller"]
    with _service(fresh_shop, policy, keyring, tmp_path) as service:
        report = service.erase([_email(email)])
    assert not report.complete
    assert report.reasons == ["manual system paper: awaiting staff confirmation"]
    assert report.to_dict()["manual"] == [
        {
            "system": "paper",
            "instructions": "Shred the customer's signed forms.",
            "status": "pending",
        }
    ]
    sellers = next(d for d in report.datasets if d.dataset == "sellers")
    assert sellers.rows_matched == 1 and sellers.changed["email"] == 1


# -- command line ----------------------------------------------------------------------------


def test_command_line_plans_packages_exports_and_erases(fresh_shop: str, tmp_path: Path) -> None:
    import base64

    from typer.testing import CliRunner

    from datasteward.cli.fulfil_commands import fulfil_app

    email = sample_subjects_by_role(fresh_shop)["customer"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        POLICY_FILE.read_text(encoding="utf-8").replace(
            "{name: referrer, category: browsing", "{name: referer_url, category: browsing"
        ),
        encoding="utf-8",
    )
    env = {
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_SECRET_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
        "SHOP_DATABASE_URL": fresh_shop,
        "STEWARD_DATABASE_URL": None,
        "STEWARD_KEYSTORE_URL": None,
    }
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(fulfil_app, list(args), env=env)

    subject = ("--subject", f"email:{email}", "--policy", str(POLICY_FILE), "--json")
    planned = run("plan", "--type", "erasure", *subject)
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["ok"] is True

    accessed = run("access", *subject)
    assert accessed.exit_code == 0, accessed.output
    package = json.loads(accessed.stdout)
    assert package["kind"] == "access" and package["download_token"]
    out = tmp_path / "out"
    out.mkdir()
    exported = run("export", package["package_id"], "--out", str(out), "--json")
    assert exported.exit_code == 0, exported.output
    with zipfile.ZipFile(out / f"{package['package_id']}.zip") as archive:
        assert email.encode() in archive.read("data.json")

    refused = run("erase", "--subject", f"email:{email}", "--policy", str(broken), "--json")
    assert refused.exit_code == 2, refused.output
    assert json.loads(refused.stdout)["refused"] is True

    erased = run("erase", *subject)
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout)["complete"] is True
    assert _query(fresh_shop, "SELECT COUNT(*) FROM customers WHERE email = :e", e=email) == [(0,)]
