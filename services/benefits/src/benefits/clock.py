"""The claim flow's clocks and calendar: 公示 period, working-day stage deadlines, the 90 days end to end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from servicekit.calendar import add_working_days

from benefits.config import BenefitsSettings


@dataclass(frozen=True)
class Clock:
    """The claim flow's clocks and calendar, from the settings."""

    publicity_period: timedelta
    stage_working_days: int
    end_to_end: timedelta
    utc_offset: timedelta

    @classmethod
    def from_settings(cls, settings: BenefitsSettings) -> Clock:
        return cls(
            publicity_period=timedelta(seconds=settings.publicity_period_s),
            stage_working_days=settings.stage_deadline_working_days,
            end_to_end=timedelta(days=settings.end_to_end_days),
            utc_offset=timedelta(hours=settings.utc_offset_hours),
        )

    def today(self, now: datetime) -> date:
        return (now + self.utc_offset).date()

    def stage_due(self, now: datetime, working_days: int | None = None) -> datetime:
        """The stage's deadline: `working_days` for a stage with its own (an appeal), else the settings' days."""
        return add_working_days(now, working_days or self.stage_working_days, self.utc_offset)
