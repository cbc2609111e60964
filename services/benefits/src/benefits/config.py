"""Benefits settings (env prefix BENEFITS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class BenefitsSettings(ServiceSettings):
    """Benefits' settings: the clocks of the claim flow (deadlines, 公示) are settings, not constants."""

    model_config = SettingsConfigDict(env_prefix="BENEFITS_", extra="ignore", populate_by_name=True)

    service_name: str = "benefits"
    database_url: str = "sqlite+aiosqlite:///./var/benefits.db"
    # 公示: how long an approved claim stays on public notice before it may be paid (default 5 days).
    publicity_period_s: float = Field(default=5 * 24 * 3600, gt=0)
    # Each review stage (county, city) must decide within this many working days (Mon–Fri).
    stage_deadline_working_days: int = Field(default=5, ge=1)
    # 全流程审批'最多90天': from submission to payout.
    end_to_end_days: int = Field(default=90, ge=1)
    # Local calendar of the city (China Standard Time has no daylight saving): years, ages, working days.
    utc_offset_hours: int = 8
    # This city's region code: the issuing city of its own codes in settlement (a use whose event names none).
    city_code: str = Field(default="330400", pattern=r"^[0-9]{6}$")


@lru_cache
def get_settings() -> BenefitsSettings:
    return BenefitsSettings()
