"""Partner rules: who may see which event types, subscriptions and their secrets, the pseudonymised fan-out,
and the delivery log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from contracts import EVENT_TYPES, PARTNER_KINDS, PARTNER_VISIBLE_TYPES, CloudEvent, EventData
from fastapi.responses import JSONResponse
from servicekit import audit
from servicekit.auth import Principal
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from servicekit.tracing import current_trace_fields
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import repository as repo
from notify import signing
from notify.components import Components
from notify.exceptions import (
    DeliveryInProgress,
    DeliveryNotFound,
    EventTypeNotVisible,
    InvalidField,
    NotAPartner,
    SubscriptionNotFound,
    TooManySubscriptions,
    UnknownPartnerKind,
    UnknownPseudonym,
)
from notify.models import Delivery, PartnerVisibility, Pseudonym, Subscription, SubscriptionType
from notify.schemas import (
    DeliveryAttemptPublic,
    DeliveryDetail,
    DeliveryPublic,
    PartnerKindVisibility,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionSecretSet,
    VisibilityUpdate,
)
from notify.states import DELIVERY, DeliveryAction, DeliveryStatus, SubscriptionAction
from notify.targets import InvalidTarget, check_url
from notify.transitions import transition_delivery, transition_subscription

# --- which kinds see which types ---------------------------------------------------------------


def shareable_types(c: Components) -> frozenset[str]:
    """Types with a partner payload allow-list: the only ones any partner kind may ever be allowed to see."""
    return frozenset(c.catalogue.partner_payload_fields) - c.catalogue.never_for_partners


async def visible_types(session: AsyncSession, c: Components, partner_kind: str) -> frozenset[str]:
    """The catalogue default (contracts.PARTNER_VISIBLE_TYPES) unless an administrator overrode it."""
    override = await repo.get_visibility(session, partner_kind)
    allowed = frozenset(json.loads(override.event_types)) if override else PARTNER_VISIBLE_TYPES.get(partner_kind)
    return (allowed or frozenset()) & shareable_types(c)


async def list_visibility(session: AsyncSession, c: Components) -> list[PartnerKindVisibility]:
    overrides = {row.partner_kind for row in await repo.list_visibility(session)}
    return [
        PartnerKindVisibility(
            partner_kind=kind,
            event_types=sorted(await visible_types(session, c, kind)),
            overridden=kind in overrides,
        )
        for kind in PARTNER_KINDS
    ]


async def set_visibility(
    session: AsyncSession, c: Components, admin: Principal, partner_kind: str, body: VisibilityUpdate
) -> PartnerKindVisibility:
    if partner_kind not in PARTNER_KINDS:
        raise UnknownPartnerKind(partner_kind)
    for index, event_type in enumerate(body.event_types):
        if event_type not in EVENT_TYPES:
            raise InvalidField(f"event_types.{index}", "notify.invalid.unknown_event_type", {"event_type": event_type})
        if event_type in c.catalogue.never_for_partners:
            raise InvalidField(f"event_types.{index}", "notify.invalid.personal_event_type", {"event_type": event_type})
        if event_type not in shareable_types(c):
            raise InvalidField(f"event_types.{index}", "notify.invalid.no_partner_payload", {"event_type": event_type})
    before = sorted(await visible_types(session, c, partner_kind))
    row = await repo.get_visibility(session, partner_kind)
    if row is None:
        row = PartnerVisibility(partner_kind=partner_kind, event_types="[]", updated_by=admin.sub)
        session.add(row)
    row.event_types = json.dumps(sorted(set(body.event_types)))
    row.updated_by = admin.sub
    row.updated_at = c.clock()
    after = sorted(set(body.event_types))
    await audit.record(
        session,
        admin,
        "partner_visibility.set",
        subject_type="partner_kind",
        subject_id=partner_kind,
        before=before,
        after=after,
        reason=body.reason,
    )
    return PartnerKindVisibility(partner_kind=partner_kind, event_types=after, overridden=True)


async def reset_visibility(session: AsyncSession, c: Components, admin: Principal, partner_kind: str) -> None:
    if partner_kind not in PARTNER_KINDS:
        raise UnknownPartnerKind(partner_kind)
    row = await repo.get_visibility(session, partner_kind)
    if row is None:
        return
    before = sorted(json.loads(row.event_types))
    await session.delete(row)
    await audit.record(
        session,
        admin,
        "partner_visibility.reset",
        subject_type="partner_kind",
        subject_id=partner_kind,
        before=before,
        after=sorted(PARTNER_VISIBLE_TYPES.get(partner_kind, frozenset())),
    )


# --- subscriptions -----------------------------------------------------------------------------


def _partner_kind(principal: Principal) -> str:
    if not principal.partner_kind:
        raise NotAPartner()
    return principal.partner_kind


async def _check_target(c: Components, url: str) -> None:
    try:
        await check_url(url, allow_private=c.settings.allow_private_targets, network=c.network)
    except InvalidTarget as exc:
        raise InvalidField("url", exc.key, exc.params) from exc


def _public(subscription: Subscription, event_types: list[str]) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=subscription.id,
        event_types=event_types,
        url=subscription.url,
        status=subscription.status,
        previous_secret_expires_at=subscription.previous_secret_expires_at,
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
    )


def with_standard_secret(answer: Any, secret: str) -> Any:
    """Add the Standard Webhooks form of the caller's own secret to a create answer.

    Added after the answer is stored for idempotent replays, never inside it: the stored answer is plain JSON
    in the database, where a secret must not rest. A replay (a JSONResponse) gets it from the replayed body.
    """
    standard = signing.standard_secret(secret)
    if isinstance(answer, JSONResponse):
        body = json.loads(bytes(answer.body))
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in {"content-length", "content-type"}}
        return JSONResponse({**body, "standard_webhooks_secret": standard}, answer.status_code, headers=kept)
    return SubscriptionSecretSet(**answer.model_dump(), standard_webhooks_secret=standard)


async def create_subscription(
    session: AsyncSession, c: Components, principal: Principal, body: SubscriptionCreate
) -> SubscriptionPublic:
    kind = _partner_kind(principal)
    event_types = list(dict.fromkeys(body.event_types))
    for index, event_type in enumerate(event_types):
        if event_type not in EVENT_TYPES:
            raise InvalidField(f"event_types.{index}", "notify.invalid.unknown_event_type", {"event_type": event_type})
    allowed = await visible_types(session, c, kind)
    refused = [event_type for event_type in event_types if event_type not in allowed]
    if refused:
        raise EventTypeNotVisible(kind, refused)
    await _check_target(c, body.url)
    if await repo.count_active_subscriptions(session, principal.sub) >= c.settings.max_subscriptions_per_partner:
        raise TooManySubscriptions(c.settings.max_subscriptions_per_partner)
    now = c.clock()
    subscription = Subscription(
        partner_id=principal.sub,
        partner_kind=kind,
        url=body.url,
        secret_sealed=c.secret_store.encrypt(body.secret),
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    for event_type in event_types:
        session.add(SubscriptionType(subscription_id=subscription.id, event_type=event_type))
    await session.flush()
    await audit.record(
        session,
        principal,
        "subscription.created",
        subject_type="subscription",
        subject_id=subscription.id,
        after={"url": body.url, "event_types": event_types},
    )
    return _public(subscription, sorted(event_types))


async def _own_subscription(session: AsyncSession, principal: Principal, subscription_id: str) -> Subscription:
    _partner_kind(principal)
    subscription = await repo.get_subscription(session, subscription_id, principal.sub)
    if subscription is None:
        raise SubscriptionNotFound()
    return subscription


async def get_subscription(session: AsyncSession, principal: Principal, subscription_id: str) -> SubscriptionPublic:
    subscription = await _own_subscription(session, principal, subscription_id)
    types = await repo.subscription_types(session, [subscription.id])
    return _public(subscription, types[subscription.id])


async def list_subscriptions(session: AsyncSession, principal: Principal, page: PageParams) -> Page[SubscriptionPublic]:
    _partner_kind(principal)
    after = page.position(cursor_time, cursor_key)
    rows = await repo.list_subscriptions(session, principal.sub, limit=page.limit, after=after)
    found = keyset_page(rows, page.limit, lambda row: [row.created_at.isoformat(), row.id])
    types = await repo.subscription_types(session, [row.id for row in found.items])
    return Page(items=[_public(row, types[row.id]) for row in found.items], next_cursor=found.next_cursor)


async def delete_subscription(session: AsyncSession, c: Components, principal: Principal, subscription_id: str) -> None:
    """Stop the subscription; deliveries still waiting for it are cancelled (the log keeps them)."""
    subscription = await _own_subscription(session, principal, subscription_id)
    await transition_subscription(session, subscription, SubscriptionAction.DELETE, c.clock(), actor=principal)


async def rotate_secret(
    session: AsyncSession, c: Components, principal: Principal, subscription_id: str, body: SecretRotation
) -> SubscriptionSecretSet:
    """The new secret signs from now on; the old one signs too (a second v1=) until the grace period ends."""
    subscription = await _own_subscription(session, principal, subscription_id)
    now = c.clock()
    grace = c.settings.secret_rotation_grace_s if body.grace_seconds is None else body.grace_seconds
    subscription.previous_secret_sealed = subscription.secret_sealed if grace > 0 else None
    subscription.previous_secret_expires_at = now + timedelta(seconds=grace) if grace > 0 else None
    subscription.secret_sealed = c.secret_store.encrypt(body.secret)
    subscription.updated_at = now
    await audit.record(
        session,
        principal,
        "subscription.secret_rotated",
        subject_type="subscription",
        subject_id=subscription.id,
        after={"previous_secret_expires_at": subscription.previous_secret_expires_at},
    )
    types = await repo.subscription_types(session, [subscription.id])
    public = _public(subscription, types[subscription.id])
    return SubscriptionSecretSet(**public.model_dump(), standard_webhooks_secret=signing.standard_secret(body.secret))


def signing_secrets(c: Components, subscription: Subscription) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one during its grace period."""
    secrets = [c.secret_store.decrypt(subscription.secret_sealed)]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret_sealed and expires is not None and expires > c.clock():
        secrets.append(c.secret_store.decrypt(subscription.previous_secret_sealed))
    return secrets


