"""The engine's one text form of instants: fixed width, UTC, exact round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datasteward.legaltime.instants import format_time, parse_time

MOMENTS = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(MOMENTS, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_round_trip_and_fixed_width(moment: datetime, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = format_time(local)
    assert len(text) == 27 and text.endswith("Z")
    assert text == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert parse_time(text) == moment


@given(MOMENTS, MOMENTS)
def test_text_order_is_time_order(a: datetime, b: datetime) -> None:
    assert (format_time(a) < format_time(b)) == (a < b)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 1, 31, 9, 0))


@pytest.mark.parametrize("text", ["2026-01-31T09:00:00Z", "2026-01-31 09:00:00.000000Z", ""])
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)
