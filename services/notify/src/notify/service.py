"""Notify rules for people: the inbox, preferences, contacts, reminders, and the SMS/e-mail that follow an entry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from contracts import ContactUpdated, model_for
from servicekit import timers
from servicekit.consumer import PoisonMessage
from servicekit.crypto import CipherError
from servicekit.db import Database
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from servicekit.timers import AfterCommit
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import repository as repo
from notify import templates
from notify.catalogue import CHANNELS, Channel, Reminder
from notify.channels import ChannelFailure, end_of_quiet_hours, is_time_zone, parse_clock, sms_text, zone
from notify.components import Components
from notify.exceptions import CriticalChannelLocked, InvalidField, NotificationNotFound
from notify.models import ChannelMessage, Contact, Notification, Preference, Recipient
from notify.schemas import NotificationPublic, PreferencesPublic, PreferencesUpdate, QuietHours
from notify.states import SENDABLE, MessageAction, MessageStatus
from notify.transitions import transition_message

# --- the inbox ---------------------------------------------------------------------------------


async def list_inbox(
    session: AsyncSession,
    c: Components,
    recipient_id: str,
    page: PageParams,
    *,
    category: str | None,
    unread_only: bool,
) -> Page[NotificationPublic]:
    if category is not None and category not in c.catalogue.categories:
        known = ", ".join(c.catalogue.categories)
        raise InvalidField("category", "notify.invalid.unknown_category", {"category": category, "known": known})
    after = page.position(cursor_time, cursor_key)
    rows = await repo.list_inbox(
        session, recipient_id, limit=page.limit, after=after, category=category, unread_only=unread_only
    )
    found = keyset_page(rows, page.limit, lambda row: [row.created_at.isoformat(), row.id])
    items = [NotificationPublic.model_validate(r, from_attributes=True) for r in found.items]
    return Page(items=items, next_cursor=found.next_cursor)


async def mark_read(session: AsyncSession, c: Components, recipient_id: str, notification_id: str) -> Notification:
    notification = await repo.get_for_recipient(session, notification_id, recipient_id)
    if notification is None:
        raise NotificationNotFound()
    if notification.read_at is None:
        notification.read_at = c.clock()
    return notification


async def notify_person(
    session: AsyncSession,
    c: Components,
    *,
    recipient_id: str,
    source_id: str,
    template: str,
    event_type: str,
    category: str,
    context: Mapping[str, Any],
    check_duplicate: bool = False,
) -> Notification | None:
    """File one inbox entry and plan the SMS and e-mail the person wants.

    Once per source and recipient: the consumer's ledger skips a redelivered event before it gets here, and
    the unique (source, recipient) constraint backs that up; a reminder is checked here (`check_duplicate`).
    """
    if check_duplicate and await repo.get_by_source(session, source_id, recipient_id) is not None:
        return None
    recipient, preference, contact = await repo.get_person(session, recipient_id)
    locale = _locale(c, recipient, preference)
    time_zone = contact.time_zone if contact else c.settings.default_time_zone
    rendered = templates.render(template, locale, dict(context), time_zone=time_zone)
    now = c.clock()
    notification = Notification(
        recipient_id=recipient_id,
        source_event_id=source_id,
        event_type=event_type,
        category=category,
        title=rendered.title[:200],
        body=rendered.body[:4000],
        created_at=now,
    )
    session.add(notification)
    if contact is not None:
        for channel in _channels(c, preference, category):
            due = _due_at(c, channel, category, now, contact, preference)
            if due is not None and _has_address(c, channel, contact):
                message = ChannelMessage(
                    notification_id=notification.id, recipient_id=recipient_id, channel=channel, due_at=due
                )
                session.add(message)
                await transition_message(session, c, message, MessageAction.SCHEDULE)
    return notification


def _locale(c: Components, recipient: Recipient | None, preference: Preference | None) -> str:
    if preference is not None and preference.locale:
        return preference.locale
    return recipient.locale if recipient else c.settings.default_locale


def _channels(c: Components, preference: Preference | None, category: str) -> list[Channel]:
    chosen = json.loads(preference.channels) if preference else {}
    wanted: list[Channel] = chosen.get(category) or list(c.catalogue.categories[category].default_channels)
    return [channel for channel in wanted if channel != "in_app"]


def _has_address(c: Components, channel: Channel, contact: Contact) -> bool:
    if channel == "email":
        return c.mailer is not None and contact.email_sealed is not None
    return contact.phone_sealed is not None


def _due_at(
    c: Components, channel: Channel, category: str, now: datetime, contact: Contact, preference: Preference | None
) -> datetime:
    """Now, except a non-critical SMS inside the person's quiet hours waits for them to end."""
    if channel != "sms" or c.catalogue.is_critical(category):
        return now
    quiet = _quiet_hours(c, preference)
    if quiet is None:
        return now
    start, end = quiet
    tz = zone(contact.time_zone, c.settings.default_time_zone)
    return end_of_quiet_hours(now, tz, start, end) or now


