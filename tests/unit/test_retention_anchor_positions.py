"""Positions of anchor paging as the progress store keeps them: what a run
wrote is read back exactly, and anything else (a position left by key
paging, a damaged value) means "start the unit again", never an error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table

from datasteward.retention.sql_anchor import AnchorPaging, Mark, Position

_TABLE = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("happened_at", DateTime(timezone=True)),
    Column("day", Date()),
)


def _paging(column: str, dialect: str = "postgresql") -> AnchorPaging:
    conditions: Any = SimpleNamespace(dialect=dialect, key=[_TABLE.c.id])
    return AnchorPaging(conditions, _TABLE.c[column])


@pytest.mark.parametrize(
    "position",
    [
        Position(Mark.FROM, datetime(2025, 3, 1, 9, 30, tzinfo=UTC)),
        Position(Mark.AFTER, datetime(2025, 3, 1, 9, 30, 0, 125000, tzinfo=UTC)),
        Position(Mark.TIE, datetime(2025, 3, 1, 9, 30, tzinfo=UTC), (1234,)),
    ],
)
def test_a_written_time_position_reads_back_the_same(position: Position) -> None:
    assert _paging("happened_at").decode(position.encode()) == position


def test_a_date_position_reads_back_as_a_date() -> None:
    position = Position(Mark.TIE, date(1990, 5, 17), (7,))
    assert _paging("day").decode(position.encode()) == position


@pytest.mark.parametrize(
    "stored",
    [
        None,
        (),
        (41,),
        ("41",),
        ("@from",),
        ("@from", "yesterday"),
        ("@sideways", "2025-03-01"),
        ("@tie", "2025-03-01T09:30:00+00:00", 1, 2),
    ],
)
def test_anything_else_starts_the_unit_again(stored: tuple[Any, ...] | None) -> None:
    assert _paging("happened_at").decode(stored) is None


def test_only_innodb_gets_the_key_range_from_the_anchor_index() -> None:
    assert _paging("happened_at", "mariadb").with_keys
    assert _paging("happened_at", "mysql").with_keys
    assert not _paging("happened_at", "postgresql").with_keys
    assert not _paging("happened_at", "sqlite").with_keys


def test_on_sqlite_the_stored_text_is_kept_as_it_is() -> None:
    paging = _paging("happened_at", "sqlite")
    position = Position(Mark.FROM, "2025-03-01 09:30:00")
    assert paging.raw and paging.decode(position.encode()) == position
    assert paging.decode(("@tie", "2025-03-01T09:30", 5)) == Position(
        Mark.TIE, "2025-03-01T09:30", (5,)
    )
