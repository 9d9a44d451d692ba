"""The SQL connector against the generated example shop: it finds exactly one
person's rows (compared with hand-written SQL), streams them with flat
memory, erases them as the policy says without touching anyone else's rows,
counts the values an operator refuses, checks the database against the
policy, and never lets a name from the policy into SQL unchecked.

SQLite always runs. PostgreSQL runs when ``STEWARD_TEST_POSTGRES_URL`` is set
and MariaDB when ``STEWARD_TEST_MARIADB_URL`` is set (admin URLs); each
module run creates databases ``conn_t_<hex>`` of its own and drops them.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Connection,
    bindparam,
    event,
    select,
    text,
)
from tests.integration.databases import scratch_database, server_database

from datasteward.connectors import (
    ConnectorError,
    ErasureResult,
    Severity,
    SqlConnector,
    SystemCheck,
    erasure_order,
    identity_values,
)
from datasteward.connectors.personal import classify_values, personal_name
from datasteward.errors import error_body
from datasteward.fulfilment import ColumnKind, operator_for
from datasteward.fulfilment.locate import SubjectScope, locate
from datasteward.fulfilment.operators import DeleteRow, KeyedHash, SetNull, TruncateIp
from datasteward.policy import load_policy_file, parse_policy
from datasteward.policy.model import ConnectorKind, Policy, System
from datasteward.shop import (
    MIN_ROWS,
    TABLE_NAMES,
    add_heavy_customer,
    load,
    sample_subjects_by_role,
    shop_engine,
)
from datasteward.shop.schema import shop_table

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "shop" / "policy.yaml"
ROWS = 20_000
SEED = 4242
KEY = b"connector test erasure key, 32 b"
BACKENDS = ["sqlite", "postgresql", "mariadb"]
URL_ENV = "SHOP_DATABASE_URL"

# -- databases ------------------------------------------------------------------------------


def _database(backend: str, directory: Path) -> AbstractContextManager[str]:
    return scratch_database(backend, directory, "conn_t")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def shop_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loaded shop that only reading tests use."""
    with _database(backend, tmp_path_factory.mktemp("read")) as url:
        load(url, ROWS, seed=SEED)
        yield url


@pytest.fixture(scope="module")
def erasure_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second copy of the same shop, for tests that change it (each picks
    subjects of its own)."""
    with _database(backend, tmp_path_factory.mktemp("erase")) as url:
        load(url, ROWS, seed=SEED)
        yield url


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_file(POLICY).policy


@pytest.fixture(scope="module")
def system(policy: Policy) -> System:
    return policy.systems[0]


@pytest.fixture(scope="module")
def connector(shop_url: str, system: System) -> Iterator[SqlConnector]:
    with SqlConnector.from_env(system, {URL_ENV: shop_url}) as made:
        yield made


@pytest.fixture(scope="module")
def eraser(erasure_url: str, system: System) -> Iterator[SqlConnector]:
    with SqlConnector.from_env(system, {URL_ENV: erasure_url}) as made:
        yield made


@pytest.fixture(scope="module")
def subjects(shop_url: str) -> dict[str, str]:
    return sample_subjects_by_role(shop_url)


@contextmanager
def _plain(url: str) -> Iterator[Connection]:
    """A connection of the test's own, outside the connector."""
    engine = shop_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


# -- reference SQL: one person's rows, written by hand --------------------------------------

REFERENCE = {
    "customers": "SELECT c.id FROM customers c WHERE c.email IN :emails",
    "addresses": (
        "SELECT a.id FROM addresses a JOIN customers c ON c.id = a.customer_id "
        "WHERE c.email IN :emails"
    ),
    "orders": (
        "SELECT o.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id "
        "WHERE o.billing_email IN :emails OR c.email IN :emails"
    ),
    "order_items": (
        "SELECT i.id FROM order_items i JOIN orders o ON o.id = i.order_id "
        "LEFT JOIN customers c ON c.id = o.customer_id "
        "WHERE o.billing_email IN :emails OR c.email IN :emails"
    ),
    "payments": (
        "SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id "
        "LEFT JOIN customers c ON c.id = o.customer_id "
        "WHERE o.billing_email IN :emails OR c.email IN :emails"
    ),
    "newsletter_subscribers": (
        "SELECT s.id FROM newsletter_subscribers s LEFT JOIN customers c ON c.id = s.customer_id "
        "WHERE s.email IN :emails OR c.email IN :emails"
    ),
    "newsletter_events": (
        "SELECT e.id FROM newsletter_events e JOIN newsletter_subscribers s "
        "ON s.id = e.subscriber_id LEFT JOIN customers c ON c.id = s.customer_id "
        "WHERE s.email IN :emails OR c.email IN :emails"
    ),
    "contact_messages": "SELECT m.id FROM contact_messages m WHERE m.email IN :emails",
    "access_log": (
        "SELECT l.id FROM access_log l JOIN customers c ON c.id = l.customer_id "
        "WHERE c.email IN :emails"
    ),
    "sellers": "SELECT v.id FROM sellers v WHERE v.email IN :emails",
    "seller_documents": (
        "SELECT d.id FROM seller_documents d JOIN sellers v ON v.id = d.seller_id "
        "WHERE v.email IN :emails"
    ),
}


