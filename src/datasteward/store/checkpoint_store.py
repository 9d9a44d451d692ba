"""Erasure checkpoints in the engine store's ``dataset_checkpoints`` table
(implements ``datasteward.fulfilment.checkpoints.Checkpoints``).

One row per (request, system, dataset), written after the company
database's transaction for that system has committed, holding the dataset's
report entry as JSON (counts and field names, never a value from the
company's data). Each record is its own short transaction on the engine
store, so a checkpoint once written survives whatever happens next."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from datasteward.clock import Clock
from datasteward.legaltime.instants import format_time
from datasteward.store.engine import READONLY
from datasteward.store.tables import dataset_checkpoints

__all__ = ["DONE", "SqlCheckpoints"]

DONE = "done"
"""The state of a dataset whose erasure committed."""


class SqlCheckpoints:
    """Checkpoints of erasure requests on the engine store."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def done(self, request_id: str, system: str, dataset: str) -> dict[str, Any] | None:
        table = dataset_checkpoints
        query = select(table.c.result).where(
            and_(
                table.c.request_id == request_id,
                table.c.system == system,
                table.c.dataset == dataset,
                table.c.state == DONE,
            )
        )
        with self.engine.connect() as connection:
            connection.execution_options(**READONLY)
            with connection.begin():
                text = connection.execute(query).scalar_one_or_none()
        if text is None:
            return None
        found = json.loads(text)
        return found if isinstance(found, dict) else None

    def record(self, request_id: str, system: str, dataset: str, result: dict[str, Any]) -> None:
        table = dataset_checkpoints
        values = {
            "state": DONE,
            "result": json.dumps(result, sort_keys=True),
            "at": format_time(self.clock.now()),
        }
        where = and_(
            table.c.request_id == request_id,
            table.c.system == system,
            table.c.dataset == dataset,
        )
        with self.engine.begin() as connection:
            if connection.execute(update(table).where(where).values(**values)).rowcount:
                return
            connection.execute(
                insert(table).values(
                    request_id=request_id, system=system, dataset=dataset, **values
                )
            )

    def recorded(self, request_id: str) -> list[tuple[str, str, str]]:
        """``(system, dataset, at)`` of every checkpoint of a request, for audits."""
        table = dataset_checkpoints
        query = (
            select(table.c.system, table.c.dataset, table.c.at)
            .where(table.c.request_id == request_id)
            .order_by(table.c.at, table.c.system, table.c.dataset)
        )
        with self.engine.connect() as connection:
            connection.execution_options(**READONLY)
            with connection.begin():
                return [(str(s), str(d), str(a)) for s, d, a in connection.execute(query)]