def _quiet_hours(c: Components, preference: Preference | None) -> tuple[time, time] | None:
    if preference is not None and not preference.quiet_hours_enabled:
        return None
    start = preference.quiet_hours_start if preference and preference.quiet_hours_start else None
    end = preference.quiet_hours_end if preference and preference.quiet_hours_end else None
    return parse_clock(start or c.settings.quiet_hours_start), parse_clock(end or c.settings.quiet_hours_end)


# --- recipients and contacts -------------------------------------------------------------------


async def remember_locale(session: AsyncSession, talent_id: str, locale: str | None, now: datetime) -> None:
    repo.forget_person(session, talent_id)
    recipient = await session.get(Recipient, talent_id)
    if recipient is None:
        session.add(Recipient(talent_id=talent_id, locale=locale or templates.DEFAULT_LOCALE, updated_at=now))
    elif locale:
        recipient.locale = locale
        recipient.updated_at = now
    await session.flush()


async def store_contact(session: AsyncSession, c: Components, data: ContactUpdated) -> None:
    """Open the values applicant sealed and seal them again with notify's own keys; never keep them in clear."""
    try:
        email = c.contact_cipher.decrypt(data.email_sealed) if data.email_sealed else None
        phone = c.contact_cipher.decrypt(data.phone_sealed) if data.phone_sealed else None
    except (CipherError, ValueError) as exc:
        # No retry can open a value sealed with a key notify does not hold: dead-letter it at once.
        raise PoisonMessage("contact values do not open with the contact keyring") from exc
    time_zone = data.time_zone if is_time_zone(data.time_zone) else c.settings.default_time_zone
    now = c.clock()
    repo.forget_person(session, data.talent_id)
    contact = await session.get(Contact, data.talent_id)
    if contact is None:
        contact = Contact(talent_id=data.talent_id)
        session.add(contact)
    contact.email_sealed = c.contact_store.encrypt(email) if email else None
    contact.phone_sealed = c.contact_store.encrypt(phone) if phone else None
    contact.time_zone = time_zone
    contact.updated_at = now
    await remember_locale(session, data.talent_id, data.locale, now)


# --- preferences -------------------------------------------------------------------------------


async def get_preferences(session: AsyncSession, c: Components, talent_id: str) -> PreferencesPublic:
    preference = await session.get(Preference, talent_id)
    recipient = await session.get(Recipient, talent_id)
    contact = await session.get(Contact, talent_id)
    chosen: dict[str, list[Channel]] = json.loads(preference.channels) if preference else {}
    quiet = _quiet_hours(c, preference)
    locale = _locale(c, recipient, preference)
    return PreferencesPublic(
        locale="en" if locale == "en" else "zh-CN",
        time_zone=contact.time_zone if contact else c.settings.default_time_zone,
        channels={
            name: chosen.get(name) or list(category.default_channels)
            for name, category in c.catalogue.categories.items()
        },
        critical_categories=[name for name, category in c.catalogue.categories.items() if category.critical],
        quiet_hours=QuietHours(start=quiet[0].strftime("%H:%M"), end=quiet[1].strftime("%H:%M")) if quiet else None,
    )


async def put_preferences(
    session: AsyncSession, c: Components, talent_id: str, body: PreferencesUpdate
) -> PreferencesPublic:
    preference = await session.get(Preference, talent_id)
    if preference is None:
        # A preference row lives next to a recipient row (see repository.get_person).
        await remember_locale(session, talent_id, None, c.clock())
        preference = Preference(talent_id=talent_id)
        session.add(preference)
    if body.locale is not None:
        preference.locale = body.locale
    if body.channels is not None:
        chosen: dict[str, list[Channel]] = json.loads(preference.channels)
        for category, channels in body.channels.items():
            chosen[category] = _checked_channels(c, category, channels)
        preference.channels = json.dumps(chosen)
    if "quiet_hours" in body.model_fields_set:
        if body.quiet_hours is None:
            preference.quiet_hours_enabled = False
        else:
            if body.quiet_hours.start == body.quiet_hours.end:
                raise InvalidField("quiet_hours", "notify.invalid.quiet_hours_equal")
            preference.quiet_hours_enabled = True
            preference.quiet_hours_start = body.quiet_hours.start
            preference.quiet_hours_end = body.quiet_hours.end
    preference.updated_at = c.clock()
    await session.flush()
    return await get_preferences(session, c, talent_id)


def _checked_channels(c: Components, category: str, channels: list[Channel]) -> list[Channel]:
    spec = c.catalogue.categories.get(category)
    if spec is None:
        known = ", ".join(c.catalogue.categories)
        raise InvalidField(f"channels.{category}", "notify.invalid.unknown_channel_category", {"known": known})
    if "in_app" not in channels:
        raise InvalidField(f"channels.{category}", "notify.invalid.in_app_locked")
    if spec.critical:
        missing = [channel for channel in spec.default_channels if channel not in channels]
        if missing:
            raise CriticalChannelLocked(category, missing)
    return [channel for channel in CHANNELS if channel in channels]


