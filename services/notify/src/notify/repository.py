"""Queries of the notify tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from servicekit.pagination import keyset_after
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notify.models import (
    Contact,
    Delivery,
    DeliveryAttempt,
    Notification,
    PartnerVisibility,
    Preference,
    Recipient,
    Subscription,
    SubscriptionType,
)
from notify.states import DeliveryStatus, SubscriptionStatus


def _before(created_column: Any, id_column: Any, after: list[Any]) -> Any:
    """Keyset condition: rows strictly before (created_at, id) = `after`, newest first."""
    return keyset_after((created_column, id_column), after, descending=True)


# --- inbox -------------------------------------------------------------------------------------


async def get_by_source(session: AsyncSession, source_event_id: str, recipient_id: str) -> Notification | None:
    result = await session.exec(
        select(Notification).where(
            Notification.source_event_id == source_event_id, Notification.recipient_id == recipient_id
        )
    )
    return result.first()


Person = tuple[Recipient | None, Preference | None, Contact | None]
_PEOPLE = "notify.people"


def _people(session: AsyncSession) -> dict[str, Person] | None:
    """The people a consumer batch loaded up front (`load_people`), for this transaction only."""
    cached: tuple[Any, dict[str, Person]] | None = session.info.get(_PEOPLE)
    transaction = session.sync_session.get_transaction()
    if cached is None or transaction is None or cached[0] is not transaction:
        return None
    return cached[1]


def forget_person(session: AsyncSession, talent_id: str) -> None:
    """The caller changes the person's rows: get_person asks the database again."""
    people = _people(session)
    if people is not None:
        people.pop(talent_id, None)


def _person_query(talent_ids: Sequence[str]) -> Any:
    # A Contact or Preference row only exists next to a Recipient row (both create it), so one join finds all.
    return (
        select(Recipient, Preference, Contact)
        .outerjoin(Preference, col(Preference.talent_id) == col(Recipient.talent_id))
        .outerjoin(Contact, col(Contact.talent_id) == col(Recipient.talent_id))
        .where(col(Recipient.talent_id).in_(list(talent_ids)))
    )


async def load_people(session: AsyncSession, talent_ids: Iterable[str]) -> None:
    """Load many people's rows with one query per 500, so a batch's handlers need no query each."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return
    people = _people(session)
    if people is None:
        people = {}
        session.info[_PEOPLE] = (transaction, people)
    wanted = sorted({t for t in talent_ids if t not in people})
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found = {row[0].talent_id: (row[0], row[1], row[2]) for row in (await session.exec(_person_query(chunk))).all()}
        for talent_id in chunk:
            people[talent_id] = found.get(talent_id, (None, None, None))


async def get_person(session: AsyncSession, talent_id: str) -> Person:
    """Everything notify needs to write to a person, in one query (the inbox consumer's hot path)."""
    people = _people(session)
    if people is not None and talent_id in people:
        return people[talent_id]
    row = (await session.exec(_person_query([talent_id]))).first()
    return (row[0], row[1], row[2]) if row else (None, None, None)


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
        query = query.where(_before(col(Notification.created_at), col(Notification.id), after))
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit + 1)
    return list((await session.exec(query)).all())


# --- partners ----------------------------------------------------------------------------------


async def get_visibility(session: AsyncSession, partner_kind: str) -> PartnerVisibility | None:
    return await session.get(PartnerVisibility, partner_kind)


async def list_visibility(session: AsyncSession) -> list[PartnerVisibility]:
    return list((await session.exec(select(PartnerVisibility))).all())


async def count_active_subscriptions(session: AsyncSession, partner_id: str) -> int:
    rows = await session.exec(
        select(Subscription.id).where(
            Subscription.partner_id == partner_id, Subscription.status == SubscriptionStatus.ACTIVE
        )
    )
    return len(rows.all())


