"""Notify API bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class NotificationPublic(BaseModel):
    id: str
    category: str
    event_type: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
