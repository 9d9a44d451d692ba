"""Alembic environment: runs migrations on the engine handed over in
``config.attributes["engine"]`` (no alembic.ini, no URL in a file)."""

from __future__ import annotations

from alembic import context

from datasteward.store.tables import METADATA

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
