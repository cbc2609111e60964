"""Queries of the notify tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notify.models import Notification


async def get_by_source(session: AsyncSession, source_event_id: str, recipient_id: str) -> Notification | None:
    result = await session.exec(
        select(Notification).where(
            Notification.source_event_id == source_event_id, Notification.recipient_id == recipient_id
        )
    )
    return result.first()


async def get_for_recipient(session: AsyncSession, notification_id: str, recipient_id: str) -> Notification | None:
    notification = await session.get(Notification, notification_id)
    return notification if notification and notification.recipient_id == recipient_id else None


async def list_inbox(
    session: AsyncSession,
    recipient_id: str,
    *,
    limit: int,
    after: list[Any] | None,
    category: str | None,
    unread_only: bool,
) -> list[Notification]:
    """Newest first; `after` is the (created_at, id) of the last item of the previous page."""
    query = select(Notification).where(Notification.recipient_id == recipient_id)
    if category:
        query = query.where(Notification.category == category)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    if after:
        # Compared through the column's type, so the bound value is stored-format UTC on every database.
        bound = datetime.fromisoformat(str(after[0]))
        query = query.where(
            or_(
                col(Notification.created_at) < bound,
                and_(col(Notification.created_at) == bound, col(Notification.id) < str(after[1])),
            )
        )
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit + 1)
    return list((await session.exec(query)).all())
