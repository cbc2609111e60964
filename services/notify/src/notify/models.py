"""Notify tables: who receives what (locale), and the inbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from servicekit.db import UTCDateTime, utcnow
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Recipient(SQLModel, table=True):
    """What notify knows of a person: only what it needs to write to them."""

    __tablename__ = "notify_recipient"

    talent_id: str = Field(primary_key=True, max_length=36)
    locale: str = Field(default="zh-CN", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """One inbox entry per (source event, recipient), however often the event is delivered."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("source_event_id", "recipient_id"),
        Index("ix_notification_inbox", "recipient_id", "created_at", "id"),
    )

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    recipient_id: str = Field(max_length=36)
    source_event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=200)
    category: str = Field(max_length=40)
    title: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
