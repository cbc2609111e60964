"""Notify endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from servicekit.auth import TalentPrincipal
from servicekit.db import SessionDep
from servicekit.pagination import Page, PageDep

from notify import service
from notify.schemas import NotificationPublic

router = APIRouter(prefix="/api/v1", tags=["notify"])


@router.get("/me/inbox", response_model=Page[NotificationPublic])
async def list_inbox(
    session: SessionDep,
    principal: TalentPrincipal,
    page: PageDep,
    category: Annotated[str | None, Query(max_length=40)] = None,
    unread: Annotated[bool, Query(description="only unread notifications")] = False,
) -> Page[NotificationPublic]:
    """Your notifications, newest first."""
    return await service.list_inbox(session, principal.sub, page, category=category, unread_only=unread)


@router.post("/me/inbox/{notification_id}/read", response_model=NotificationPublic)
async def mark_read(notification_id: str, session: SessionDep, principal: TalentPrincipal) -> NotificationPublic:
    """Mark one notification as read."""
    notification = await service.mark_read(session, principal.sub, notification_id)
    return NotificationPublic.model_validate(notification, from_attributes=True)
