"""The example shop: deterministic generation, identical loads into SQLite,
PostgreSQL and MariaDB, consistent data, valid identifiers, and a policy
that lints clean and names only columns the shop has.

SQLite always runs. PostgreSQL runs when ``STEWARD_TEST_POSTGRES_URL`` is set
and MariaDB when ``STEWARD_TEST_MARIADB_URL`` is set (an admin URL each);
every test module gets databases ``shop_t_<hex>`` of its own, dropped
afterwards.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable
from stdnum import iban as stdnum_iban
from stdnum.bg import egn as stdnum_bg
from stdnum.ee import ik as stdnum_ee
from stdnum.lv import pvn as stdnum_lv
from stdnum.pl import pesel as stdnum_pl
from tests.integration.databases import scratch_database

from datasteward.errors import Conflict, InvalidIdentity, UsageError
from datasteward.identity import normalise_identity
from datasteward.lint import lint_policy
from datasteward.policy import load_policy_file
from datasteward.shop import (
    DEFAULT_NOW,
    SAMPLE_ROLES,
    SHOP_METADATA,
    TABLE_NAMES,
    add_heavy_customer,
    database_fingerprint,
    fingerprint_batches,
    generate,
    load,
    sample_subjects,
    sample_subjects_by_role,
    shop_engine,
    table_counts,
)
from datasteward.shop.__main__ import main
from datasteward.shop.identifiers import (
    bg_egn,
    ee_lt_personal_code,
    iban,
    lv_personal_code,
    pl_pesel,
)
from datasteward.shop.people import ipv6_text
from datasteward.shop.schema import shop_table

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "shop" / "policy.yaml"
ROWS = 20_000
BACKENDS = ["sqlite", "postgresql", "mariadb"]

Rows = dict[str, list[tuple[Any, ...]]]


# -- databases ------------------------------------------------------------------------------


def _empty_database(backend: str, directory: Path) -> AbstractContextManager[str]:
    return scratch_database(backend, directory, "shop_t")


@pytest.fixture(scope="module")
def generated() -> Rows:
    """Every generated row of the test shop, by table."""
    rows: Rows = {name: [] for name in TABLE_NAMES}
    for batch in generate(ROWS):
        rows[batch.table].extend(batch.rows)
    return rows


@pytest.fixture(scope="module")
def expected(generated: Rows) -> dict[str, Any]:
    return fingerprint_batches(generated.items())


@pytest.fixture(scope="module", params=BACKENDS)
def shop_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The URL of a database holding the test shop, on each backend."""
    with _empty_database(request.param, tmp_path_factory.mktemp("shop")) as url:
        result = load(url, ROWS, batch=4_000)
        assert result.total_rows == ROWS
        yield url


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.sqlite'}"
    load(url, ROWS)
    return url


@contextmanager
def _connect(url: str) -> Iterator[Any]:
    engine = shop_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _columns(rows: Rows, table: str, *names: str) -> list[tuple[Any, ...]]:
    positions = [[c.name for c in shop_table(table).columns].index(n) for n in names]
    return [tuple(row[p] for p in positions) for row in rows[table]]


# -- generation -----------------------------------------------------------------------------

GOLDEN_1000 = "28bfabd68ea46e03ceaba0499558a5166de6aa301eee34a647f04e0a36ec2b9d"


def _digest(fingerprint: dict[str, Any]) -> str:
    text_ = "".join(f"{t}:{d.rows}:{d.sha256}\n" for t, d in sorted(fingerprint.items()))
    return hashlib.sha256(text_.encode()).hexdigest()


def test_generation_is_deterministic_whatever_the_batch_size() -> None:
    first = fingerprint_batches((b.table, b.rows) for b in generate(5_000, seed=7, batch=333))
    again = fingerprint_batches((b.table, b.rows) for b in generate(5_000, seed=7))
    other = fingerprint_batches((b.table, b.rows) for b in generate(5_000, seed=8))
    assert first == again
    assert first != other
    assert {t: d.rows for t, d in first.items()} != {t: d.rows for t, d in other.items()}