# --- reminders before deadlines ----------------------------------------------------------------


def _deadline(value: Any, c: Components) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        # A date-only deadline ends when that day begins where the platform is.
        return datetime.combine(value, time(0), tzinfo=zone(c.settings.default_time_zone, "UTC")).astimezone(UTC)
    raise TypeError(f"a reminder's due field must be a date or datetime, not {type(value).__name__}")


async def start_reminder(
    session: AsyncSession, c: Components, reminder: Reminder, event_id: str, talent_id: str, data: Any
) -> None:
    """Schedule the reminder before the event's deadline (moving an earlier one for the same key)."""
    due = _deadline(getattr(data, reminder.due_field), c) - reminder.before
    key = str(getattr(data, reminder.key_field))
    if due <= c.clock():
        await timers.cancel(session, reminder.timer_kind, key)
        return
    payload = {"talent_id": talent_id, "event_id": event_id, "data": data.model_dump(mode="json")}
    await timers.schedule(session, reminder.timer_kind, key, due, payload)


async def cancel_reminder(session: AsyncSession, reminder: Reminder, data: Any) -> None:
    await timers.cancel(session, reminder.timer_kind, str(getattr(data, reminder.key_field)))


async def fire_reminder(session: AsyncSession, c: Components, reminder: Reminder, payload: Mapping[str, Any]) -> None:
    data = model_for(reminder.on).model_validate(payload["data"])
    await notify_person(
        session,
        c,
        recipient_id=str(payload["talent_id"]),
        source_id=f"reminder:{reminder.name}:{payload['event_id']}",
        template=reminder.template,
        event_type=reminder.template,
        category=reminder.category,
        context=data.model_dump(),
        check_duplicate=True,
    )


# --- sending SMS and e-mail (a kit timer per attempt) ------------------------------------------


async def send_channel_message(session: AsyncSession, c: Components, message_id: str) -> AfterCommit | None:
    """Claim one attempt in the timer's transaction; the SMS or e-mail goes out after it commits.

    The network call never runs inside a transaction (on SQLite that held the database's only write lock
    for as long as the mail server took to answer). In order:

    1. here, in the timer's transaction: the message becomes `sending`, its attempt is counted, and the
       next attempt's timer is set one lease ahead, so a process that stops before step 3 loses nothing;
    2. after the commit: the send itself, with the channel's timeout;
    3. a second transaction records the outcome: `sent` (the spare timer cancelled), or `scheduled` with
       that timer moved to the backoff, or `failed` after the last attempt.

    Never lost: some timer always remains until the outcome is recorded. Never twice, as far as SMTP
    allows: a message is sent twice only if the process stops (or the database fails) after the server
    accepted it and before step 3 commits; then the spare timer sends it again, with the same Message-ID
    reference (the message id), which mail clients use to drop the copy. SMTP itself has no idempotency.

    The inbox entry is never touched: whatever SMS or e-mail do, the person still has it in the app.
    """
    message = await session.get(ChannelMessage, message_id)
    # `sending` here means an attempt whose outcome was never recorded: its spare timer fired.
    if message is None or message.status not in SENDABLE:
        return None
    notification = await session.get(Notification, message.notification_id)
    contact = await session.get(Contact, message.recipient_id)
    sealed = None if contact is None else contact.email_sealed if message.channel == "email" else contact.phone_sealed
    if notification is None or sealed is None or (message.channel == "email" and c.mailer is None):
        await transition_message(session, c, message, MessageAction.SKIP)
        return None
    await transition_message(session, c, message, MessageAction.ATTEMPT)
    attempt, channel, title, body = message.attempts, message.channel, notification.title, notification.body

    async def deliver(database: Database) -> None:
        error: str | None = None
        try:
            address = c.contact_store.decrypt(sealed)
            if channel == "email":
                assert c.mailer is not None
                await c.mailer.send(address, title, body, reference=message_id)
            else:
                await c.sms.send(address, sms_text(title, body), reference=message_id)
        except (ChannelFailure, CipherError) as exc:
            error = str(exc)[:500]
        async with database.transaction() as record_session:
            await _record_attempt(record_session, c, message_id, attempt, error)

    return deliver


async def _record_attempt(
    session: AsyncSession, c: Components, message_id: str, attempt: int, error: str | None
) -> None:
    message = await session.get(ChannelMessage, message_id)
    if message is None or message.status != MessageStatus.SENDING or message.attempts != attempt:
        return  # a later attempt took over (this one outlived its lease): its outcome is the one that counts
    if error is None:
        action = MessageAction.SUCCEED
    elif attempt >= c.settings.channel_max_attempts:
        action = MessageAction.FAIL
    else:
        action = MessageAction.RETRY
    await transition_message(session, c, message, action, error=error)