def _reference_ids(connection: Connection, emails: Sequence[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for table, sql in REFERENCE.items():
        statement = text(f"{sql} ORDER BY 1").bindparams(bindparam("emails", expanding=True))
        result = connection.execute(statement, {"emails": list(emails)})
        found[table] = [int(i) for i in result.scalars()]
    return found


def _rows_by_id(connection: Connection, table: str, ids: Sequence[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    t = shop_table(table)
    result = connection.execute(select(t).where(t.c.id.in_(list(ids))).order_by(t.c.id))
    return [dict(row._mapping) for row in result]


def _digest_except(connection: Connection, skip: dict[str, list[int]]) -> dict[str, str]:
    """A SHA-256 of every row of every shop table, leaving out the rows in ``skip``."""
    digests: dict[str, str] = {}
    for name in TABLE_NAMES:
        t = shop_table(name)
        left_out = set(skip.get(name, ()))
        hasher = hashlib.sha256()
        for row in connection.execute(select(t).order_by(t.c.id)):
            if row.id not in left_out:
                hasher.update(repr(tuple(row)).encode("utf-8"))
        digests[name] = hasher.hexdigest()
    return digests


def _emails(subjects: dict[str, str]) -> list[str]:
    """One invented person who used several addresses: a customer, a
    newsletter subscriber, a correspondent and a seller at once."""
    return [subjects[role] for role in ("customer", "subscriber", "correspondent", "seller")]


# -- finding and reading one person's rows -------------------------------------------------


def test_counts_match_hand_written_sql(
    connector: SqlConnector, system: System, shop_url: str, subjects: dict[str, str]
) -> None:
    emails = _emails(subjects)
    identities = {"email": emails}
    scope = locate(system, identities)
    with connector.connect(readonly=True) as conn:
        counts = connector.count_rows(conn, scope, identities)
    with _plain(shop_url) as plain:
        expected = {name: len(ids) for name, ids in _reference_ids(plain, emails).items()}
    assert counts == expected
    assert all(n > 0 for n in expected.values()), expected  # every dataset is exercised


def test_streamed_rows_equal_the_reference_rows(
    connector: SqlConnector, system: System, shop_url: str, subjects: dict[str, str]
) -> None:
    emails = _emails(subjects)
    identities = {"email": emails}
    scope = locate(system, identities)
    with _plain(shop_url) as plain:
        reference = {
            name: _rows_by_id(plain, name, ids)
            for name, ids in _reference_ids(plain, emails).items()
        }
    with connector.connect(readonly=True) as conn:
        for name, expected in reference.items():
            columns = list(connector.columns(name))
            streamed = list(connector.stream_rows(conn, scope, name, identities, columns, batch=3))
            assert streamed == expected, name


def test_an_abandoned_stream_does_not_block_the_connection(
    connector: SqlConnector, system: System, subjects: dict[str, str]
) -> None:
    """MariaDB's unbuffered cursor holds the connection until its rows are
    read; the connector closes a half-read stream before the next statement."""
    identities = {"email": [subjects["customer"]]}
    scope = locate(system, identities)
    with connector.connect(readonly=True) as conn:
        first = connector.count_rows(conn, scope, identities)
        rows = connector.stream_rows(conn, scope, "order_items", identities, ["id"], batch=2)
        next(rows)
        assert connector.count_rows(conn, scope, identities) == first
        rows = connector.stream_rows(conn, scope, "order_items", identities, ["id"], batch=2)
        next(rows)
    assert first["order_items"] > 2
    with pytest.raises(ConnectorError, match="closed before it was read to the end"):
        list(rows)


def test_a_subject_is_found_by_phone_national_id_and_customer_number(
    connector: SqlConnector, system: System, shop_url: str
) -> None:
    with _plain(shop_url) as plain:
        row = plain.execute(
            text(
                "SELECT id, email, phone, national_id FROM customers "
                "WHERE country = 'LV' AND national_id IS NOT NULL ORDER BY id LIMIT 1"
            )
        ).one()
        orders = plain.execute(
            text("SELECT COUNT(*) FROM orders WHERE customer_id = :id"), {"id": row.id}
        ).scalar_one()
    with connector.connect(readonly=True) as conn:
        for identities in (
            {"national_id.lv": [row.national_id]},
            {"phone": [row.phone]},
            {"customer_id": [str(row.id)]},
        ):
            scope = locate(system, identities)
            counts = connector.count_rows(conn, scope, identities)
            assert counts["customers"] == 1, identities
            assert counts["orders"] == orders, identities
            rows = list(connector.stream_rows(conn, scope, "customers", identities, ["email"]))
            assert rows == [{"email": row.email}]
        # Text that is no number, or too long a number, can equal no integer
        # id: nothing found, and no error from the database.
        identities = {"customer_id": ["not-a-number", "9" * 30]}
        counts = connector.count_rows(conn, locate(system, identities), identities)
        assert counts["customers"] == 0


def test_no_identity_values_select_nothing(connector: SqlConnector, system: System) -> None:
    identities: dict[str, list[str]] = {"email": []}
    scope = locate(system, identities)
    with connector.connect(readonly=True) as conn:
        counts = connector.count_rows(conn, scope, identities)
        assert set(counts) == {loc.dataset for loc in scope.locators}
        assert set(counts.values()) == {0}
        assert list(connector.stream_rows(conn, scope, "orders", identities, ["id"])) == []


def test_national_id_matches_take_every_country() -> None:
    identities = {"national_id.lv": ["010101-12345"], "national_id.ee": ["38001010000"]}
    assert identity_values("national_id", identities) == ["010101-12345", "38001010000"]
    assert identity_values("national_id.lv", identities) == ["010101-12345"]
    assert identity_values("email", {"email": ["a@b.lv", "a@b.lv"]}) == ["a@b.lv"]
    assert identity_values("email", {"email": "a@b.lv"}) == ["a@b.lv"]


def test_columns_are_described_for_the_operators(connector: SqlConnector, backend: str) -> None:
    customers = connector.columns("customers")
    id_bits = 64 if backend == "sqlite" else 32
    assert customers["id"].kind is ColumnKind.INTEGER and customers["id"].length == id_bits
    assert customers["id"].primary_key and customers["id"].referenced_by
    email = customers["email"]
    assert (email.kind, email.length, email.nullable, email.unique) == (
        ColumnKind.STRING,
        254,
        False,
        True,
    )
    assert customers["phone"].nullable and not customers["phone"].unique
    assert customers["restricted"].kind is ColumnKind.BOOLEAN  # TINYINT(1) on MariaDB
    assert customers["created_at"].kind is ColumnKind.DATETIME
    access_log = connector.columns("access_log")
    assert access_log["id"].length == 64
    assert access_log["customer_id"].foreign_key and not access_log["customer_id"].referenced_by
    assert connector.columns("contact_messages")["message"].kind is ColumnKind.TEXT
    assert connector.columns("orders")["total"].kind is ColumnKind.DECIMAL
    assert connector.columns("sellers")["date_of_birth"].kind is ColumnKind.DATE
    assert connector.columns("newsletter_subscribers")["id"].referenced_by


# -- systems check --------------------------------------------------------------------------


def test_check_of_the_shop_policy_is_ok(connector: SqlConnector) -> None:
    report = connector.check()
    assert isinstance(report, SystemCheck)
    assert report.ok and report.errors == []
    assert report.problems == []
    body = report.to_dict()
    assert json.loads(json.dumps(body))["ok"] is True
    assert body["system"] == "shop"


def _edited(*edits: tuple[str, str]) -> System:
    text_ = POLICY.read_text(encoding="utf-8")
    for old, new in edits:
        assert text_.count(old) == 1, old
        text_ = text_.replace(old, new)
    return parse_policy(text_, "policy.yaml").policy.systems[0]


def test_check_reports_each_mismatch_precisely(connector: SqlConnector) -> None:
    system = _edited(
        (
            "      - name: contact_messages\n",
            "      - name: contact_messages\n        table: contact_form\n",
        ),
        (
            "{name: first_name, category: name, erasure: set_null}",
            "{name: given_name, category: name, erasure: set_null}",
        ),
        (
            "description: Orders; source documents under the Accounting Law.\n"
            "        primary_key: [id]",
            "description: Orders; source documents under the Accounting Law.\n"
            "        primary_key: [billing_email]",
        ),
        (
            "relations: [{field: customer_id, references: customers.id}]\n"
            "        fields:\n          - {name: billing_name",
            "relations: [{field: customer_id, references: customers.id}, "
            "{field: billing_email, references: customers.email}]\n"
            "        fields:\n          - {name: billing_name",
        ),
        (
            "description: Payments and refunds of orders.\n        primary_key: [id]\n"
            "        relations: [{field: order_id, references: orders.id}]",
            "description: Payments and refunds of orders.\n        primary_key: [id]\n"
            "        relations: [{field: order_id, references: orders.id}, "
            "{field: provider, references: orders.id}]",
        ),
    )
    report = connector.check(system)
    assert not report.ok
    found = {(p.severity, p.dataset, p.column): p.message for p in report.problems}
    expected = {
        (Severity.ERROR, "contact_messages", ""),
        (Severity.ERROR, "customers", "given_name"),
        (Severity.ERROR, "orders", "billing_email"),
        (Severity.WARNING, "orders", "billing_email"),
        (Severity.ERROR, "payments", "provider"),
        (Severity.WARNING, "payments", "provider"),  # no index
        # first_name is now undeclared, and its name says it is personal
        (Severity.WARNING, "customers", "first_name"),
    }
    assert set(found) == expected
    assert "table 'contact_form' does not exist" in found[(Severity.ERROR, "contact_messages", "")]
    assert (
        "'given_name' is not a column of table 'customers'"
        in found[(Severity.ERROR, "customers", "given_name")]
    )
    assert (
        "(billing_email) differs from the primary key"
        in found[(Severity.ERROR, "orders", "billing_email")]
    )
    assert "no matching foreign key" in found[(Severity.WARNING, "orders", "billing_email")]
    assert (
        "joins string values with integer values" in found[(Severity.ERROR, "payments", "provider")]
    )
    assert "no index starts with it" in found[(Severity.WARNING, "payments", "provider")]


def test_check_flags_undeclared_personal_columns(
    erasure_url: str, system: System, backend: str
) -> None:
    with _plain(erasure_url) as plain:
        plain.exec_driver_sql("ALTER TABLE customers ADD COLUMN personal_note_email VARCHAR(254)")
        plain.exec_driver_sql("ALTER TABLE customers ADD COLUMN iban_backup VARCHAR(34)")
        plain.exec_driver_sql("ALTER TABLE customers ADD COLUMN shoe_size VARCHAR(10)")
        plain.exec_driver_sql("UPDATE customers SET personal_note_email = email, shoe_size = '42'")
        emails = list(plain.execute(text("SELECT email FROM customers")).scalars())
    try:
        with SqlConnector.from_env(system, {URL_ENV: erasure_url}) as fresh:
            report = fresh.check()
    finally:
        with _plain(erasure_url) as plain:
            for column in ("personal_note_email", "iban_backup", "shoe_size"):
                plain.exec_driver_sql(f"ALTER TABLE customers DROP COLUMN {column}")
    assert report.ok
    flagged = {p.column: p.message for p in report.warnings if p.dataset == "customers"}
    assert set(flagged) == {"personal_note_email", "iban_backup"}
    assert "its name suggests personal data ('email')" in flagged["personal_note_email"]
    assert "200 of 200 sampled values look like email addresses" in flagged["personal_note_email"]
    assert "its name suggests personal data ('iban')" in flagged["iban_backup"]
    dumped = json.dumps(report.to_dict())
    assert not any(email in dumped for email in emails)


def test_personal_looking_names_and_values() -> None:
    assert personal_name("personal_note_email") == "email"
    assert personal_name("contactEmail") == "email"
    assert personal_name("customeremail") == "email"
    assert personal_name("IP_Address") in {"ip", "ip_address"}
    assert personal_name("dateOfBirth") == "birth"
    assert personal_name("pipeline") is None
    assert personal_name("zipper") is None
    assert personal_name("shoe_size") is None
    ibans = ["LV80BANK0000435195001", "EE382200221020145685", "not an iban"]
    verdict = classify_values(ibans)
    assert verdict is not None and (verdict.kind, verdict.matched, verdict.sampled) == (
        "IBANs",
        2,
        3,
    )
    assert classify_values(["203.0.113.7", "2001:db8::1"]) is not None
    assert classify_values(["+371 26 021 986", "+48 720 353 545"]) is not None
    assert classify_values(["12345678", "hello", "42"]) is None
    assert classify_values(["ana@example.lv", "x", "y"]) is None  # not most


# -- identifiers from the policy never reach SQL unchecked ---------------------------------


@contextmanager
def _statements(connector: SqlConnector) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(connector.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connector.engine, "before_cursor_execute", record)


def test_injected_table_and_column_names_are_missing_and_nothing_runs(
    shop_url: str, subjects: dict[str, str]
) -> None:
    system = _edited(
        (
            "      - name: customers\n        description: Customer accounts.\n",
            "      - name: customers\n        table: 'customers; DROP TABLE orders'\n"
            "        description: Customer accounts.\n",
        ),
        (
            "        identity_fields: [{field: email, kind: email}]\n        fields:\n"
            "          - {name: email, category: email, erasure: keyed_hash}\n"
            "          - {name: name,",
            "        identity_fields: [{field: 'email OR 1=1', kind: email}]\n        fields:\n"
            "          - {name: email, category: email, erasure: keyed_hash}\n"
            "          - {name: name,",
        ),
    )
    identities = {"email": [subjects["customer"], subjects["correspondent"]]}
    scope = locate(system, identities)
    with _plain(shop_url) as plain:
        orders_before = plain.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
    with SqlConnector.from_env(system, {URL_ENV: shop_url}) as hostile:
        report = hostile.check()
        errors = {(p.dataset, p.column) for p in report.errors}
        assert ("customers", "") in errors
        assert ("contact_messages", "email OR 1=1") in errors
        hostile.columns("orders")  # reflection done; from here on every statement counts
        with hostile.connect(readonly=True) as conn, _statements(hostile) as seen:
            with pytest.raises(ConnectorError, match="does not exist"):
                hostile.count_rows(conn, scope, identities)
            with pytest.raises(ConnectorError, match="column 'email OR 1=1' does not exist"):
                hostile.stream_rows(conn, scope, "contact_messages", identities, ["id"])
            with pytest.raises(ConnectorError, match="does not exist"):
                hostile.apply_erasure(
                    conn, scope, "orders", identities, [("billing_email", KeyedHash("e", KEY))]
                )
            assert seen == []
    with _plain(shop_url) as plain:
        assert plain.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == orders_before


# -- connecting -----------------------------------------------------------------------------


def test_the_url_comes_from_the_named_variable(system: System, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="environment variable SHOP_DATABASE_URL is not set"):
        SqlConnector.from_env(system, {})
    with pytest.raises(ConnectorError) as caught:
        SqlConnector.from_env(system, {URL_ENV: "hunter2 is no url"})
    assert "hunter2" not in caught.value.message
    assert error_body(caught.value) == {
        "error": {
            "code": "connector_error",
            "message": caught.value.message,
            "problems": [
                {
                    "message": caught.value.message,
                    "path": "",
                    "file": None,
                    "line": None,
                    "column": None,
                }
            ],
        }
    }
    manual = system.model_copy(update={"connector": ConnectorKind.MANUAL})
    with pytest.raises(ConnectorError, match="connector: manual"):
        SqlConnector.from_env(manual, {URL_ENV: "sqlite://"})
    url = f"sqlite:///{tmp_path / 'absent' / 'shop.sqlite'}"
    with (
        SqlConnector.from_env(system, {URL_ENV: url}) as unreachable,
        pytest.raises(ConnectorError, match="cannot connect to system 'shop'"),
    ):
        unreachable.check()


# -- erasure --------------------------------------------------------------------------------


def _policy_actions(system: System, dataset: str) -> list[tuple[str, Any]]:
    fields = next(d for d in system.datasets if d.name == dataset).fields
    return [(f.name, operator_for(f, hash_key=KEY)) for f in fields]


def _erase(
    connector: SqlConnector, system: System, identities: dict[str, list[str]]
) -> tuple[SubjectScope, dict[str, ErasureResult]]:
    scope = locate(system, identities)
    results: dict[str, ErasureResult] = {}
    with connector.connect() as conn:
        for name in erasure_order(scope):
            actions = _policy_actions(system, name)
            results[name] = connector.apply_erasure(conn, scope, name, identities, actions)
    return scope, results


def _hashed(value: str, connector: SqlConnector, dataset: str, column: str) -> object:
    return KeyedHash(column, KEY).operate(value, connector.columns(dataset)[column])


def _truncated(value: str, connector: SqlConnector, dataset: str) -> object:
    return TruncateIp("ip_address").operate(value, connector.columns(dataset)["ip_address"])


def test_erasure_of_a_customer_follows_the_policy_and_spares_everyone_else(
    eraser: SqlConnector, system: System, erasure_url: str
) -> None:
    with _plain(erasure_url) as plain:
        email = plain.execute(
            text(
                "SELECT c.email FROM customers c WHERE c.phone IS NOT NULL "
                "AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) "
                "AND EXISTS (SELECT 1 FROM addresses a WHERE a.customer_id = c.id) "
                "AND EXISTS (SELECT 1 FROM access_log l WHERE l.customer_id = c.id) "
                "AND EXISTS (SELECT 1 FROM contact_messages m WHERE m.email = c.email) "
                "AND EXISTS (SELECT 1 FROM newsletter_subscribers s WHERE s.customer_id = c.id "
                "  AND EXISTS (SELECT 1 FROM newsletter_events e WHERE e.subscriber_id = s.id)) "
                "ORDER BY c.id LIMIT 1"
            )
        ).scalar_one()
        ids = _reference_ids(plain, [email])
        before = {name: _rows_by_id(plain, name, ids[name]) for name in ids}
        others_before = _digest_except(plain, ids)

    _, results = _erase(eraser, system, {"email": [email]})

    assert {name: r.rows_matched for name, r in results.items()} == {
        name: len(found) for name, found in ids.items()
    }
    assert all(r.complete for r in results.values())
    with _plain(erasure_url) as plain:
        after = {name: _rows_by_id(plain, name, ids[name]) for name in ids}
        assert _digest_except(plain, ids) == others_before

    # keyed_hash: one email, one hash, in every table: joins on it still work
    digest = _hashed(email, eraser, "customers", "email")
    assert digest != email
    (customer,) = after["customers"]
    assert customer["email"] == digest
    assert {o["billing_email"] for o in after["orders"]} == {digest}
    assert {m["email"] for m in after["contact_messages"]} == {digest}
    assert results["orders"].changed == {"billing_email": len(ids["orders"])}
    # set_null
    for column in ("first_name", "last_name", "phone", "country"):
        assert customer[column] is None, column
    assert customer["created_at"] == before["customers"][0]["created_at"]
    assert results["customers"].changed["phone"] == 1
    # delete_row, children first: the subscription and its events are gone
    for name in ("addresses", "newsletter_subscribers", "newsletter_events"):
        assert after[name] == [], name
        assert results[name].rows_deleted == len(ids[name]) > 0
    # keep: orders, items and payments otherwise unchanged
    for name in ("order_items", "payments"):
        assert after[name] == before[name]
    for old, new in zip(before["orders"], after["orders"], strict=True):
        assert {**old, "billing_email": digest} == new
    # truncate_ip, set_value, set_null on the access log
    for old, new in zip(before["access_log"], after["access_log"], strict=True):
        assert new["ip_address"] == _truncated(old["ip_address"], eraser, "access_log")
        assert (new["user_agent"], new["path"], new["referrer"], new["customer_id"]) == (
            "-",
            "-",
            None,
            None,
        )
        assert new["occurred_at"] == old["occurred_at"]
    for old, new in zip(before["contact_messages"], after["contact_messages"], strict=True):
        assert new["ip_address"] == _truncated(old["ip_address"], eraser, "contact_messages")
        assert (new["name"], new["message"]) == (None, None)
    # Nothing of theirs is found any more.
    identities = {"email": [email]}
    with eraser.connect(readonly=True) as conn:
        counts = eraser.count_rows(conn, locate(system, identities), identities)
    assert set(counts.values()) == {0}


def test_erasure_of_a_seller_generalises_the_birth_date(
    eraser: SqlConnector, system: System, erasure_url: str
) -> None:
    with _plain(erasure_url) as plain:
        email = plain.execute(
            text(
                "SELECT v.email FROM sellers v WHERE v.iban IS NOT NULL "
                "AND EXISTS (SELECT 1 FROM seller_documents d WHERE d.seller_id = v.id) "
                "ORDER BY v.id DESC LIMIT 1"
            )
        ).scalar_one()
        ids = _reference_ids(plain, [email])
        (seller_before,) = _rows_by_id(plain, "sellers", ids["sellers"])
        others_before = _digest_except(plain, ids)

    _, results = _erase(eraser, system, {"email": [email]})

    with _plain(erasure_url) as plain:
        (seller,) = _rows_by_id(plain, "sellers", ids["sellers"])
        assert _rows_by_id(plain, "seller_documents", ids["seller_documents"]) == []
        assert _digest_except(plain, ids) == others_before
    born: date = seller_before["date_of_birth"]
    assert seller["date_of_birth"] == date(born.year, 1, 1)
    assert seller["legal_name"] == "(erased)"
    assert seller["email"] == _hashed(email, eraser, "sellers", "email")
    for column in ("phone", "iban", "id_document_number", "national_id"):
        assert seller[column] is None, column
    assert seller["id_document_type"] == "erased"
    assert results["seller_documents"].rows_deleted == len(ids["seller_documents"]) > 0
    assert results["sellers"].changed["iban"] == 1


def test_a_value_the_operator_refuses_is_counted_not_skipped(
    eraser: SqlConnector, system: System, erasure_url: str
) -> None:
    with _plain(erasure_url) as plain:
        customer_id, email = plain.execute(
            text(
                "SELECT c.id, c.email FROM customers c "
                "WHERE (SELECT COUNT(*) FROM access_log l WHERE l.customer_id = c.id) >= 3 "
                "ORDER BY c.id DESC LIMIT 1"
            )
        ).one()
        log_ids = list(
            plain.execute(
                text("SELECT id FROM access_log WHERE customer_id = :c ORDER BY id"),
                {"c": customer_id},
            ).scalars()
        )
        plain.execute(
            text("UPDATE access_log SET ip_address = 'not-an-ip' WHERE id = :id"),
            {"id": log_ids[0]},
        )
        before = _rows_by_id(plain, "access_log", log_ids)
        others_before = _digest_except(plain, {"access_log": log_ids})
    identities = {"email": [email]}
    scope = locate(system, identities)
    with eraser.connect() as conn:
        result = eraser.apply_erasure(
            conn, scope, "access_log", identities, [("ip_address", TruncateIp("ip_address"))]
        )
    assert result.refused == {"ip_address": 1}
    assert not result.complete
    assert result.rows_matched == len(log_ids)
    expected_changes = sum(
        1
        for row in before[1:]
        if _truncated(row["ip_address"], eraser, "access_log") != row["ip_address"]
    )
    assert result.changed == {"ip_address": expected_changes}
    with _plain(erasure_url) as plain:
        after = _rows_by_id(plain, "access_log", log_ids)
        assert _digest_except(plain, {"access_log": log_ids}) == others_before
    assert after[0]["ip_address"] == "not-an-ip"  # left as it was, and reported
    for old, new in zip(before[1:], after[1:], strict=True):
        assert new["ip_address"] == _truncated(old["ip_address"], eraser, "access_log")


def test_constants_on_the_columns_the_subject_is_found_by(
    eraser: SqlConnector, system: System, erasure_url: str
) -> None:
    """set_null on the very column the rows were found by, next to another
    column: one statement (or keys read first), so no row is lost half-way."""
    with _plain(erasure_url) as plain:
        row = plain.execute(
            text(
                "SELECT id, phone FROM customers WHERE phone IS NOT NULL "
                "AND first_name IS NOT NULL ORDER BY id DESC LIMIT 1"
            )
        ).one()
        others_before = _digest_except(plain, {"customers": [row.id]})
    identities = {"phone": [row.phone]}
    scope = locate(system, identities)
    with eraser.connect() as conn:
        result = eraser.apply_erasure(
            conn,
            scope,
            "customers",
            identities,
            [("phone", SetNull("phone")), ("first_name", SetNull("first_name"))],
        )
    assert (result.rows_matched, result.changed) == (1, {"phone": 1, "first_name": 1})
    with _plain(erasure_url) as plain:
        (after,) = _rows_by_id(plain, "customers", [row.id])
        assert _digest_except(plain, {"customers": [row.id]}) == others_before
    assert (after["phone"], after["first_name"]) == (None, None)


def test_two_datasets_in_one_table(
    eraser: SqlConnector, erasure_url: str, subjects: dict[str, str]
) -> None:
    """A sub-select of a table inside a statement on the same table reads the
    table, not the outer row; MariaDB, which cannot select from the table it
    updates, gets the keys first."""
    system = _edited(
        (
            "      - name: addresses\n",
            "      - name: customer_names\n        table: customers\n"
            "        relations: [{field: id, references: customers.id}]\n"
            "        fields:\n          - {name: first_name, category: name, erasure: set_null}\n"
            "      - name: addresses\n",
        ),
    )
    email = subjects["closed_customer"]
    identities = {"email": [email]}
    scope = locate(system, identities)
    located = scope.locator("customer_names")
    assert located is not None and [link.target for link in located.links] == ["customers"]
    with _plain(erasure_url) as plain:
        customer_id = plain.execute(
            text("SELECT id FROM customers WHERE email = :e"), {"e": email}
        ).scalar_one()
        others_before = _digest_except(plain, {"customers": [customer_id]})
    with SqlConnector.from_env(system, {URL_ENV: erasure_url}) as shared:
        with shared.connect() as conn:
            assert shared.count_rows(conn, scope, identities)["customer_names"] == 1
            rows = shared.stream_rows(conn, scope, "customer_names", identities, ["id"])
            assert list(rows) == [{"id": customer_id}]
            result = shared.apply_erasure(
                conn, scope, "customer_names", identities, [("first_name", SetNull("first_name"))]
            )
        assert (result.rows_matched, result.changed) == (1, {"first_name": 1})
    with _plain(erasure_url) as plain:
        (after,) = _rows_by_id(plain, "customers", [customer_id])
        assert _digest_except(plain, {"customers": [customer_id]}) == others_before
    assert after["first_name"] is None and after["email"] == email


def test_a_parent_deleted_before_its_children_is_refused_and_rolled_back(
    eraser: SqlConnector, system: System, erasure_url: str
) -> None:
    with _plain(erasure_url) as plain:
        email = plain.execute(
            text(
                "SELECT s.email FROM newsletter_subscribers s WHERE s.customer_id IS NULL "
                "AND EXISTS (SELECT 1 FROM newsletter_events e WHERE e.subscriber_id = s.id) "
                "ORDER BY s.id DESC LIMIT 1"
            )
        ).scalar_one()
        ids = _reference_ids(plain, [email])
    identities = {"email": [email]}
    scope = locate(system, identities)
    order = erasure_order(scope)
    assert order.index("newsletter_events") < order.index("newsletter_subscribers")
    with pytest.raises(ConnectorError) as caught, eraser.connect() as conn:
        eraser.apply_erasure(
            conn,
            scope,
            "newsletter_subscribers",
            identities,
            [("email", DeleteRow("email"))],
        )
    assert email not in caught.value.message
    assert "dataset 'newsletter_subscribers'" in caught.value.message
    with _plain(erasure_url) as plain:
        assert _rows_by_id(plain, "newsletter_subscribers", ids["newsletter_subscribers"])


def test_an_action_that_cannot_apply_stops_everything_before_it_runs(
    eraser: SqlConnector, system: System, subjects: dict[str, str]
) -> None:
    identities = {"email": [subjects["customer"]]}
    scope = locate(system, identities)
    with eraser.connect() as conn, _statements(eraser) as seen:
        with pytest.raises(ConnectorError, match=r"'email' is NOT NULL, so set_null cannot apply"):
            eraser.apply_erasure(
                conn, scope, "customers", identities, [("email", SetNull("email"))]
            )
        assert seen == []


def test_erasure_order_puts_children_first(system: System) -> None:
    scope = locate(system, {"email": ["ana.berzina@example.lv"]})
    order = erasure_order(scope)
    assert sorted(order) == sorted(loc.dataset for loc in scope.locators)
    for dataset in system.datasets:
        for relation in dataset.relations:
            parent = relation.references.split(".")[0]
            assert order.index(dataset.name) < order.index(parent), (dataset.name, parent)


# -- one subject with 200,000 rows streams with flat memory --------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_heavy_subject_streams_with_flat_memory(system: System) -> None:
    if not Path("/proc/self/statm").exists():
        pytest.skip("measuring memory needs /proc (Linux)")
    with server_database("postgresql", "conn_t") as url:
        load(url, MIN_ROWS, seed=SEED)
        email = add_heavy_customer(url, 223_000, seed=SEED)
        with _plain(url) as plain:
            expected = plain.execute(
                text(
                    "SELECT COUNT(*) FROM access_log l JOIN customers c "
                    "ON c.id = l.customer_id WHERE c.email = :e"
                ),
                {"e": email},
            ).scalar_one()
        assert expected >= 200_000
        identities = {"email": [email]}
        scope = locate(system, identities)
        with SqlConnector.from_env(system, {URL_ENV: url}) as heavy:
            columns = list(heavy.columns("access_log"))
            gc.collect()
            baseline = peak = _rss_bytes()
            streamed = 0
            with heavy.connect(readonly=True) as conn:
                for _row in heavy.stream_rows(conn, scope, "access_log", identities, columns):
                    streamed += 1
                    if streamed % 5_000 == 0:
                        peak = max(peak, _rss_bytes())
        assert streamed == expected
        assert peak - baseline < 100 * 2**20, f"grew by {(peak - baseline) / 2**20:.0f} MiB"


def test_deletes_on_mariadb_go_by_keys_read_first(
    eraser: SqlConnector, system: System, erasure_url: str, backend: str
) -> None:
    """MariaDB's DELETE cannot use an index through a sub-select (it scans the
    whole table), so there the keys are read first; elsewhere one DELETE
    with the sub-select does it."""
    with _plain(erasure_url) as plain:
        email = plain.execute(
            text(
                "SELECT s.email FROM newsletter_subscribers s WHERE s.customer_id IS NULL "
                "AND EXISTS (SELECT 1 FROM newsletter_events e WHERE e.subscriber_id = s.id) "
                "ORDER BY s.id LIMIT 1"
            )
        ).scalar_one()
        ids = _reference_ids(plain, [email])
    identities = {"email": [email]}
    scope = locate(system, identities)
    with eraser.connect() as conn, _statements(eraser) as seen:
        result = eraser.apply_erasure(
            conn, scope, "newsletter_events", identities, [("kind", DeleteRow("kind"))]
        )
    assert result.rows_deleted == len(ids["newsletter_events"]) > 0
    deletes = [s for s in seen if s.lstrip().upper().startswith("DELETE")]
    if backend == "mariadb":
        assert deletes and all("SELECT" not in s.upper() for s in deletes)
    else:
        assert len(deletes) == 1 and "SELECT" in deletes[0].upper()
    with _plain(erasure_url) as plain:
        assert _rows_by_id(plain, "newsletter_events", ids["newsletter_events"]) == []