def test_generation_is_pinned() -> None:
    """The rows of a given seed and size never change unnoticed, on any
    machine: update the digest only when changing the generator on purpose."""
    fingerprint = fingerprint_batches((b.table, b.rows) for b in generate(1_000))
    assert _digest(fingerprint) == GOLDEN_1000


def test_batches_come_parents_first_in_id_order() -> None:
    seen: dict[str, int] = {}
    for batch in generate(3_000, batch=100):
        assert 1 <= len(batch.rows) <= 100
        ids = [row[0] for row in batch.rows]
        first = seen.get(batch.table, 0) + 1
        assert ids == list(range(first, first + len(ids)))
        seen[batch.table] = ids[-1]
        for fk in shop_table(batch.table).foreign_keys:
            parent = fk.column.table.name
            position = [c.name for c in shop_table(batch.table).columns].index(fk.parent.name)
            referenced = [row[position] for row in batch.rows if row[position] is not None]
            assert max(referenced, default=0) <= seen.get(parent, 0), (batch.table, parent)


def test_sizes_are_exact_and_realistic(generated: Rows) -> None:
    counts = {table: len(rows) for table, rows in generated.items()}
    assert sum(counts.values()) == ROWS
    assert counts == table_counts(ROWS)
    assert max(counts, key=lambda t: counts[t]) == "access_log"
    customers = counts["customers"]
    assert 1.3 < counts["addresses"] / customers < 1.7
    assert counts["orders"] == round(3 * customers)
    assert 2.2 < counts["order_items"] / counts["orders"] < 2.8
    assert 0.85 < counts["payments"] / counts["orders"] < 1.05
    assert 3 < counts["newsletter_events"] / counts["newsletter_subscribers"] < 8
    assert counts["sellers"] >= 1 and counts["seller_documents"] >= counts["sellers"]
    closed = sum(1 for (c,) in _columns(generated, "customers", "closed_at") if c)
    assert 0.04 < closed / customers < 0.12
    linked = sum(1 for (c,) in _columns(generated, "newsletter_subscribers", "customer_id") if c)
    assert 0.5 < linked / counts["newsletter_subscribers"] < 0.7
    resolved = sum(1 for (r,) in _columns(generated, "contact_messages", "resolved_at") if r)
    assert 0.6 < resolved / counts["contact_messages"] < 0.95
    per_customer = Counter(c for (c,) in _columns(generated, "orders", "customer_id"))
    assert max(per_customer.values()) >= 8, "regular customers have many orders"
    assert len(per_customer) < customers, "some customers never ordered"


def test_too_small_or_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least 1,000 rows"):
        next(generate(999))
    with pytest.raises(UsageError, match="batch size"):
        next(generate(5_000, batch=0))
    with pytest.raises(UsageError, match="not oracle"):
        shop_engine("oracle://scott@localhost/orcl")
    with pytest.raises(UsageError, match="not a database URL"):
        shop_engine("no url at all")
    with pytest.raises(UsageError, match="at least"):
        load(f"sqlite:///{tmp_path / 'shop.sqlite'}", 10)
    assert not (tmp_path / "shop.sqlite").exists(), "refused before touching the database"


# -- data that holds together ---------------------------------------------------------------


