"""Benefits settings (env prefix BENEFITS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class BenefitsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENEFITS_", extra="ignore", populate_by_name=True)

    service_name: str = "benefits"
    database_url: str = "sqlite+aiosqlite:///./var/benefits.db"


@lru_cache
def get_settings() -> BenefitsSettings:
    return BenefitsSettings()
