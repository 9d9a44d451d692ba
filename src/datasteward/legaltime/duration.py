"""ISO 8601 durations as the policy writes them (``P7D``, ``P3M``, ``P11Y``).

Retention periods and response deadlines are *calendar* periods: "one month
from 31 January" ends on the last day of February, not 30 days later
(Regulation 1182/71, Art. 3(2)(c)). So a duration keeps its years, months,
weeks and days apart and is added to a date field by field, clamping to the
end of a short month. Comparing two durations ("is the new retention
longer?") uses an average-length approximation, which is exact whenever the
units agree and only ever needed for that comparison.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = ["DurationSyntaxError", "IsoDuration", "add_months"]

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)

DURATION_REGEX = _PATTERN.pattern


class DurationSyntaxError(ValueError):
    """The text is not an ISO 8601 duration of the supported form."""


def add_months(day: date, months: int) -> date:
    """Add calendar months, ending on the same day of the month or the last day
    of the target month where that day does not exist (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year = day.year + index // 12
    month = index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


@dataclass(frozen=True, order=False)
class IsoDuration:
    """A calendar duration: whole years, months, weeks, days and a time part."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> IsoDuration:
        """Parse ``PnYnMnWnDTnHnMnS`` (each part optional, at least one present)."""
        if not isinstance(text, str):
            raise DurationSyntaxError(f"expected an ISO 8601 duration such as P7D, got {text!r}")
        match = _PATTERN.match(text.strip().upper())
        if match is None or not any(match.groupdict().values()):
            raise DurationSyntaxError(
                f"{text!r} is not an ISO 8601 duration; write it like P7D, P3M, P1Y or P11Y"
            )
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        return cls(**parts)

    def __str__(self) -> str:
        date_part = "".join(
            f"{value}{unit}"
            for value, unit in (
                (self.years, "Y"),
                (self.months, "M"),
                (self.weeks, "W"),
                (self.days, "D"),
            )
            if value
        )
        time_part = "".join(
            f"{value}{unit}"
            for value, unit in ((self.hours, "H"), (self.minutes, "M"), (self.seconds, "S"))
            if value
        )
        if not date_part and not time_part:
            return "P0D"
        return "P" + date_part + (f"T{time_part}" if time_part else "")

    @property
    def approximate_days(self) -> float:
        """Average length in days, for ordering durations of different units."""
        return (
            self.years * 365.2425
            + self.months * 30.436875
            + self.weeks * 7
            + self.days
            + (self.hours * 3600 + self.minutes * 60 + self.seconds) / 86400
        )

    def __lt__(self, other: IsoDuration) -> bool:
        return self.approximate_days < other.approximate_days

    def __le__(self, other: IsoDuration) -> bool:
        return self.approximate_days <= other.approximate_days

    def __gt__(self, other: IsoDuration) -> bool:
        return self.approximate_days > other.approximate_days

    def __ge__(self, other: IsoDuration) -> bool:
        return self.approximate_days >= other.approximate_days

    def add_to(self, moment: date) -> date:
        """Add this duration to a date: years and months by the calendar, then
        weeks and days. A time part is not allowed for dates."""
        if self.hours or self.minutes or self.seconds:
            raise ValueError(f"{self} has a time part and cannot be added to a date")
        result = add_months(moment, self.years * 12 + self.months)
        return result + timedelta(weeks=self.weeks, days=self.days)

    def add_to_datetime(self, moment: datetime) -> datetime:
        """Add this duration to a datetime, calendar parts first."""
        day = add_months(moment.date(), self.years * 12 + self.months)
        shifted = moment.replace(year=day.year, month=day.month, day=day.day)
        return shifted + timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )

    def describe(self) -> str:
        """Human wording for notices: ``P7D`` -> ``7 days``, ``P11Y`` -> ``11 years``."""
        names = (
            (self.years, "year"),
            (self.months, "month"),
            (self.weeks, "week"),
            (self.days, "day"),
            (self.hours, "hour"),
            (self.minutes, "minute"),
            (self.seconds, "second"),
        )
        words = [f"{v} {n}{'s' if v != 1 else ''}" for v, n in names if v]
        if not words:
            return "0 days"
        if len(words) == 1:
            return words[0]
        return ", ".join(words[:-1]) + " and " + words[-1]
