"""Notify's event consumers and timers.

Two consumer groups, so neither waits for the other: `notify.inbox` files an entry for every event a
person cares about (and keeps locales and contacts), `notify.partners` queues pseudonymised webhook
deliveries. Sending the webhooks is a third, separate loop (notify.webhooks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts import EVENT_TYPES, CloudEvent, ContactUpdated, EventData, TalentProfileUpdated, TalentRegistered
from servicekit.consumer import Handler, with_prepare
from servicekit.timers import AfterCommit, ScheduledTimer, TimerHandler
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import partners, service
from notify import repository as repo
from notify.catalogue import Reminder
from notify.components import Components
from notify.states import SEND_TIMER


def inbox_handlers(c: Components) -> Mapping[type[EventData], Handler]:
    catalogue = c.catalogue

    async def on_person_event(session: AsyncSession, event: CloudEvent, data: EventData) -> None:
        talent_id = str(getattr(data, "talent_id"))  # noqa: B009  (every notified type names its talent)
        if isinstance(data, TalentRegistered):
            await service.remember_locale(session, talent_id, data.locale, c.clock())
        if not catalogue.notifies(event.type, data):
            return  # not news for the person (catalogue.json `only_when`), e.g. a change they made themselves
        await service.notify_person(
            session,
            c,
            recipient_id=talent_id,
            source_id=event.id,
            template=event.type,
            event_type=event.type,
            category=catalogue.event_categories[event.type],
            context=data.model_dump(),
        )
        for reminder in catalogue.reminders_started_by(event.type):
            await service.start_reminder(session, c, reminder, event.id, talent_id, data)
        for reminder in catalogue.reminders_cancelled_by(event.type):
            await service.cancel_reminder(session, reminder, data)

    async def on_profile_updated(session: AsyncSession, event: CloudEvent, data: TalentProfileUpdated) -> None:
        await service.remember_locale(session, data.talent_id, data.locale, c.clock())

    async def on_contact_updated(session: AsyncSession, event: CloudEvent, data: ContactUpdated) -> None:
        await service.store_contact(session, c, data)

    async def load_batch(session: AsyncSession, items: Sequence[tuple[CloudEvent, EventData]]) -> None:
        # Every recipient of the batch with one query, instead of one per event (see repository.load_people).
        await repo.load_people(session, (str(getattr(data, "talent_id")) for _, data in items))  # noqa: B009

    handlers: dict[type[EventData], Handler] = {EVENT_TYPES[t]: on_person_event for t in catalogue.event_categories}
    handlers[TalentProfileUpdated] = on_profile_updated
    handlers[ContactUpdated] = on_contact_updated
    return with_prepare(load_batch, handlers)


def partner_handlers(c: Components) -> Mapping[type[EventData], Handler]:
    async def on_shareable_event(session: AsyncSession, event: CloudEvent, data: EventData) -> None:
        await partners.fan_out(session, c, event, data)

    # Only the types that have a partner payload (the only ones an administrator may let partners see) and
    # TalentRegistered (the first pseudonym): the group ignores the rest without touching the database.
    return {EVENT_TYPES[t]: on_shareable_event for t in sorted(partners.shareable_types(c) | {TalentRegistered.type})}


def timer_handlers(c: Components) -> Mapping[str, TimerHandler]:
    async def send(session: AsyncSession, timer: ScheduledTimer) -> AfterCommit | None:
        # Claims the attempt here; the send runs after this timer's transaction commits.
        return await service.send_channel_message(session, c, str(timer.data()["message_id"]))

    handlers: dict[str, TimerHandler] = {SEND_TIMER: send}
    for reminder in c.catalogue.reminders.values():
        handlers[reminder.timer_kind] = _reminder_handler(c, reminder)
    return handlers


def _reminder_handler(c: Components, reminder: Reminder) -> TimerHandler:
    async def remind(session: AsyncSession, timer: ScheduledTimer) -> None:
        await service.fire_reminder(session, c, reminder, timer.data())

    return remind
