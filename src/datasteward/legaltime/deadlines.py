"""Response deadlines of data subject requests (Art. 12(3) GDPR, Regulation
1182/71).

A period in months runs from the day of receipt *in the controller's time
zone* and ends on the same day of the last month, or on that month's last day
where the same day does not exist: received 31 January, due 28 February (29
in a leap year). An extension adds the further months to the receipt date, not
to the first due date, so 31 January + 3 months is 30 April, never 28 April
(which chaining 31 Jan → 28 Feb → 28 Apr would give).

The deadline is the last day on which the answer is still in time. The
engine does not move a deadline that falls on a weekend to the next working
day: public holidays differ per member state, and answering earlier is never
late. Pure: the caller passes the receipt instant and the zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datasteward.legaltime.duration import IsoDuration

__all__ = ["Deadlines", "deadlines", "local_day", "zone"]


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError names it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day ``moment`` falls on in ``tz`` (a receipt at 23:30 UTC
    on 31 January is 1 February in Riga)."""
    if moment.tzinfo is None:
        raise ValueError("a receipt time needs a time zone")
    return moment.astimezone(tz).date()


@dataclass(frozen=True)
class Deadlines:
    """The two deadlines a request can have."""

    start: date
    """The day the period runs from (the local day of receipt or verification)."""
    due: date
    """Last day of the response period."""
    extended: date
    """Last day if the period is extended (start + response + extension)."""


def deadlines(
    start: datetime, tz: ZoneInfo, response: IsoDuration, extension: IsoDuration
) -> Deadlines:
    """Due and extended due dates for a period starting at ``start``."""
    day = local_day(start, tz)
    total = IsoDuration(
        years=response.years + extension.years,
        months=response.months + extension.months,
        weeks=response.weeks + extension.weeks,
        days=response.days + extension.days,
    )
    return Deadlines(start=day, due=response.add_to(day), extended=total.add_to(day))
