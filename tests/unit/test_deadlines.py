"""Response deadlines (Art. 12(3), Regulation 1182/71): pinned month-end
cases and a property check over every day of several years against an
independent calendar computation."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datasteward.legaltime import IsoDuration
from datasteward.legaltime.deadlines import deadlines, local_day, zone

RIGA = ZoneInfo("Europe/Riga")
ONE = IsoDuration.parse("P1M")
TWO = IsoDuration.parse("P2M")


def at_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=RIGA)


@pytest.mark.parametrize(
    ("received", "due", "extended"),
    [
        (date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30)),
        (date(2028, 1, 31), date(2028, 2, 29), date(2028, 4, 30)),
        (date(2026, 1, 30), date(2026, 2, 28), date(2026, 4, 30)),
        (date(2026, 1, 29), date(2026, 2, 28), date(2026, 4, 29)),
        (date(2028, 1, 29), date(2028, 2, 29), date(2028, 4, 29)),
        (date(2026, 3, 31), date(2026, 4, 30), date(2026, 6, 30)),
        (date(2026, 5, 31), date(2026, 6, 30), date(2026, 8, 31)),
        (date(2026, 11, 30), date(2026, 12, 30), date(2027, 2, 28)),
        (date(2026, 12, 31), date(2027, 1, 31), date(2027, 3, 31)),
        (date(2026, 2, 28), date(2026, 3, 28), date(2026, 5, 28)),
        (date(2028, 2, 29), date(2028, 3, 29), date(2028, 5, 29)),
        (date(2026, 8, 15), date(2026, 9, 15), date(2026, 11, 15)),
    ],
)
def test_month_end_cases(received: date, due: date, extended: date) -> None:
    result = deadlines(at_noon(received), RIGA, ONE, TWO)
    assert (result.start, result.due, result.extended) == (received, due, extended)


def test_the_day_of_receipt_is_the_controllers_day() -> None:
    # 23:30 UTC on 31 January is already 1 February in Riga (UTC+2).
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert local_day(late, RIGA) == date(2026, 2, 1)
    assert deadlines(late, RIGA, ONE, TWO).due == date(2026, 3, 1)
    assert deadlines(late, ZoneInfo("UTC"), ONE, TWO).due == date(2026, 2, 28)


def test_naive_times_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        local_day(datetime(2026, 1, 31, 12, 0), RIGA)
    with pytest.raises(ValueError, match="Europe/Atlantis"):
        zone("Europe/Atlantis")


def independent_months_later(day: date, months: int) -> date:
    """Count months forward one at a time with calendar.monthrange."""
    year, month = day.year, day.month
    for _ in range(months):
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


EVERY_DAY = st.integers(min_value=0, max_value=(date(2032, 12, 31) - date(2024, 1, 1)).days)


@given(EVERY_DAY)
def test_due_dates_match_an_independent_calendar(offset: int) -> None:
    day = date(2024, 1, 1) + timedelta(days=offset)
    result = deadlines(at_noon(day), RIGA, ONE, TWO)
    assert result.due == independent_months_later(day, 1)
    assert result.extended == independent_months_later(day, 3)
    # the deadline ends on the same day of the month, or the month's last day
    assert (
        result.due.day == day.day
        or result.due.day == calendar.monthrange(result.due.year, result.due.month)[1]
    )
    assert result.due > day and result.extended > result.due


def test_every_day_of_eight_years() -> None:
    day = date(2024, 1, 1)
    while day <= date(2031, 12, 31):
        result = deadlines(at_noon(day), RIGA, ONE, TWO)
        assert result.due == independent_months_later(day, 1), day
        assert result.extended == independent_months_later(day, 3), day
        day += timedelta(days=1)
