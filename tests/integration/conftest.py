"""A real engine store for each test: SQLite always, PostgreSQL when
``STEWARD_TEST_POSTGRES_URL`` is set (CI sets it; elsewhere those tests skip
with a one-line reason).

``store_url`` gives each test an empty database of its own; on PostgreSQL
that is ``steward_t_<random hex>``, created over an autocommit connection and
dropped afterwards. Tests of the services share one migrated database per
module and backend instead (``migrated_store_url``) and start from an emptied
store, because creating and dropping a PostgreSQL database costs about a
second. Every SQLAlchemy engine a test opens goes through :class:`Engines`
and is disposed before its database is dropped.

``steward`` wires the real services the way the command line does (engine
store, key store, keyring, subject directory, consent ledger) around a
:class:`FixedClock`, with the minimal test policy applied."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, text, update
from sqlalchemy.engine import make_url

from datasteward.audit.chain import GENESIS_HASH
from datasteward.clock import FixedClock
from datasteward.consent.model import Channel, ConsentRecord
from datasteward.consent.service import ConsentLedger
from datasteward.consent.source import SourceDetails
from datasteward.crypto import Keyring, MasterKey
from datasteward.identity import Identity, parse_identity
from datasteward.policy.apply import ApplyResult, apply_policy
from datasteward.policy.loader import parse_policy
from datasteward.store import engine as store_engine
from datasteward.store import migrate
from datasteward.store.engine import make_engine
from datasteward.store.keystore import SqlKeyStore
from datasteward.store.sql_store import SqlEngineStore
from datasteward.store.tables import KEYSTORE_METADATA, METADATA, chain_heads
from datasteward.subjects.service import SubjectDirectory

if TYPE_CHECKING:  # spawned worker processes import this module: keep it light
    from typer.testing import Result

PG_ENV = "STEWARD_TEST_POSTGRES_URL"
MINIMAL = Path(__file__).resolve().parents[1] / "fixtures" / "minimal.yaml"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
"""When every test's clock starts: after the minimal policy's effective date."""

ENGINE_TABLES = tuple(METADATA.tables)
KEYSTORE_TABLES = tuple(KEYSTORE_METADATA.tables)


def postgres_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the server at ``admin_url``; dropped on exit."""
    name = f"steward_t_{secrets.token_hex(6)}"
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.dispose()


class Engines:
    """Makes engines with the store's own rules and disposes all of them."""

    def __init__(self) -> None:
        self._made: list[Engine] = []

    def make(self, url: str, **kwargs: Any) -> Engine:
        engine = make_engine(url, **kwargs)
        self._made.append(engine)
        return engine

    def adopt(self, engine: Engine) -> Engine:
        self._made.append(engine)
        return engine

    def dispose_all(self) -> None:
        while self._made:
            self._made.pop().dispose()


@pytest.fixture
def engines() -> Iterator[Engines]:
    made = Engines()
    try:
        yield made
    finally:
        made.dispose_all()


@pytest.fixture(scope="module")
def module_engines() -> Iterator[Engines]:
    made = Engines()
    try:
        yield made
    finally:
        made.dispose_all()


BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of an empty engine database on ``backend``; skips PostgreSQL
    when no server is configured."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'engine.sqlite'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://user@host/db)")
    with postgres_database(admin) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty engine database, on each supported backend."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def module_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``store_url``, shared by the tests of one module (they must undo their changes)."""
    with empty_database(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


def policy_variant(*edits: tuple[str, str]) -> str:
    """The minimal policy with each ``(old, new)`` text replacement made once."""
    result = MINIMAL.read_text(encoding="utf-8")
    for old, new in edits:
        assert result.count(old) == 1, f"not exactly once in the minimal policy: {old!r}"
        result = result.replace(old, new)
    return result


@dataclass
class Steward:
    """The engine's services over one real store, with a hand-moved clock."""

    url: str
    engine: Engine
    store: SqlEngineStore
    keystore_engine: Engine
    keystore: SqlKeyStore
    keystore_path: Path
    keyring: Keyring
    clock: FixedClock
    directory: SubjectDirectory
    ledger: ConsentLedger

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def apply(
        self, policy_text: str, *, force: bool = False, file: str = "policy.yaml"
    ) -> ApplyResult:
        loaded = parse_policy(policy_text, file)
        return apply_policy(self.store, loaded, actor="test:dpo", clock=self.clock, force=force)

    @staticmethod
    def identity(text_: str) -> Identity:
        return parse_identity(text_, default_region="LV")

    def give(
        self,
        who: str,
        purpose: str = "newsletter",
        *,
        source: SourceDetails | None = None,
        **kwargs: Any,
    ) -> ConsentRecord:
        return self.ledger.give(
            self.identity(who),
            purpose,
            channel=kwargs.pop("channel", Channel.FORM),
            actor=kwargs.pop("actor", "web:signup"),
            source=source,
            **kwargs,
        )

    def subject_of(self, who: str) -> str:
        with self.store.reading() as tx:
            return self.directory.require(tx, self.identity(who))

    def count(self, table: str) -> int:
        engine = self.keystore_engine if table in KEYSTORE_TABLES else self.engine
        metadata = KEYSTORE_METADATA if table in KEYSTORE_TABLES else METADATA
        with engine.connect() as connection:
            query = select(func.count()).select_from(metadata.tables[table])
            return int(connection.execute(query).scalar_one())

    def counts(self) -> dict[str, int]:
        """Rows in every table of the engine store and the key store."""
        return {t: self.count(t) for t in (*ENGINE_TABLES, *KEYSTORE_TABLES)}

    def rows(self, table: str) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            result = connection.execute(select(METADATA.tables[table]))
            return [dict(r._mapping) for r in result]


def build_steward(
    url: str, engines: Engines, home: Path, keyring: Keyring | None = None
) -> Steward:
    """Migrate the store at ``url``, create a key store under ``home``, wire the services."""
    engine = engines.make(url)
    migrate.upgrade(engine)
    keystore_path = home / "keys.sqlite"
    keystore_engine = engines.make(f"sqlite:///{keystore_path}", secure_delete=True)
    migrate.init_keystore(keystore_engine)
    ring = keyring or Keyring([key := MasterKey.generate()], key.kid)
    clock = FixedClock(START)
    keystore = SqlKeyStore(keystore_engine)
    directory = SubjectDirectory(ring, keystore, clock)
    store = SqlEngineStore(engine)
    return Steward(
        url=url,
        engine=engine,
        store=store,
        keystore_engine=keystore_engine,
        keystore=keystore,
        keystore_path=keystore_path,
        keyring=ring,
        clock=clock,
        directory=directory,
        ledger=ConsentLedger(store, directory, clock),
    )


@pytest.fixture(scope="module")
def migrated_store_url(module_store_url: str, module_engines: Engines) -> str:
    """A migrated engine database shared by one module's tests, per backend."""
    migrate.upgrade(module_engines.make(module_store_url))
    return module_store_url


def empty_store(engine: Engine) -> None:
    """Back to a freshly migrated store: no rows, both chain heads at genesis."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in METADATA.sorted_tables if t is not chain_heads)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(METADATA.sorted_tables):
                if table is not chain_heads:
                    connection.execute(delete(table))
        connection.execute(update(chain_heads).values(seq=0, hash=GENESIS_HASH))


@pytest.fixture
def bare_steward(migrated_store_url: str, engines: Engines, tmp_path: Path) -> Steward:
    """Migrated and empty, with a key store of its own; no policy applied yet.

    The database is shared within the module (creating and dropping one per
    test costs a second on PostgreSQL) and emptied before each test."""
    steward = build_steward(migrated_store_url, engines, tmp_path)
    empty_store(steward.engine)
    return steward


@pytest.fixture
def steward(bare_steward: Steward) -> Steward:
    """Migrated, with the minimal policy (``orders`` on contract, ``newsletter``
    on consent, direct marketing) applied as version 1."""
    result = bare_steward.apply(MINIMAL.read_text(encoding="utf-8"), file=str(MINIMAL))
    assert result.version == 1
    return bare_steward


CLEAN_ENV: dict[str, str | None] = {
    "STEWARD_HOME": None,
    "STEWARD_DATABASE_URL": None,
    "STEWARD_KEYSTORE_URL": None,
    "STEWARD_SECRET_KEY": None,
    "STEWARD_ACTOR": "test:cli",
}
"""The environment every command-line run gets: nothing from the developer's shell."""


class CliRun(Protocol):
    def __call__(
        self, *args: str, database_url: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result: ...


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, engines: Engines, tmp_path: Path) -> Iterator[CliRun]:
    """Run ``steward --home <tmp> ARGS``; its engines are disposed after the test."""
    from typer.testing import CliRunner

    from datasteward.cli.main import app

    # Commands import ``make_engine`` when they run: hand them the tracking one.
    monkeypatch.setattr(store_engine, "make_engine", engines.make)
    runner = CliRunner()
    home = tmp_path / "cli-home"

    def run(
        *args: str, database_url: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        environment = {**CLEAN_ENV, "STEWARD_DATABASE_URL": database_url, **(env or {})}
        return runner.invoke(app, ["--home", str(home), *args], env=environment)

    yield run
