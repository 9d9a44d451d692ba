"""Batches in anchor order end exactly where batches in key order end, on
SQLite, PostgreSQL and MariaDB: the same sweep runs on two copies of the
generated shop, one with the anchor's index (anchor paging) and one without
it (key paging), with many rows sharing one anchor value so that small
batches must work through that value by key, and the two databases must
then be identical, row for row. A date anchor (a DATE column) and a unit
with children are covered the same way; so is a run left behind by key
paging, which anchor paging starts again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, text
from tests.integration.conftest import Engines, build_steward
from tests.integration.databases import scratch_database
from tests.integration.test_retention_sweep import Shop, shop_policy

from datasteward.policy.model import Policy
from datasteward.retention.engine_store import SqlSweepProgress
from datasteward.retention.sql_anchor import Mark
from datasteward.shop import database_fingerprint, load, shop_engine
from datasteward.shop.schema import shop_table

ROWS = 4_000
SEED = 17
TIED = datetime(2025, 3, 1, 9, 30)
"""The anchor many access-log rows share (naive UTC, as the shop stores times)."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with scratch_database(request.param, tmp_path_factory.mktemp("paging"), "ret_p") as url:
        yield url


def _drop_index(shop: Shop, table: str, index: str) -> None:
    dialect = shop.engine.dialect.name
    statement = (
        f"DROP INDEX {index} ON {table}"
        if dialect in {"mysql", "mariadb"}
        else (f"DROP INDEX {index}")
    )
    with shop.engine.begin() as connection:
        connection.execute(text(statement))


def _create_index(shop: Shop, table: str, index: str, column: str) -> None:
    with shop.engine.begin() as connection:
        connection.execute(text(f"CREATE INDEX {index} ON {table} ({column})"))


def _shop(url: str, engines: Engines, home: Path) -> Shop:
    load(url, ROWS, seed=SEED, replace=True)
    home.mkdir()
    steward = build_steward(f"sqlite:///{home / 'engine.sqlite'}", engines, home)
    return Shop(url, shop_engine(url), steward)


def _pick_label(shop: Shop, policy: Policy) -> set[str]:
    plan = shop.plan(policy)
    return {s.label for u in plan.units for s in u.statements if s.label.startswith("pick")}


@dataclass
class Swept:
    """One sweep's outcome: the database's fingerprint afterwards, the
    batches it ran and the plan's pick statements."""

    fingerprint: dict[str, Any]
    batches: int
    picks: set[str]


def _swept(
    url: str,
    engines: Engines,
    home: Path,
    policy: Policy,
    *,
    at: datetime,
    prepare: Callable[[Shop], None],
    index: tuple[str, str, str],
    indexed: bool,
    batch_size: int,
) -> Swept:
    """Load the shop, apply ``prepare``, give the anchor ``index`` or take
    it away, and sweep at ``at`` in batches of ``batch_size``."""
    shop = _shop(url, engines, home)
    try:
        prepare(shop)
        table, name, column = index
        exists = name in {ix["name"] for ix in _indexes(shop, table)}
        if indexed and not exists:
            _create_index(shop, table, name, column)
        elif exists and not indexed:
            _drop_index(shop, table, name)
        shop.at(at)
        picks = _pick_label(shop, policy)
        report = shop.sweep(policy, batch_size=batch_size)
        assert report.complete, report.reasons
        assert sum(u.rows_done for u in report.units) > 0, "the sweep had nothing to do"
        return Swept(database_fingerprint(url), sum(u.batches for u in report.units), picks)
    finally:
        shop.engine.dispose()


def _both(
    url: str, engines: Engines, home: Path, policy: Policy, **kwargs: Any
) -> tuple[Swept, Swept]:
    """The same sweep by key (the anchor without an index), then by anchor;
    the database is left as the second one made it."""
    by_key = _swept(url, engines, home / "key", policy, indexed=False, **kwargs)
    by_anchor = _swept(url, engines, home / "anchor", policy, indexed=True, **kwargs)
    return by_key, by_anchor


