"""Notify API bodies."""

from __future__ import annotations

from datetime import datetime

from contracts import Locale
from pydantic import BaseModel, ConfigDict, Field, field_validator

from notify.catalogue import Channel
from notify.channels import parse_clock
from notify.states import DeliveryStatus, SubscriptionStatus


class NotificationPublic(BaseModel):
    id: str
    category: str
    event_type: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


# --- preferences -------------------------------------------------------------------------------


class QuietHours(BaseModel):
    """Non-critical SMS waiting between `start` and `end` (HH:MM, in your own time zone) go out at `end`."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(examples=["22:00"])
    end: str = Field(examples=["08:00"])

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value


class PreferencesPublic(BaseModel):
    locale: Locale
    time_zone: str
    channels: dict[str, list[Channel]]
    critical_categories: list[str] = Field(description="categories whose default channels cannot be switched off")
    quiet_hours: QuietHours | None


class PreferencesUpdate(BaseModel):
    """Fields you leave out keep their value; `channels` replaces the lists of the categories it names."""

    model_config = ConfigDict(extra="forbid")

    locale: Locale | None = None
    channels: dict[str, list[Channel]] | None = None
    quiet_hours: QuietHours | None = Field(default=None, description="null switches quiet hours off")


# --- partners ----------------------------------------------------------------------------------


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(min_length=1, max_length=50)
    url: str = Field(min_length=1, max_length=2000)
    secret: str = Field(min_length=16, max_length=256, description="signs every delivery (HMAC-SHA256)")


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=16, max_length=256)
    grace_seconds: int | None = Field(
        default=None, ge=0, le=7 * 24 * 3600, description="how long the old secret keeps signing (default a day)"
    )


class SubscriptionPublic(BaseModel):
    id: str
    event_types: list[str]
    url: str
    status: SubscriptionStatus
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionSecretSet(SubscriptionPublic):
    """The answer to creating a subscription or rotating its secret: the only time the secret is echoed."""

    standard_webhooks_secret: str = Field(
        description="the secret as Standard Webhooks libraries take it: whsec_ + base64 of its UTF-8 bytes"
    )


class DeliveryAttemptPublic(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryPublic(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    attempt_log: list[DeliveryAttemptPublic]


class PartnerKindVisibility(BaseModel):
    partner_kind: str
    event_types: list[str]
    overridden: bool


class VisibilityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
