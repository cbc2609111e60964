"""Notify rules: reading and marking the inbox."""

from __future__ import annotations

from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, encode_cursor
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import repository as repo
from notify.exceptions import NotificationNotFound
from notify.models import Notification
from notify.schemas import NotificationPublic


async def list_inbox(
    session: AsyncSession, recipient_id: str, page: PageParams, *, category: str | None, unread_only: bool
) -> Page[NotificationPublic]:
    rows = await repo.list_inbox(
        session, recipient_id, limit=page.limit, after=page.after, category=category, unread_only=unread_only
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id]) if more and rows else None
    return Page(items=[NotificationPublic.model_validate(r, from_attributes=True) for r in rows], next_cursor=cursor)


async def mark_read(session: AsyncSession, recipient_id: str, notification_id: str) -> Notification:
    notification = await repo.get_for_recipient(session, notification_id, recipient_id)
    if notification is None:
        raise NotificationNotFound()
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification
