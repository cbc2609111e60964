"""The city's working-day calendar, one for every service: review deadlines count working days.

Benefits' claim stages and applicant's certification stages both give an officer a number of working days
(Mon–Fri, in the city's local time); both ask this module, so the two deadlines never disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def add_working_days(start: datetime, days: int, utc_offset: timedelta) -> datetime:
    """`days` working days (Mon–Fri, local time) after `start`, at the same time of day.

    Public holidays and the adjusted working weekends (调休) of the State Council calendar are not
    modelled yet; they would be a data file of dates skipped or added here.
    """
    local = start + utc_offset
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local - utc_offset
