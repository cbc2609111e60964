"""Notify settings (env prefix NOTIFY_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    """Notify's settings; the dev defaults of the secrets say "insecure" and are refused outside dev."""

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)

    service_name: str = "notify"
    database_url: str = "sqlite+aiosqlite:///./var/notify.db"
    default_locale: str = "zh-CN"
    default_time_zone: str = "Asia/Shanghai"

    # Opens the ContactUpdated values applicant seals (the platform's shared contact keyring).
    contact_keys: SecretStr = SecretStr("c1:dev-insecure-contact-key")
    # Notify's own keyring: contacts and partner secrets at rest. "kid:material[,...]", the first encrypts.
    store_keys: SecretStr = SecretStr("n1:dev-insecure-notify-store-key")

    # --- channels -----------------------------------------------------------------------------
    # SMS: "file" appends JSON lines to sms_sink_path (dev); "http" posts to a provider.
    sms_transport: Literal["file", "http"] = "file"
    sms_sink_path: Path = Path("./var/sms.jsonl")
    sms_provider_url: str | None = None
    sms_provider_api_key: SecretStr | None = None
    sms_timeout_s: float = 5.0
    # E-mail goes out over SMTP; without a host the e-mail channel is not offered.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "人才码 <noreply@talent.example.org>"
    smtp_timeout_s: float = 5.0
    # A refused SMS or e-mail is retried this many times in all, backing off from channel_retry_base_s.
    channel_max_attempts: int = 5
    channel_retry_base_s: float = 30.0
    # Quiet hours for non-critical SMS, in the person's own time zone, unless they set their own.
    quiet_hours_start: str = "22:00"
    quiet_hours_end: str = "08:00"

    # --- partner webhooks ---------------------------------------------------------------------
    delivery_timeout_s: float = 10.0
    delivery_poll_interval_s: float = 0.1
    # The longest the webhook worker sleeps when nothing is due: it wakes earlier when a delivery is due, when a
    # commit of this process (or, on PostgreSQL, of another) queues one, or when a send ends.
    delivery_idle_poll_s: float = 5.0
    # Exponential backoff with jitter: base · 2^(n-1) capped, 14 attempts in all over about a day (13–26 h).
    delivery_retry_base_s: float = 30.0
    delivery_retry_cap_s: float = 6 * 3600.0
    delivery_max_attempts: int = 14
    delivery_concurrency_per_partner: int = 16
    delivery_max_in_flight: int = 256
    # After a secret rotation, the previous secret keeps signing (second v1=) this long by default.
    secret_rotation_grace_s: int = 24 * 3600
    max_subscriptions_per_partner: int = 20

    @model_validator(mode="after")
    def _provider_needs_url_and_key(self) -> NotifySettings:
        if self.sms_transport == "http" and not (self.sms_provider_url and self.sms_provider_api_key):
            raise ValueError("sms_transport=http needs sms_provider_url and sms_provider_api_key")
        return self

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def allow_private_targets(self) -> bool:
        """Webhooks to loopback/private addresses: only in dev (tests and a laptop), never in production."""
        return self.is_dev


@lru_cache
def get_settings() -> NotifySettings:
    return NotifySettings()
