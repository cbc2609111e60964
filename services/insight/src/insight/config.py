"""Insight settings (env prefix INSIGHT_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class InsightSettings(ServiceSettings):
    """Insight's settings; the dev default of the pseudonym key says "insecure" and is refused outside dev."""

    model_config = SettingsConfigDict(env_prefix="INSIGHT_", extra="ignore", populate_by_name=True)

    service_name: str = "insight"
    database_url: str = "sqlite+aiosqlite:///./var/insight.db"
    # HMAC-SHA256 key that turns a talent id into the pseudonym the read models count by. Insight's own key:
    # the same talent has another pseudonym here than in any partner's feed, so the two cannot be joined.
    pseudonym_key: SecretStr = SecretStr("dev-insecure-insight-pseudonym-key")
    # A published cell counting fewer than this many distinct subjects is suppressed (k-anonymity).
    min_cell: int = 5
    # Answers are computed from the state rows at query time (GROUP BY); this long they are reused.
    cache_ttl_s: float = 2.0
    # The worker recomputes the stored city-wide summary after applied batches at most this often (seconds):
    # a summary read without filters is at most about this old, and costs one row (insight.snapshots).
    snapshot_interval_s: float = 5.0


@lru_cache
def get_settings() -> InsightSettings:
    return InsightSettings()
