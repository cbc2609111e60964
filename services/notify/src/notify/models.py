"""Notify tables: recipients, their inbox, contacts and preferences, channel messages, and partner webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime

from servicekit.db import UTCDateTime, utcnow
from servicekit.sql import StrEnumText
from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from notify.states import DeliveryStatus, MessageStatus, SubscriptionStatus


def _uuid() -> str:
    return str(uuid.uuid4())


class Recipient(SQLModel, table=True):
    """What notify knows of a person: only what it needs to write to them."""

    __tablename__ = "notify_recipient"

    talent_id: str = Field(primary_key=True, max_length=36)
    locale: str = Field(default="zh-CN", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """One inbox entry per (source event, recipient), however often the event is delivered."""

    __tablename__ = "notify_notification"
    __table_args__ = (
        UniqueConstraint("source_event_id", "recipient_id"),
        Index("ix_notify_notification_inbox", "recipient_id", "created_at", "id"),
    )

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    recipient_id: str = Field(max_length=36)
    # The event's id, or "reminder:<name>:<key>" for a reminder notify raised itself.
    source_event_id: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    category: str = Field(max_length=40)
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OfficialCase(SQLModel, table=True):
    """A claim or certification as notify has seen it in events, for the officials' inbox (notify.officials):
    who owns it (首问负责制), whether it still waits for an official, and when its review stage is due."""

    __tablename__ = "notify_official_case"
    __table_args__ = (Index("ix_notify_official_case_officer", "officer_id", "waiting"),)

    case_type: str = Field(primary_key=True, max_length=20)  # claim | certification
    case_id: str = Field(primary_key=True, max_length=36)
    officer_id: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=20)
    # Waiting for an official's decision (a review status); the daily digest counts these per officer.
    waiting: bool = False
    stage_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The time of the newest event that set the status: an older one arriving late changes nothing.
    status_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Contact(SQLModel, table=True):
    """A person's e-mail address and phone number, sealed with notify's own keyring; never stored in clear."""

    __tablename__ = "notify_contact"

    talent_id: str = Field(primary_key=True, max_length=36)
    email_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    phone_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Preference(SQLModel, table=True):
    """A person's choices; a category they never set follows the catalogue's defaults."""

    __tablename__ = "notify_preference"

    talent_id: str = Field(primary_key=True, max_length=36)
    locale: str | None = Field(default=None, max_length=10)
    # JSON {category: [channel, ...]} for the categories the person changed.
    channels: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    quiet_hours_enabled: bool = True
    quiet_hours_start: str | None = Field(default=None, max_length=5)
    quiet_hours_end: str | None = Field(default=None, max_length=5)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ChannelMessage(SQLModel, table=True):
    """One SMS or e-mail for one notification; its sending is a kit timer, retried, then recorded as failed."""

    __tablename__ = "notify_channel_message"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notify_channel_message_recipient", "recipient_id", "created_at"),
    )

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    notification_id: str = Field(max_length=36)
    recipient_id: str = Field(max_length=36)
    channel: str = Field(max_length=10)
    status: MessageStatus = Field(default=MessageStatus.SCHEDULED, sa_type=StrEnumText(MessageStatus, 12))
    attempts: int = 0
    due_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Pseudonym(SQLModel, table=True):
    """The pseudonym partners know a talent by (from TalentRegistered/Certified), in place of the talent id."""

    __tablename__ = "notify_pseudonym"

    talent_id: str = Field(primary_key=True, max_length=36)
    pseudonym: str = Field(max_length=64)


class PartnerVisibility(SQLModel, table=True):
    """An administrator's override of which event types a partner kind may subscribe to."""

    __tablename__ = "notify_partner_visibility"

    partner_kind: str = Field(primary_key=True, max_length=32)
    # JSON list of event types.
    event_types: str = Field(sa_column=Column(Text, nullable=False))
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Subscription(SQLModel, table=True):
    """A partner's webhook: where to POST which event types, and the secrets that sign them (sealed)."""

    __tablename__ = "notify_partner_subscription"
    __table_args__ = (Index("ix_notify_partner_subscription_partner", "partner_id", "created_at", "id"),)

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    partner_id: str = Field(max_length=64)
    partner_kind: str = Field(max_length=32)
    url: str = Field(max_length=2000)
    secret_sealed: str = Field(sa_column=Column(Text, nullable=False))
    # During a rotation the previous secret signs too (a second v1=) until it expires.
    previous_secret_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: SubscriptionStatus = Field(default=SubscriptionStatus.ACTIVE, sa_type=StrEnumText(SubscriptionStatus, 12))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SubscriptionType(SQLModel, table=True):
    """One event type a subscription wants; the fan-out looks subscriptions up by type."""

    __tablename__ = "notify_partner_subscription_type"
    __table_args__ = (Index("ix_notify_partner_subscription_type_event_type", "event_type"),)

    subscription_id: str = Field(primary_key=True, max_length=36)
    event_type: str = Field(primary_key=True, max_length=200)


class Delivery(SQLModel, table=True):
    """One event for one subscription: retried with backoff until delivered, or dead-lettered."""

    __tablename__ = "notify_partner_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_notify_partner_delivery_due", "status", "next_attempt_at"),
        Index("ix_notify_partner_delivery_partner", "partner_id", "created_at", "id"),
    )

    id: str = Field(default_factory=_uuid, primary_key=True, max_length=36)
    subscription_id: str = Field(max_length=36)
    partner_id: str = Field(max_length=64)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=200)
    # The pseudonymised CloudEvent exactly as it is POSTed (the signature covers these bytes).
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=StrEnumText(DeliveryStatus, 12))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """One POST of a delivery and what came of it: the partner's delivery log."""

    __tablename__ = "notify_partner_delivery_attempt"
    __table_args__ = (Index("ix_notify_partner_delivery_attempt_delivery", "delivery_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=36)
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0
