"""Create and migrate the engine store with Alembic, programmatically.

``steward init`` calls :func:`upgrade`; tests call :func:`downgrade` too. The
key store is a single table in its own database and is created directly."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from datasteward.store.tables import KEYSTORE_METADATA

__all__ = ["current_revision", "downgrade", "head_revision", "init_keystore", "upgrade"]

SCRIPT_LOCATION = "datasteward.store:migrations"


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config_without_engine()).get_current_head()


def _config_without_engine() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def init_keystore(engine: Engine) -> None:
    KEYSTORE_METADATA.create_all(engine, checkfirst=True)
