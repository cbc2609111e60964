"""Notify endpoints (thin: the rules live in service.py and partners.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from servicekit.auth import PartnerPrincipal, TalentPrincipal
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep

from notify import partners, service
from notify.dependencies import AdminPrincipal, ComponentsDep, OfficialPrincipal
from notify.schemas import (
    DeliveryDetail,
    DeliveryPublic,
    NotificationPublic,
    PartnerKindVisibility,
    PreferencesPublic,
    PreferencesUpdate,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionSecretSet,
    VisibilityUpdate,
)
from notify.states import DeliveryStatus

router = APIRouter(prefix="/api/v1/me", tags=["inbox"])
official_router = APIRouter(prefix="/api/v1/officials", tags=["officials"])
partner_router = APIRouter(prefix="/api/v1/partners", tags=["partners"])
admin_router = APIRouter(prefix="/api/v1/admin/partner-kinds", tags=["admin"])


# --- talents -----------------------------------------------------------------------------------


@router.get("/inbox", response_model=Page[NotificationPublic])
async def list_inbox(
    session: SessionDep,
    principal: TalentPrincipal,
    components: ComponentsDep,
    page: PageDep,
    category: Annotated[str | None, Query(max_length=40, description="only this category")] = None,
    unread: Annotated[bool, Query(description="only unread notifications")] = False,
) -> Page[NotificationPublic]:
    """Your notifications, newest first."""
    return await service.list_inbox(session, components, principal.sub, page, category=category, unread_only=unread)


@router.post("/inbox/{notification_id}/read", response_model=NotificationPublic)
async def mark_read(
    notification_id: str, session: SessionDep, principal: TalentPrincipal, components: ComponentsDep
) -> NotificationPublic:
    """Mark one notification as read."""
    notification = await service.mark_read(session, components, principal.sub, notification_id)
    return NotificationPublic.model_validate(notification, from_attributes=True)


# --- officials --------------------------------------------------------------------------------


@official_router.get("/inbox", response_model=Page[NotificationPublic])
async def list_official_inbox(
    session: SessionDep,
    principal: OfficialPrincipal,
    components: ComponentsDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="only unread messages")] = False,
) -> Page[NotificationPublic]:
    """Your messages as an official, newest first: escalations, deadlines near, the daily digest of your queue."""
    return await service.list_inbox(session, components, principal.sub, page, category=None, unread_only=unread)


@official_router.post("/inbox/{notification_id}/read", response_model=NotificationPublic)
async def mark_official_read(
    notification_id: str, session: SessionDep, principal: OfficialPrincipal, components: ComponentsDep
) -> NotificationPublic:
    """Mark one of your messages as read."""
    notification = await service.mark_read(session, components, principal.sub, notification_id)
    return NotificationPublic.model_validate(notification, from_attributes=True)


@router.get("/notification-preferences", response_model=PreferencesPublic)
async def get_preferences(
    session: SessionDep, principal: TalentPrincipal, components: ComponentsDep
) -> PreferencesPublic:
    """Your channels per category, locale and quiet hours."""
    return await service.get_preferences(session, components, principal.sub)


@router.put("/notification-preferences", response_model=PreferencesPublic)
async def put_preferences(
    body: PreferencesUpdate, session: SessionDep, principal: TalentPrincipal, components: ComponentsDep
) -> PreferencesPublic:
    """Change your channels per category (critical ones stay on), locale or quiet hours."""
    return await service.put_preferences(session, components, principal.sub, body)


# --- partners ----------------------------------------------------------------------------------


@partner_router.post("/subscriptions", response_model=SubscriptionSecretSet, status_code=201)
async def create_subscription(
    body: SubscriptionCreate,
    session: SessionDep,
    principal: PartnerPrincipal,
    components: ComponentsDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Subscribe a webhook URL to event types your partner kind may see."""
    answer = await run_idempotent(
        session,
        principal,
        idempotency_key,
        operation="POST /api/v1/partners/subscriptions",
        body=body,
        create=lambda: partners.create_subscription(session, components, principal, body),
    )
    return partners.with_standard_secret(answer, body.secret)


@partner_router.get("/subscriptions", response_model=Page[SubscriptionPublic])
async def list_subscriptions(
    session: SessionDep, principal: PartnerPrincipal, page: PageDep
) -> Page[SubscriptionPublic]:
    """Your active subscriptions, newest first."""
    return await partners.list_subscriptions(session, principal, page)


@partner_router.get("/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
async def get_subscription(
    subscription_id: str, session: SessionDep, principal: PartnerPrincipal
) -> SubscriptionPublic:
    """One of your subscriptions."""
    return await partners.get_subscription(session, principal, subscription_id)


@partner_router.delete("/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    subscription_id: str, session: SessionDep, principal: PartnerPrincipal, components: ComponentsDep
) -> Response:
    """Stop a subscription; its waiting deliveries are cancelled."""
    await partners.delete_subscription(session, components, principal, subscription_id)
    return Response(status_code=204)


@partner_router.post("/subscriptions/{subscription_id}/rotate-secret", response_model=SubscriptionSecretSet)
async def rotate_secret(
    subscription_id: str,
    body: SecretRotation,
    session: SessionDep,
    principal: PartnerPrincipal,
    components: ComponentsDep,
) -> SubscriptionSecretSet:
    """Replace the signing secret; the old one keeps signing too during the grace period."""
    return await partners.rotate_secret(session, components, principal, subscription_id, body)


@partner_router.get("/deliveries", response_model=Page[DeliveryPublic])
async def list_deliveries(
    session: SessionDep,
    principal: PartnerPrincipal,
    page: PageDep,
    status: Annotated[DeliveryStatus | None, Query(description="only deliveries in this state")] = None,
    subscription_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Page[DeliveryPublic]:
    """Your deliveries and their state, newest first."""
    return await partners.list_deliveries(session, principal, page, status=status, subscription_id=subscription_id)


@partner_router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(delivery_id: str, session: SessionDep, principal: PartnerPrincipal) -> DeliveryDetail:
    """One of your deliveries with every attempt."""
    return await partners.get_delivery(session, principal, delivery_id)


@partner_router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryDetail, status_code=202)
async def redeliver(
    delivery_id: str, session: SessionDep, principal: PartnerPrincipal, components: ComponentsDep
) -> DeliveryDetail:
    """Send a dead or delivered delivery again."""
    return await partners.redeliver(session, components, principal, delivery_id)


# --- administrators ----------------------------------------------------------------------------


@admin_router.get("", response_model=list[PartnerKindVisibility])
async def list_partner_kinds(
    session: SessionDep, _: AdminPrincipal, components: ComponentsDep
) -> list[PartnerKindVisibility]:
    """The event types each partner kind may subscribe to."""
    return await partners.list_visibility(session, components)


@admin_router.put("/{partner_kind}/event-types", response_model=PartnerKindVisibility)
async def set_partner_kind_event_types(
    partner_kind: str, body: VisibilityUpdate, session: SessionDep, admin: AdminPrincipal, components: ComponentsDep
) -> PartnerKindVisibility:
    """Override the event types a partner kind may subscribe to (audited)."""
    return await partners.set_visibility(session, components, admin, partner_kind, body)


@admin_router.delete("/{partner_kind}/event-types", status_code=204)
async def reset_partner_kind_event_types(
    partner_kind: str, session: SessionDep, admin: AdminPrincipal, components: ComponentsDep
) -> Response:
    """Return a partner kind to the default event types (audited)."""
    await partners.reset_visibility(session, components, admin, partner_kind)
    return Response(status_code=204)
