"""ISO 8601 durations as legal periods: exact text round trip, human wording,
ordering, and calendar arithmetic that ends on the last day of a short month
(Regulation 1182/71, Art. 3(2)(c))."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasteward.legaltime import IsoDuration, add_months
from datasteward.legaltime.duration import DurationSyntaxError

FIRST = date(2023, 1, 1)
LAST = date(2029, 12, 31)

counts = st.integers(min_value=0, max_value=10_000)
durations = st.builds(
    IsoDuration,
    years=counts,
    months=counts,
    weeks=counts,
    days=counts,
    hours=counts,
    minutes=counts,
    seconds=counts,
)


@st.composite
def canonical_texts(draw: st.DrawFn) -> str:
    """Duration text as ``str`` writes it: only non-zero parts, in ISO order."""
    positive = st.one_of(st.none(), st.integers(min_value=1, max_value=10_000))
    date_part = "".join(
        f"{value}{unit}" for unit in "YMWD" if (value := draw(positive)) is not None
    )
    time_part = "".join(f"{value}{unit}" for unit in "HMS" if (value := draw(positive)) is not None)
    if not date_part and not time_part:
        date_part = f"{draw(st.integers(min_value=1, max_value=10_000))}D"
    return "P" + date_part + (f"T{time_part}" if time_part else "")


# -- text ---------------------------------------------------------------------------


@given(durations)
def test_str_then_parse_is_identity(duration: IsoDuration) -> None:
    assert IsoDuration.parse(str(duration)) == duration


@given(canonical_texts())
def test_parse_then_str_gives_back_canonical_text(text: str) -> None:
    assert str(IsoDuration.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", IsoDuration(days=7)),
        ("P3M", IsoDuration(months=3)),
        ("P11Y", IsoDuration(years=11)),
        ("P2W", IsoDuration(weeks=2)),
        ("P1Y6M", IsoDuration(years=1, months=6)),
        ("PT36H", IsoDuration(hours=36)),
        ("PT1M", IsoDuration(minutes=1)),
        ("P1MT1M", IsoDuration(months=1, minutes=1)),
        ("p7d", IsoDuration(days=7)),
        ("  P7D ", IsoDuration(days=7)),
        ("P0D", IsoDuration()),
    ],
)
def test_parse(text: str, expected: IsoDuration) -> None:
    assert IsoDuration.parse(text) == expected


def test_zero_duration_is_written_p0d() -> None:
    assert str(IsoDuration()) == "P0D"
    assert str(IsoDuration.parse("P0Y0M")) == "P0D"


@pytest.mark.parametrize(
    "text",
    ["P5X", "5 years", "P", "", "PT", "P1DT", "P-1D", "P1.5Y", "P1D1Y", "1Y", "P 1Y", "P1Y\nP1D"],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(DurationSyntaxError, match="ISO 8601 duration"):
        IsoDuration.parse(text)


@pytest.mark.parametrize("value", [7, None, 1.5, ["P1D"]])
def test_parse_rejects_non_text(value: object) -> None:
    with pytest.raises(DurationSyntaxError, match="expected an ISO 8601 duration"):
        IsoDuration.parse(value)  # type: ignore[arg-type]


def test_syntax_error_is_a_value_error() -> None:
    """Pydantic turns a ValueError into a located policy problem."""
    assert issubclass(DurationSyntaxError, ValueError)


# -- wording ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("P7D", "7 days"),
        ("P1D", "1 day"),
        ("P1M", "1 month"),
        ("P11Y", "11 years"),
        ("P1Y", "1 year"),
        ("P2W", "2 weeks"),
        ("P1Y6M", "1 year and 6 months"),
        ("P1Y2M3D", "1 year, 2 months and 3 days"),
        ("PT12H", "12 hours"),
        ("P1DT1H1M1S", "1 day, 1 hour, 1 minute and 1 second"),
        ("P0D", "0 days"),
    ],
)
def test_describe(text: str, words: str) -> None:
    assert IsoDuration.parse(text).describe() == words


# -- ordering ---------------------------------------------------------------------------


def test_ordering_by_average_length() -> None:
    p = IsoDuration.parse
    assert p("P1M") < p("P31D")
    assert p("P1M") > p("P30D")
    assert p("P2Y") > p("P23M")
    assert p("P6M") < p("P1Y")
    assert p("PT23H") < p("P1D")
    assert p("P5Y") >= p("P5Y")
    assert not p("P5Y") < p("P5Y")


def test_same_length_in_other_units_orders_equal_but_is_not_equal() -> None:
    """Equality is of the written periods; ordering compares their length."""
    year, twelve_months = IsoDuration.parse("P1Y"), IsoDuration.parse("P12M")
    assert year <= twelve_months and year >= twelve_months
    assert not year < twelve_months and not year > twelve_months
    assert year != twelve_months
    assert IsoDuration.parse("P1W") <= IsoDuration.parse("P7D") <= IsoDuration.parse("P1W")


def test_approximate_days() -> None:
    assert IsoDuration.parse("P7D").approximate_days == 7
    assert IsoDuration.parse("P2W").approximate_days == 14
    assert IsoDuration.parse("PT12H").approximate_days == 0.5
    assert IsoDuration.parse("P1Y").approximate_days == pytest.approx(365.2425)
    assert IsoDuration.parse("P12M").approximate_days == pytest.approx(365.2425)


@given(durations, durations)
def test_ordering_is_consistent(a: IsoDuration, b: IsoDuration) -> None:
    assert (a < b) == (b > a)
    assert (a <= b) == (b >= a)
    assert (a < b) or (a >= b)


# -- calendar arithmetic ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "text", "end"),
    [
        (date(2023, 1, 31), "P1M", date(2023, 2, 28)),
        (date(2024, 1, 31), "P1M", date(2024, 2, 29)),
        (date(2023, 3, 31), "P1M", date(2023, 4, 30)),
        (date(2024, 2, 29), "P1Y", date(2025, 2, 28)),
        (date(2024, 2, 29), "P4Y", date(2028, 2, 29)),
        (date(2023, 1, 31), "P3M", date(2023, 4, 30)),
        (date(2023, 11, 30), "P3M", date(2024, 2, 29)),
        (date(2023, 12, 15), "P1M", date(2024, 1, 15)),
        (date(2023, 1, 31), "P1M1D", date(2023, 3, 1)),
        (date(2023, 1, 31), "P30D", date(2023, 3, 2)),
        (date(2023, 1, 1), "P2W", date(2023, 1, 15)),
        (date(2020, 6, 30), "P5Y", date(2025, 6, 30)),
        (date(2023, 5, 17), "P0D", date(2023, 5, 17)),
    ],
)
def test_add_to(start: date, text: str, end: date) -> None:
    assert IsoDuration.parse(text).add_to(start) == end


def test_add_to_refuses_a_time_part() -> None:
    with pytest.raises(ValueError, match="time part"):
        IsoDuration.parse("PT72H").add_to(date(2026, 1, 1))


def test_add_to_datetime_adds_calendar_parts_first() -> None:
    start = datetime(2024, 1, 31, 22, 30)
    assert IsoDuration.parse("P1MT2H").add_to_datetime(start) == datetime(2024, 3, 1, 0, 30)
    assert IsoDuration.parse("PT72H").add_to_datetime(start) == datetime(2024, 2, 3, 22, 30)


def test_add_months_handles_negative_months() -> None:
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 15), -13) == date(2022, 12, 15)


def _month_starts(day: date, count: int) -> list[date]:
    """Independent reference: the first days of ``count`` months from ``day``'s
    month on, found by plain timedelta steps (no month arithmetic)."""
    starts = [day.replace(day=1)]
    while len(starts) < count:
        starts.append((starts[-1] + timedelta(days=32)).replace(day=1))
    return starts


def _months_later(day: date, months: int) -> date:
    """``day`` moved ``months`` months on, clamped to the target month's length,
    which is read off the distance to the following month's start."""
    first, following = _month_starts(day, months + 2)[-2:]
    return first.replace(day=min(day.day, (following - first).days))