def test_times_follow_each_other(generated: Rows) -> None:
    now = DEFAULT_NOW
    customers = {
        cid: (created, closed)
        for cid, created, closed in _columns(
            generated, "customers", "id", "created_at", "closed_at"
        )
    }
    for created, closed in customers.values():
        assert created < now and (closed is None or created < closed < now)
    assert min(c for c, _ in customers.values()) < now - timedelta(days=365 * 10)
    orders = {}
    for oid, cid, created in _columns(generated, "orders", "id", "customer_id", "created_at"):
        signed_up, closed = customers[cid]
        assert signed_up <= created <= (closed or now)
        orders[oid] = created
    totals: Counter[int] = Counter()
    for oid, quantity, price in _columns(
        generated, "order_items", "order_id", "quantity", "unit_price"
    ):
        totals[oid] += quantity * price
    for oid, total in _columns(generated, "orders", "id", "total"):
        assert isinstance(total, Decimal) and total == totals[oid] and total > 0
    for oid, amount, paid in _columns(generated, "payments", "order_id", "amount", "paid_at"):
        assert orders[oid] <= paid <= now
        assert abs(amount) == totals[oid]
    log = _columns(generated, "access_log", "occurred_at")
    assert log == sorted(log), "the access log is written in time order"
    assert log[0][0] >= now - timedelta(days=2 * 366)
    recent = sum(1 for (moment,) in log if moment > now - timedelta(days=7))
    assert 0 < recent < len(log), "rows on both sides of the 7-day boundary"
    windows = {
        sid: (subscribed, ended or now)
        for sid, subscribed, ended in _columns(
            generated, "newsletter_subscribers", "id", "subscribed_at", "unsubscribed_at"
        )
    }
    assert all(start <= end <= now for start, end in windows.values())
    for sid, moment in _columns(generated, "newsletter_events", "subscriber_id", "occurred_at"):
        assert windows[sid][0] <= moment <= windows[sid][1]


def test_identities_are_unique(generated: Rows) -> None:
    for table, column in (
        ("customers", "email"),
        ("customers", "phone"),
        ("customers", "national_id"),
        ("newsletter_subscribers", "email"),
        ("sellers", "email"),
        ("sellers", "national_id"),
    ):
        values = [v for (v,) in _columns(generated, table, column) if v is not None]
        assert len(values) == len(set(values)), (table, column)
    customers = {e for (e,) in _columns(generated, "customers", "email")}
    sellers = {e for (e,) in _columns(generated, "sellers", "email")}
    assert not customers & sellers
    linked = dict(_columns(generated, "customers", "id", "email"))
    for email, cid in _columns(generated, "newsletter_subscribers", "email", "customer_id"):
        assert (email in customers) == (cid is not None)
        assert cid is None or linked[cid] == email


def test_identifiers_are_valid(generated: Rows) -> None:
    """Every personal code, phone number, email and IBAN passes the engine's
    own validators (python-stdnum, libphonenumber, email-validator)."""
    people = _columns(generated, "customers", "country", "national_id", "phone", "email")
    people += _seller_identities(generated)
    codes: Counter[str] = Counter()
    for country, code, phone, email in people:
        if code is not None:
            assert normalise_identity(f"national_id.{country.lower()}", code) == code
            codes[country] += 1
        if phone is not None:
            assert normalise_identity("phone", phone) == phone.replace(" ", "")
        assert normalise_identity("email", email) == email
        assert email.endswith(".example"), "no generated address can reach a real mailbox"
    assert set(codes) == {"LV", "LT", "EE", "PL", "BG"}
    spaced = sum(1 for _, _, phone, _ in people if phone and " " in phone)
    assert 0 < spaced < len(people)
    ibans = [v for (v,) in _columns(generated, "payments", "payer_iban") if v]
    ibans += [v for (v,) in _columns(generated, "sellers", "iban")]
    assert len(ibans) > 100
    for value in ibans:
        assert stdnum_iban.validate(value) == value
    providers = Counter(p for (p,) in _columns(generated, "payments", "provider"))
    assert set(providers) == {"paypal", "klarna", "stripe", "bank_transfer"}
    for provider, payer_iban, last4 in _columns(
        generated, "payments", "provider", "payer_iban", "card_last4"
    ):
        assert (payer_iban is not None) == (provider == "bank_transfer")
        assert (last4 is not None) == (provider == "stripe")
        assert last4 is None or (len(last4) == 4 and last4.isdigit())


_CALLING_CODES = {"+371": "LV", "+370": "LT", "+372": "EE", "+48": "PL", "+359": "BG"}


