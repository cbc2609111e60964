"""Housing settings (env prefix HOUSING_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class HousingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOUSING_", extra="ignore", populate_by_name=True)

    service_name: str = "housing"
    database_url: str = "sqlite+aiosqlite:///./var/housing.db"


@lru_cache
def get_settings() -> HousingSettings:
    return HousingSettings()
