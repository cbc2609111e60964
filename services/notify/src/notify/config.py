"""Notify settings (env prefix NOTIFY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)

    service_name: str = "notify"
    database_url: str = "sqlite+aiosqlite:///./var/notify.db"
    default_locale: str = "zh-CN"


@lru_cache
def get_settings() -> NotifySettings:
    return NotifySettings()
