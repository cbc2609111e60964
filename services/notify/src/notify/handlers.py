"""Notify's event consumers: every event a person cares about becomes one inbox entry."""

from __future__ import annotations

from contracts import CloudEvent, EventData, TalentRegistered
from servicekit.consumer import Handler
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import repository as repo
from notify import templates
from notify.models import Notification, Recipient


async def deliver_to_inbox(
    session: AsyncSession, event: CloudEvent, recipient_id: str, context: dict[str, object]
) -> None:
    """Render the event's template in the recipient's locale and file it in their inbox."""
    recipient = await session.get(Recipient, recipient_id)
    locale = recipient.locale if recipient else templates.DEFAULT_LOCALE
    rendered = templates.render(event.type, locale, context)
    if await repo.get_by_source(session, event.id, recipient_id) is not None:
        return
    session.add(
        Notification(
            recipient_id=recipient_id,
            source_event_id=event.id,
            event_type=event.type,
            category=templates.CATEGORIES.get(event.type, "general"),
            title=rendered.title,
            body=rendered.body,
            created_at=utcnow(),
        )
    )


async def on_talent_registered(session: AsyncSession, event: CloudEvent, data: TalentRegistered) -> None:
    recipient = await session.get(Recipient, data.talent_id)
    if recipient is None:
        session.add(Recipient(talent_id=data.talent_id, locale=data.locale))
    else:
        recipient.locale = data.locale
    await session.flush()
    await deliver_to_inbox(session, event, data.talent_id, data.model_dump())


INBOX_HANDLERS: dict[type[EventData], Handler] = {TalentRegistered: on_talent_registered}
