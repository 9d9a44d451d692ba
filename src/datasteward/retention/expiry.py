"""When a retention period has run out: the cutoff instant. Pure.

A row is due when its anchor instant plus the rule's period is at or before
the moment of the sweep. Periods are calendar periods (Regulation 1182/71):
one month after 31 January is the end of February, so adding a period is not
a fixed number of seconds and cannot simply be reversed. :func:`cutoff`
finds the latest anchor instant that is due, so that a sweep can ask the
database for ``anchor <= cutoff`` (one indexed range) and get exactly the
rows for which ``period.add_to_datetime(anchor) <= at``; a property test
checks that equivalence.

Instants are compared as the database holds them: date-times without a time
zone are read as UTC, and the calendar arithmetic runs on UTC wall time.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta

from datasteward.legaltime.duration import IsoDuration, add_months

__all__ = ["END_OF_DAY", "cutoff", "date_cutoff", "is_due"]

END_OF_DAY = time(23, 59, 59, 999_999)
"""The last representable instant of a day (microsecond resolution)."""


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def cutoff(at: datetime, period: IsoDuration) -> datetime:
    """The latest anchor instant ``a`` with ``period.add_to_datetime(a) <= at``.

    Weeks, days and the time part are exact and are taken off first. Whole
    months are then undone by the calendar: when the target month is
    shorter than the day of ``at`` (or ``at`` falls on the last day of its
    month), every later day of the target month reaches the same clamped
    day, so the cutoff moves to the end of the target month."""
    if at.tzinfo is None:
        raise ValueError("the moment of a sweep must be timezone-aware")
    moment = at.astimezone(UTC) - timedelta(
        weeks=period.weeks,
        days=period.days,
        hours=period.hours,
        minutes=period.minutes,
        seconds=period.seconds,
    )
    months = period.years * 12 + period.months
    if months == 0:
        return moment
    start = add_months(moment.date().replace(day=1), -months)
    last_target = _last_day(start.year, start.month)
    last_here = _last_day(moment.year, moment.month)
    if moment.day > last_target:
        day, clock = last_target, END_OF_DAY
    elif moment.day == last_here:
        day, clock = last_target, moment.timetz().replace(tzinfo=None)
    else:
        day, clock = moment.day, moment.timetz().replace(tzinfo=None)
    return datetime.combine(start.replace(day=day), clock, tzinfo=UTC)


def date_cutoff(at: datetime, period: IsoDuration) -> date:
    """The latest anchor *date* that is due: a date column's day is taken as
    its first instant (midnight UTC), which is due exactly when that instant
    is at or before :func:`cutoff`."""
    return cutoff(at, period).date()


def is_due(anchor: datetime | None, at: datetime, period: IsoDuration) -> bool:
    """Whether a row anchored at ``anchor`` is due at ``at``; an empty anchor
    (the event has not happened) never is."""
    if anchor is None:
        return False
    instant = anchor if anchor.tzinfo is not None else anchor.replace(tzinfo=UTC)
    return period.add_to_datetime(instant.astimezone(UTC)) <= at.astimezone(UTC)