def _seller_identities(generated: Rows) -> list[tuple[Any, ...]]:
    """(country, personal code, phone, email) of sellers; the table has no
    country column, the country follows from the phone number."""
    out = []
    for code, phone, email in _columns(generated, "sellers", "national_id", "phone", "email"):
        country = next((c for p, c in _CALLING_CODES.items() if phone.startswith(p)), "other")
        out.append((country, code, phone, email))
    return out


_BIRTH_DATE_OF = {
    "LV": stdnum_lv.get_birth_date,
    "BG": stdnum_bg.get_birth_date,
    "EE": stdnum_ee.get_birth_date,
    "LT": stdnum_ee.get_birth_date,  # one scheme for both
    "PL": stdnum_pl.get_birth_date,
}


def test_seller_birth_dates_match_personal_codes(generated: Rows) -> None:
    checked = 0
    for (country, code, _, _), (birth,) in zip(
        _seller_identities(generated), _columns(generated, "sellers", "date_of_birth"), strict=True
    ):
        assert isinstance(birth, date) and date(1950, 1, 1) <= birth <= date(2006, 12, 31)
        if code is None or code.startswith("32"):  # Latvian codes since 2017 encode no date
            continue
        assert _BIRTH_DATE_OF[country](code) == birth
        checked += 1
    assert checked >= 1