# --- fan-out: one pseudonymised delivery per matching subscription -----------------------------


def partner_event(c: Components, event: CloudEvent, pseudonym: str | None) -> str:
    """The event as partners get it: the pseudonym for the talent, and only the allow-listed data fields."""
    allowed = c.catalogue.partner_payload_fields.get(event.type, ())
    data: dict[str, Any] = {name: event.data[name] for name in allowed if name in event.data}
    if pseudonym is not None:
        data = {"pseudonym": pseudonym, **data}
    # The trace of notify's handling (CloudEvents Distributed Tracing): each delivery attempt is its child.
    shared = CloudEvent(
        id=event.id,
        source=event.source,
        type=event.type,
        time=event.time,
        subject=pseudonym,
        data=data,
        **current_trace_fields(),
    )
    return shared.to_json().decode()


async def fan_out(session: AsyncSession, c: Components, event: CloudEvent, data: EventData) -> int:
    """Learn the pseudonym the event carries, then queue a delivery for every subscription that may see it."""
    talent_id: str | None = getattr(data, "talent_id", None)
    pseudonym: str | None = getattr(data, "pseudonym", None)
    if talent_id and pseudonym:
        known = await session.get(Pseudonym, talent_id)
        if known is None:
            session.add(Pseudonym(talent_id=talent_id, pseudonym=pseudonym))
        elif known.pseudonym != pseudonym:
            known.pseudonym = pseudonym
    if event.type in c.catalogue.never_for_partners:
        return 0
    subscriptions = await repo.active_subscriptions_for(session, event.type)
    if not subscriptions:
        return 0
    if talent_id and pseudonym is None:
        known = await session.get(Pseudonym, talent_id)
        if known is None:
            raise UnknownPseudonym(f"no pseudonym known yet for the subject of {event.type} {event.id}")
        pseudonym = known.pseudonym
    payload = partner_event(c, event, pseudonym)
    now = c.clock()
    visible: dict[str, frozenset[str]] = {}
    queued = 0
    for subscription in subscriptions:
        kind = subscription.partner_kind
        if kind not in visible:
            visible[kind] = await visible_types(session, c, kind)
        if event.type not in visible[kind]:
            continue  # an administrator narrowed the kind's types after the subscription was made
        session.add(
            Delivery(
                subscription_id=subscription.id,
                partner_id=subscription.partner_id,
                event_id=event.id,
                event_type=event.type,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued += 1
    return queued


# --- the delivery log --------------------------------------------------------------------------


def _delivery_public(delivery: Delivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(
        {
            **delivery.model_dump(),
            "next_attempt_at": delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None,
        }
    )


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    status: DeliveryStatus | None,
    subscription_id: str | None,
) -> Page[DeliveryPublic]:
    _partner_kind(principal)
    after = page.position(cursor_time, cursor_key)
    rows = await repo.list_deliveries(
        session, principal.sub, limit=page.limit, after=after, status=status, subscription_id=subscription_id
    )
    found = keyset_page(rows, page.limit, lambda row: [row.created_at.isoformat(), row.id])
    return Page(items=[_delivery_public(row) for row in found.items], next_cursor=found.next_cursor)


async def get_delivery(session: AsyncSession, principal: Principal, delivery_id: str) -> DeliveryDetail:
    _partner_kind(principal)
    delivery = await repo.get_delivery(session, delivery_id, principal.sub)
    if delivery is None:
        raise DeliveryNotFound()
    attempts = await repo.attempts_of(session, delivery.id)
    return DeliveryDetail(
        **_delivery_public(delivery).model_dump(),
        attempt_log=[DeliveryAttemptPublic.model_validate(a, from_attributes=True) for a in attempts],
    )


async def redeliver(session: AsyncSession, c: Components, principal: Principal, delivery_id: str) -> DeliveryDetail:
    """Send a dead (or already delivered) delivery again, with a fresh round of retries."""
    _partner_kind(principal)
    delivery = await repo.get_delivery(session, delivery_id, principal.sub)
    if delivery is None:
        raise DeliveryNotFound()
    if not DELIVERY.can(delivery.status, DeliveryAction.REDELIVER):
        raise DeliveryInProgress()
    subscription = await repo.get_subscription(session, delivery.subscription_id, principal.sub)
    if subscription is None:
        raise SubscriptionNotFound()
    transition_delivery(delivery, DeliveryAction.REDELIVER, c.clock())
    await session.flush()
    return await get_delivery(session, principal, delivery.id)
