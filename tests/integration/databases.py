"""Scratch databases for integration tests: a fresh database on the configured
PostgreSQL or MariaDB server (skipped with a one-line reason when its URL is
not set), or a new SQLite file, dropped again on exit."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "STEWARD_TEST_POSTGRES_URL"
MARIADB_ENV = "STEWARD_TEST_MARIADB_URL"


@contextmanager
def server_database(backend: str, prefix: str) -> Iterator[str]:
    """A fresh database ``<prefix>_<hex>`` on the configured server, dropped on exit."""
    env = PG_ENV if backend == "postgresql" else MARIADB_ENV
    admin_url = os.environ.get(env)
    if not admin_url:
        pytest.skip(f"{backend} tests need {env} (an admin URL of a test server)")
    name = f"{prefix}_{secrets.token_hex(6)}"
    quote = '"' if backend == "postgresql" else "`"
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {quote}{name}{quote}")
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                if backend == "postgresql":
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    )
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{name}{quote}")
    finally:
        admin.dispose()


@contextmanager
def scratch_database(backend: str, directory: Path, prefix: str) -> Iterator[str]:
    """An empty database of ``backend`` (sqlite, postgresql or mariadb)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{prefix}-{secrets.token_hex(4)}.sqlite'}"
    else:
        with server_database(backend, prefix) as url:
            yield url