@settings(max_examples=300, deadline=None)
@given(
    st.dates(min_value=FIRST, max_value=LAST),
    st.integers(min_value=0, max_value=36),
)
def test_add_months_matches_an_independent_calendar_walk(day: date, months: int) -> None:
    assert add_months(day, months) == _months_later(day, months)
    assert IsoDuration(months=months).add_to(day) == _months_later(day, months)


def test_add_months_on_every_day_of_2023_to_2029() -> None:
    """Exhaustive companion of the property above: 2,557 days x 37 offsets."""
    day = FIRST
    while day <= LAST:
        starts = _month_starts(day, 38)
        for months in range(37):
            first, following = starts[months], starts[months + 1]
            expected = first.replace(day=min(day.day, (following - first).days))
            assert add_months(day, months) == expected, (day, months)
        day += timedelta(days=1)


@given(st.dates(min_value=FIRST, max_value=LAST), st.integers(min_value=0, max_value=36))
def test_years_are_twelve_months(day: date, years: int) -> None:
    assert IsoDuration(years=years).add_to(day) == IsoDuration(months=12 * years).add_to(day)


@given(st.dates(min_value=FIRST, max_value=LAST), st.integers(min_value=0, max_value=36))
def test_add_months_lands_in_the_right_month_on_the_nearest_day(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
    if day.day <= 28:
        assert result.day == day.day