def _count(url: str, sql: str, **params: Any) -> int:
    engine = shop_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def _tie_access_log(shop: Shop) -> None:
    """Every third row of the log at one instant: far more than a batch."""
    with shop.engine.begin() as connection:
        connection.execute(
            text("UPDATE access_log SET occurred_at = :tied WHERE MOD(id, 3) = 0"),
            {"tied": TIED},
        )
    assert shop.count("access_log", "occurred_at = :t", t=TIED) > 100


ANCHOR = "pick the next batch by the anchor's index (count, lowest, highest)"
KEYS = "pick the next batch of due keys"
LOG_INDEX = ("access_log", "ix_access_log_occurred_at", "occurred_at")


@pytest.mark.parametrize("rule", ["access-log-ip-7d", "access-log-1y"])
def test_anchor_paging_ends_where_key_paging_ends_with_tied_anchors(
    database: str, engines: Engines, tmp_path: Path, rule: str
) -> None:
    policy = shop_policy({rule})
    at = (TIED + timedelta(days=400)).replace(tzinfo=UTC)
    by_key, by_anchor = _both(
        database,
        engines,
        tmp_path,
        policy,
        at=at,
        prepare=_tie_access_log,
        index=LOG_INDEX,
        batch_size=7,
    )
    assert by_key.picks == {KEYS}
    assert by_anchor.picks == {ANCHOR}
    assert by_anchor.fingerprint == by_key.fingerprint
    assert by_anchor.batches > 100 // 7  # the tied rows went through in batches of 7, by key

    cutoff = at.replace(tzinfo=None) - timedelta(days=7 if "ip" in rule else 365)
    if rule == "access-log-1y":
        due = "occurred_at <= :c"
    else:  # IPv4 addresses end in .0 once shortened, IPv6 ones in ::
        due = "occurred_at <= :c AND ip_address NOT LIKE '%.0' AND ip_address NOT LIKE '%::'"
    assert _count(database, f"SELECT COUNT(*) FROM access_log WHERE {due}", c=cutoff) == 0
    assert _count(database, "SELECT COUNT(*) FROM access_log WHERE occurred_at > :c", c=cutoff)


def _birthdays(shop: Shop) -> None:
    """Invented sellers, twenty born on one day (a date anchor with ties) and
    ten born later, each with two documents."""
    sellers, documents = shop_table("sellers"), shop_table("seller_documents")
    born = [date(1980, 5, 17)] * 20 + [date(2000 + i % 5, 1 + i, 3) for i in range(10)]
    with shop.engine.begin() as connection:
        for i, day in enumerate(born):
            inserted = connection.execute(
                insert(sellers).values(
                    email=f"paging.seller{i}@example.test",
                    legal_name=f"Paging Seller {i}",
                    date_of_birth=day,
                    id_document_type="passport",
                    registered_at=datetime(2024, 1, 1),
                )
            ).inserted_primary_key
            assert inserted is not None
            seller_id = inserted[0]
            for kind in ("passport", "bank"):
                connection.execute(
                    insert(documents).values(
                        seller_id=seller_id,
                        kind=kind,
                        file_name=f"{kind}-{i}.pdf",
                        uploaded_at=datetime(2024, 1, 2),
                    )
                )


def _date_anchored(data: dict[str, Any]) -> None:
    """A rule anchored on a DATE column, over a dataset with children."""
    rule = next(r for r in data["retention_rules"] if r["id"] == "sellers-closed-3m")
    rule["anchor"] = {"event": "collected", "column": "date_of_birth"}
    rule["period"] = "P35Y"


def test_a_date_anchor_with_children_pages_like_keys(
    database: str, engines: Engines, tmp_path: Path
) -> None:
    policy = shop_policy({"sellers-closed-3m"}, _date_anchored)
    at = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    by_key, by_anchor = _both(
        database,
        engines,
        tmp_path,
        policy,
        at=at,
        prepare=_birthdays,
        index=("sellers", "ix_sellers_date_of_birth", "date_of_birth"),
        batch_size=3,
    )
    assert ANCHOR not in by_key.picks
    assert ANCHOR in by_anchor.picks  # the sellers; their documents follow them by key
    assert by_anchor.fingerprint == by_key.fingerprint
    born = "SELECT COUNT(*) FROM sellers WHERE date_of_birth {} :d"
    assert _count(database, born.format("<="), d=date(1991, 11, 2)) == 0
    assert _count(database, born.format(">"), d=date(1991, 11, 2)) == 10
    orphans = (
        "SELECT COUNT(*) FROM seller_documents d WHERE NOT EXISTS "
        "(SELECT 1 FROM sellers s WHERE s.id = d.seller_id)"
    )
    assert _count(database, orphans) == 0


