"""The city's calendar: certification dates are local dates in the city's time zone, not UTC dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from servicekit.calendar import add_working_days
from servicekit.db import utcnow

CITY_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(CITY_TIME_ZONE).date()


def end_of_local_day(day: date) -> datetime:
    """The first instant after `day` in the city (a date "valid until" includes the whole day)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CITY_TIME_ZONE).astimezone(UTC)


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_city_working_days(start: datetime, days: int) -> datetime:
    """`days` working days (Mon–Fri in the city, servicekit.calendar) after `start`, at the same time of day."""
    offset = start.astimezone(CITY_TIME_ZONE).utcoffset() or timedelta(0)
    return add_working_days(start, days, offset)