async def get_subscription(session: AsyncSession, subscription_id: str, partner_id: str) -> Subscription | None:
    subscription = await session.get(Subscription, subscription_id)
    if (
        subscription is None
        or subscription.partner_id != partner_id
        or subscription.status != SubscriptionStatus.ACTIVE
    ):
        return None
    return subscription


async def subscription_types(session: AsyncSession, subscription_ids: list[str]) -> dict[str, list[str]]:
    rows = await session.exec(
        select(SubscriptionType).where(col(SubscriptionType.subscription_id).in_(subscription_ids))
    )
    types: dict[str, list[str]] = {sid: [] for sid in subscription_ids}
    for row in rows.all():
        types[row.subscription_id].append(row.event_type)
    return {sid: sorted(found) for sid, found in types.items()}


async def list_subscriptions(
    session: AsyncSession, partner_id: str, *, limit: int, after: list[Any] | None
) -> list[Subscription]:
    query = select(Subscription).where(
        Subscription.partner_id == partner_id, Subscription.status == SubscriptionStatus.ACTIVE
    )
    if after:
        query = query.where(_before(col(Subscription.created_at), col(Subscription.id), after))
    query = query.order_by(col(Subscription.created_at).desc(), col(Subscription.id).desc()).limit(limit + 1)
    return list((await session.exec(query)).all())


async def active_subscriptions_for(session: AsyncSession, event_type: str) -> list[Subscription]:
    query = (
        select(Subscription)
        .join(SubscriptionType, col(SubscriptionType.subscription_id) == col(Subscription.id))
        .where(SubscriptionType.event_type == event_type, Subscription.status == SubscriptionStatus.ACTIVE)
    )
    return list((await session.exec(query)).all())


async def pending_deliveries_of(session: AsyncSession, subscription_id: str) -> list[Delivery]:
    query = select(Delivery).where(
        Delivery.subscription_id == subscription_id, Delivery.status == DeliveryStatus.PENDING
    )
    return list((await session.exec(query)).all())


async def get_delivery(session: AsyncSession, delivery_id: str, partner_id: str) -> Delivery | None:
    delivery = await session.get(Delivery, delivery_id)
    return delivery if delivery and delivery.partner_id == partner_id else None


async def list_deliveries(
    session: AsyncSession,
    partner_id: str,
    *,
    limit: int,
    after: list[Any] | None,
    status: DeliveryStatus | None,
    subscription_id: str | None,
) -> list[Delivery]:
    query = select(Delivery).where(Delivery.partner_id == partner_id)
    if status:
        query = query.where(Delivery.status == status)
    if subscription_id:
        query = query.where(Delivery.subscription_id == subscription_id)
    if after:
        query = query.where(_before(col(Delivery.created_at), col(Delivery.id), after))
    query = query.order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc()).limit(limit + 1)
    return list((await session.exec(query)).all())


async def attempts_of(session: AsyncSession, delivery_id: str) -> list[DeliveryAttempt]:
    query = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(col(DeliveryAttempt.id))
    return list((await session.exec(query)).all())


async def due_deliveries(
    session: AsyncSession, *, now: datetime, exclude_partners: list[str], limit: int
) -> list[Delivery]:
    query = select(Delivery).where(Delivery.status == DeliveryStatus.PENDING, col(Delivery.next_attempt_at) <= now)
    if exclude_partners:
        query = query.where(col(Delivery.partner_id).notin_(exclude_partners))
    query = query.order_by(col(Delivery.next_attempt_at)).limit(limit)
    # Another replica's worker skips the rows this one is claiming rather than waiting for them (SQLite, one
    # writer at a time, has no FOR UPDATE and SQLAlchemy leaves it out there).
    query = query.with_for_update(skip_locked=True)
    return list((await session.exec(query)).all())


async def subscriptions_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Subscription]:
    rows = await session.exec(select(Subscription).where(col(Subscription.id).in_(ids)))
    return {row.id: row for row in rows.all()}
