"""The cutoff of a retention period: exactly the anchors whose period has run
out, with calendar months (31 January + 1 month = end of February)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datasteward.legaltime.duration import IsoDuration
from datasteward.retention.expiry import END_OF_DAY, cutoff, date_cutoff, is_due

MOMENTS = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
PERIODS = st.builds(
    IsoDuration,
    years=st.integers(0, 12),
    months=st.integers(0, 14),
    weeks=st.integers(0, 3),
    days=st.integers(0, 40),
    hours=st.integers(0, 30),
    minutes=st.integers(0, 3),
    seconds=st.integers(0, 3),
)
NEAR = st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3))


@given(MOMENTS, PERIODS, NEAR)
def test_anchor_at_or_before_the_cutoff_is_exactly_an_anchor_whose_period_ran_out(
    at: datetime, period: IsoDuration, offset: timedelta
) -> None:
    boundary = cutoff(at, period)
    for anchor in (boundary, boundary + timedelta(microseconds=1), boundary + offset):
        if _clamped(anchor, period):
            continue  # see test_anchors_in_a_clamped_month_end_share_their_end
        assert (anchor <= boundary) == (period.add_to_datetime(anchor) <= at)


def _clamped(anchor: datetime, period: IsoDuration) -> bool:
    """Whether adding the period's months moves the anchor's day (31 Jan + 1
    month = 28 Feb): such anchors share an end with later ones, so the set of
    due anchors is no longer exactly those before one instant."""
    months = period.years * 12 + period.months
    return months > 0 and IsoDuration(months=months).add_to_datetime(anchor).day != anchor.day


def test_anchors_in_a_clamped_month_end_share_their_end() -> None:
    # 30 and 31 January both end one month later on 28 February: the cutoff
    # treats the whole clamped stretch as due once its common end has passed
    # (at most the rest of one day early, never late).
    at = datetime(2001, 2, 28, tzinfo=UTC)
    boundary = cutoff(at, IsoDuration(months=1))
    assert boundary >= datetime(2001, 1, 28, tzinfo=UTC)
    assert is_due(datetime(2001, 1, 28, tzinfo=UTC), at, IsoDuration(months=1))


@given(MOMENTS, PERIODS)
def test_is_due_agrees_with_the_cutoff(at: datetime, period: IsoDuration) -> None:
    boundary = cutoff(at, period)
    assert is_due(boundary, at, period)
    assert not is_due(boundary + timedelta(microseconds=1), at, period)


@pytest.mark.parametrize(
    ("at", "period", "expected"),
    [
        # one month after any moment of 31 January is a moment of 28 February
        (
            datetime(2026, 2, 28, 10, 0, tzinfo=UTC),
            "P1M",
            datetime(2026, 1, 31, 10, 0, tzinfo=UTC),
        ),
        # early March: all of 29-31 January is due (they ended on 28 February)
        (
            datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
            "P1M",
            datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 30, 8, 0, tzinfo=UTC),
            "P1M",
            datetime.combine(date(2026, 2, 28), END_OF_DAY, tzinfo=UTC),
        ),
        # a leap day's year ends on 28 February
        (
            datetime(2025, 2, 28, 12, 0, tzinfo=UTC),
            "P1Y",
            datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
        ),
        (datetime(2026, 11, 1, tzinfo=UTC), "P7D", datetime(2026, 10, 25, tzinfo=UTC)),
        (datetime(2026, 11, 1, tzinfo=UTC), "P11Y", datetime(2015, 11, 1, tzinfo=UTC)),
    ],
)
def test_calendar_examples(at: datetime, period: str, expected: datetime) -> None:
    assert cutoff(at, IsoDuration.parse(period)) == expected


def test_a_date_anchor_is_due_from_its_first_instant() -> None:
    at = datetime(2026, 11, 8, 9, 0, tzinfo=UTC)
    assert date_cutoff(at, IsoDuration.parse("P7D")) == date(2026, 11, 1)


def test_an_empty_anchor_is_never_due() -> None:
    assert not is_due(None, datetime(2100, 1, 1, tzinfo=UTC), IsoDuration.parse("P1D"))


def test_naive_anchors_are_utc_and_naive_moments_are_refused() -> None:
    at = datetime(2026, 11, 8, tzinfo=UTC)
    assert is_due(datetime(2026, 11, 1), at, IsoDuration.parse("P7D"))
    with pytest.raises(ValueError, match="timezone-aware"):
        cutoff(datetime(2026, 11, 8), IsoDuration.parse("P7D"))