@pytest.mark.parametrize("left_by", ["key", "anchor"])
def test_a_run_left_by_one_paging_order_starts_again_in_the_other(
    database: str, engines: Engines, tmp_path: Path, left_by: str
) -> None:
    """The index is dropped (or created) between a stopped call and the
    next: the unit starts again from its first row in the other order and
    ends as a straight sweep in that order does."""
    policy = shop_policy({"access-log-1y"})
    at = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    by_anchor_first = left_by == "anchor"
    expected = _swept(
        database,
        engines,
        tmp_path / "straight",
        policy,
        at=at,
        prepare=lambda shop: None,
        index=LOG_INDEX,
        indexed=not by_anchor_first,
        batch_size=50,
    ).fingerprint
    shop = _shop(database, engines, tmp_path / "left")
    try:
        shop.at(at)
        if not by_anchor_first:
            _drop_index(shop, *LOG_INDEX[:2])
        report = shop.sweep(policy, batch_size=50, max_seconds=0)  # one batch
        assert report.stopped
        progress = SqlSweepProgress(shop.steward.store).unfinished()
        assert progress and all(
            row.last_key is not None and (row.last_key[0] in set(Mark)) == by_anchor_first
            for row in progress
        )
        if by_anchor_first:
            _drop_index(shop, *LOG_INDEX[:2])
        else:
            _create_index(shop, *LOG_INDEX)
        report = shop.sweep(policy, batch_size=50)
        assert report.resumed and report.complete
        assert database_fingerprint(database) == expected
    finally:
        shop.engine.dispose()


def test_anchors_stored_as_another_application_writes_them_are_all_swept(
    database: str, engines: Engines, tmp_path: Path
) -> None:
    """On SQLite a date-time is text in the writer's format; here without
    microseconds, which SQLAlchemy would add when binding a value read back.
    The first batch is all one anchor value, so it is worked through by key
    and must match the stored text exactly."""
    shop = _shop(database, engines, tmp_path / "s")
    try:
        with shop.engine.begin() as connection:
            connection.execute(text("UPDATE access_log SET occurred_at = '2026-10-30 08:00:00'"))
            connection.execute(
                text(
                    "UPDATE access_log SET occurred_at = '2025-03-01 09:30:00' WHERE MOD(id, 3) = 0"
                )
            )
        tied = shop.count("access_log", "MOD(id, 3) = 0")
        later = shop.count("access_log", "MOD(id, 3) <> 0")
        assert tied > 7 * 10
        shop.at(datetime(2026, 11, 2, 6, 0, tzinfo=UTC))
        policy = shop_policy({"access-log-1y"})
        assert _pick_label(shop, policy) == {ANCHOR}
        report = shop.sweep(policy, batch_size=7)
        assert report.complete
        assert report.units[0].rows_done == tied
        assert report.units[0].batches >= tied // 7
        assert shop.count("access_log", "MOD(id, 3) = 0") == 0
        assert shop.count("access_log", "1 = 1") == later
    finally:
        shop.engine.dispose()


def test_the_plan_shows_anchor_paging_only_where_the_anchor_has_an_index(
    database: str, engines: Engines, tmp_path: Path
) -> None:
    shop = _shop(database, engines, tmp_path / "s")
    try:
        policy = shop_policy({"access-log-1y", "newsletter-events-1y"})
        labels = {u.unit.dataset: {s.label for s in u.statements} for u in shop.plan(policy).units}
        assert ANCHOR in labels["access_log"]
        indexed = any(
            "occurred_at" in str(ix.get("column_names"))
            for ix in _indexes(shop, "newsletter_events")
        )
        assert (ANCHOR in labels["newsletter_events"]) == indexed
    finally:
        shop.engine.dispose()


def _indexes(shop: Shop, table: str) -> list[Any]:
    return list(inspect(shop.engine).get_indexes(table))
