"""Migrations: the schema Alembic builds is exactly the one the queries are
written against, it can be taken down and rebuilt, and a fresh store starts
with both chain heads at genesis."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from tests.integration.conftest import Engines

from datasteward.audit import GENESIS_HASH
from datasteward.audit.service import verify_store
from datasteward.store import migrate
from datasteward.store.sql_store import SqlEngineStore
from datasteward.store.tables import KEYSTORE_METADATA, METADATA, chain_heads

ALEMBIC_VERSION = "alembic_version"


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def heads(engine: Engine) -> set[tuple[str, int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(chain_heads.c.chain, chain_heads.c.seq, chain_heads.c.hash)
        )
        return {(r.chain, int(r.seq), r.hash) for r in rows}


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, METADATA))


def test_upgrade_downgrade_upgrade(store_url: str, engines: Engines) -> None:
    engine = engines.make(store_url)
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert table_names(engine) == set(METADATA.tables) | {ALEMBIC_VERSION}

    migrate.downgrade(engine)
    assert migrate.current_revision(engine) is None
    assert table_names(engine) == {ALEMBIC_VERSION}

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert table_names(engine) == set(METADATA.tables) | {ALEMBIC_VERSION}
    assert schema_differences(engine) == []
    assert heads(engine) == {("audit", 0, GENESIS_HASH), ("consent", 0, GENESIS_HASH)}


def test_migrated_schema_matches_the_table_definitions(store_url: str, engines: Engines) -> None:
    engine = engines.make(store_url)
    migrate.upgrade(engine)
    assert schema_differences(engine) == []


def test_upgrade_twice_changes_nothing(store_url: str, engines: Engines) -> None:
    engine = engines.make(store_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert heads(engine) == {("audit", 0, GENESIS_HASH), ("consent", 0, GENESIS_HASH)}


def test_fresh_store_verifies_with_empty_chains(store_url: str, engines: Engines) -> None:
    engine = engines.make(store_url)
    migrate.upgrade(engine)
    results = verify_store(SqlEngineStore(engine))
    assert set(results) == {"audit", "consent"}
    for result in results.values():
        assert result.ok
        assert result.checked == 0
        assert result.head is not None
        assert (result.head.seq, result.head.hash) == (0, GENESIS_HASH)


def test_key_store_schema(store_url: str, engines: Engines) -> None:
    """The key store is one table, created directly; creating it twice is harmless."""
    engine = engines.make(store_url)
    migrate.init_keystore(engine)
    migrate.init_keystore(engine)
    assert table_names(engine) == set(KEYSTORE_METADATA.tables)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert list(compare_metadata(context, KEYSTORE_METADATA)) == []