def test_check_digits_are_computed_here_and_accepted_there() -> None:
    """The check-digit code of the generator against the engine's validators,
    over many birth dates, serials and both sexes."""
    day = date(1950, 1, 1)
    for step in range(0, 20_000, 13):
        birth = day + timedelta(days=step * 3 % 20_800)
        serial = step % 1000
        female = step % 2 == 1
        assert normalise_identity("national_id.bg", bg_egn(birth, serial))
        for kind in ("ee", "lt"):
            code = ee_lt_personal_code(birth, female, serial)
            assert normalise_identity(f"national_id.{kind}", code) == code
        assert normalise_identity("national_id.pl", pl_pesel(birth, female, serial))
        lv = lv_personal_code(birth, serial)
        if lv is not None:
            assert normalise_identity("national_id.lv", lv) == lv
        for country in ("LV", "BG", "EE", "LT", "PL"):
            stdnum_iban.validate(iban(country, step, step * 7_919_191))
    bad = lv_personal_code(date(1990, 5, 17), 123)
    assert bad is not None
    wrong = bad[:-1] + str((int(bad[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentity, match="check digit"):
        normalise_identity("national_id.lv", wrong)


def test_ip_addresses_are_canonical(generated: Rows) -> None:
    seen: Counter[int] = Counter()
    for (value,) in _columns(generated, "access_log", "ip_address"):
        address = ipaddress.ip_address(value)
        assert str(address) == value
        seen[address.version] += 1
    assert seen[4] > seen[6] > 0
    for value in (0, 1, 1 << 127, (1 << 128) - 1, 0x2A02_0000_0000_0000_0000_0000_0000_0001):
        assert ipv6_text(value) == str(ipaddress.IPv6Address(value))


# -- loading --------------------------------------------------------------------------------


def test_load_gives_the_generated_content(shop_url: str, expected: dict[str, Any]) -> None:
    """Every backend holds exactly the generated rows: same counts, same hash."""
    assert database_fingerprint(shop_url) == expected


def test_foreign_keys_are_declared_and_hold(shop_url: str) -> None:
    engine = shop_engine(shop_url)
    try:
        inspector = inspect(engine)
        with engine.connect() as connection:
            for table in SHOP_METADATA.sorted_tables:
                declared = {
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(table.name)
                }
                for fk in table.foreign_keys:
                    assert ((fk.parent.name,), fk.column.table.name) in declared
                    parent = fk.column.table
                    orphans = connection.execute(
                        select(func.count())
                        .select_from(table.outerjoin(parent, fk.parent == fk.column))
                        .where(fk.parent.is_not(None), fk.column.is_(None))
                    ).scalar_one()
                    assert orphans == 0, f"{table.name}.{fk.parent.name}"
    finally:
        engine.dispose()
    # Loading PostgreSQL adds its foreign keys after the rows; that must not
    # keep a later CREATE TABLE (SQLite, MariaDB) from declaring them inline.
    ddl = str(CreateTable(shop_table("addresses")).compile(dialect=sqlite.dialect()))
    assert "FOREIGN KEY(customer_id) REFERENCES customers (id)" in ddl


def test_lookup_columns_are_indexed(shop_url: str) -> None:
    engine = shop_engine(shop_url)
    try:
        inspector = inspect(engine)
        for table in SHOP_METADATA.sorted_tables:
            found = {
                (tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table.name)
            }
            for index in table.indexes:
                assert (tuple(c.name for c in index.columns), bool(index.unique)) in found
    finally:
        engine.dispose()
    for table in SHOP_METADATA.sorted_tables:
        indexed = {c.name for index in table.indexes for c in index.columns}
        lookups = {c.name for c in table.columns if c.foreign_keys or c.name == "email"}
        assert lookups <= indexed, table.name


def test_new_rows_get_fresh_ids(shop_url: str) -> None:
    """After the bulk load (COPY with explicit ids on PostgreSQL) the next id
    the database hands out follows the loaded ones."""
    customers = shop_table("customers")
    with _connect(shop_url) as connection:
        transaction = connection.begin()
        try:
            highest = connection.execute(select(func.max(customers.c.id))).scalar_one()
            result = connection.execute(
                customers.insert().values(
                    email="ana.berzina@zala-plava.example", created_at=DEFAULT_NOW
                )
            )
            assert result.inserted_primary_key[0] == highest + 1
        finally:
            transaction.rollback()


def test_sample_subjects_are_the_same_everywhere(shop_url: str, sqlite_url: str) -> None:
    samples = sample_subjects_by_role(shop_url)
    assert list(samples) == list(SAMPLE_ROLES)
    assert samples == sample_subjects_by_role(sqlite_url)
    assert sample_subjects(shop_url) == list(samples.values())
    with _connect(shop_url) as connection:
        customer = connection.execute(
            text(
                "SELECT c.closed_at, COUNT(o.id) FROM customers c "
                "JOIN orders o ON o.customer_id = c.id WHERE c.email = :e GROUP BY c.closed_at"
            ),
            {"e": samples["customer"]},
        ).one()
        assert customer[0] is None and customer[1] >= 5
        closed = connection.execute(
            text("SELECT closed_at FROM customers WHERE email = :e"),
            {"e": samples["closed_customer"]},
        ).scalar_one()
        assert closed is not None
        subscriber = connection.execute(
            text("SELECT customer_id FROM newsletter_subscribers WHERE email = :e"),
            {"e": samples["subscriber"]},
        ).one()
        assert subscriber[0] is None


def test_existing_tables_are_kept_unless_replaced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    load(url, 1_000)
    first = database_fingerprint(url)
    with pytest.raises(Conflict, match="replace"):
        load(url, 1_000, seed=2)
    assert database_fingerprint(url) == first
    load(url, 1_000, seed=2, replace=True)
    assert database_fingerprint(url) != first
    expected_ = fingerprint_batches((b.table, b.rows) for b in generate(1_000, seed=2))
    assert database_fingerprint(url) == expected_


@pytest.mark.parametrize("backend", BACKENDS)
def test_heavy_customer_owns_exactly_the_rows_asked_for(backend: str, tmp_path: Path) -> None:
    with _empty_database(backend, tmp_path) as url:
        load(url, 1_000)
        before = {t: d.rows for t, d in database_fingerprint(url).items()}
        email = add_heavy_customer(url, rows=3_000)
        with _connect(url) as connection:
            customer_id = connection.execute(
                text("SELECT id FROM customers WHERE email = :e"), {"e": email}
            ).scalar_one()
            owned = {
                "customers": 1,
                "addresses": _count(connection, "addresses", customer_id),
                "orders": _count(connection, "orders", customer_id),
                "access_log": _count(connection, "access_log", customer_id),
                "order_items": connection.execute(
                    text(
                        "SELECT COUNT(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
                        "WHERE o.customer_id = :c"
                    ),
                    {"c": customer_id},
                ).scalar_one(),
                "payments": connection.execute(
                    text(
                        "SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id "
                        "WHERE o.customer_id = :c"
                    ),
                    {"c": customer_id},
                ).scalar_one(),
            }
        assert sum(owned.values()) == 3_000
        assert owned["orders"] == owned["order_items"] == owned["payments"] == 100
        after = {t: d.rows for t, d in database_fingerprint(url).items()}
        assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == owned
        assert email not in {e for e in sample_subjects(url)}


def _count(connection: Any, table: str, customer_id: int) -> int:
    query = text(f"SELECT COUNT(*) FROM {table} WHERE customer_id = :c")
    return int(connection.execute(query, {"c": customer_id}).scalar_one())


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert main(["--rows", "1000", "--url", url, "--seed", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "loaded 1,000 rows into sqlite" in out
    assert "access_log" in out and "sample subjects:" in out
    assert str(tmp_path) not in out, "the URL is never printed"
    assert main(["--rows", "1000", "--url", url, "--quiet"]) == 3
    assert "--replace" in capsys.readouterr().err
    assert main(["--rows", "1000", "--url", url, "--replace", "--heavy", "60", "--quiet"]) == 0
    assert "heavy customer (60 rows)" in capsys.readouterr().out


# -- the policy that maps the shop ----------------------------------------------------------


def test_policy_lints_clean() -> None:
    findings = lint_policy(load_policy_file(POLICY))
    assert findings == [], [str(f) for f in findings]


def test_policy_names_only_what_the_shop_has(shop_url: str) -> None:
    policy = load_policy_file(POLICY).policy
    engine = shop_engine(shop_url)
    try:
        inspector = inspect(engine)
        columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in TABLE_NAMES}
    finally:
        engine.dispose()
    (system,) = policy.systems
    assert system.url_env == "SHOP_DATABASE_URL"
    datasets = {d.name: d for d in system.datasets}
    assert set(datasets) == set(TABLE_NAMES), "every table is mapped"

    def has(table: str, column: str) -> bool:
        return column in columns[table]

    for name, dataset in datasets.items():
        table = dataset.table or name
        for column in dataset.primary_key:
            assert has(table, column), (name, column)
        for identity in dataset.identity_fields:
            assert has(table, identity.field), (name, identity.field)
        for relation in dataset.relations:
            target, column = relation.references.split(".")
            assert has(table, relation.field) and has(target, column), (name, relation)
        if dataset.restriction_flag:
            assert has(table, dataset.restriction_flag)
        for field in dataset.fields:
            assert has(table, field.name), (name, field.name)
    assert datasets["customers"].restriction_flag == "restricted"
    for name, dataset in datasets.items():
        table = shop_table(name)
        indexed = {index.columns[0].name for index in table.indexes}
        indexed |= {c.name for c in table.primary_key.columns}
        for identity in dataset.identity_fields:
            assert identity.field in indexed, f"{name}.{identity.field} is looked up, not indexed"
        for relation in dataset.relations:
            assert relation.field in indexed, f"{name}.{relation.field} is looked up, not indexed"
    for item in (*policy.retention_rules, *policy.legal_holds):
        tables = [ref.dataset for ref in item.datasets]
        assert tables, item.id
        if item.anchor.column:
            assert any(has(t, item.anchor.column) for t in tables), item.id
        for field in getattr(item, "fields", []):
            table, _, column = field.rpartition(".")
            assert any(has(t, column) for t in ([table] if table else tables)), (item.id, field)
    personal = {(d.name, f.name) for d in system.datasets for f in d.fields}
    for name in ("ip_address", "signup_ip", "email", "national_id", "iban", "phone"):
        for table in TABLE_NAMES:
            if has(table, name) and name != "signup_ip":
                assert (table, name) in personal, f"{table}.{name} is personal data"
