"""Insight's consumer: every event the statistics read, from the applicant, benefits and housing topics.

One group (`insight.facts`): each handler decodes and calls one function of insight.facts with the event's time.
The kit's consumer applies an event at most once (its ledger) and the facts are last-writer-wins by event
time, so duplicates, any order and replays give the same rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts import CloudEvent, EventData
from contracts.events import (
    CertificationDecided,
    CertificationEscalated,
    CertificationSubmitted,
    ClaimDecided,
    ClaimDisbursed,
    ClaimEscalated,
    ClaimPaymentFailed,
    ClaimPublicized,
    ClaimSubmitted,
    CodeVerified,
    DemandClosed,
    DemandDeclared,
    LeaseEnded,
    LeaseRenewed,
    LeaseStarted,
    OfferAccepted,
    OfferDeclined,
    OfferLapsed,
    OfferMade,
    PolicyPublished,
    RoundClosed,
    RoundCompleted,
    RoundDrawn,
    RoundOpened,
    TalentCertified,
    TalentExpired,
    TalentProfileUpdated,
    TalentRegistered,
    TalentReinstated,
    TalentRevoked,
)
from servicekit.consumer import Handler, with_prepare
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from insight import facts
from insight.models import (
    InsightCertification,
    InsightClaim,
    InsightDemand,
    InsightLease,
    InsightOffer,
    InsightRound,
    InsightTalent,
)
from insight.pseudonyms import Pseudonymiser

# The state row an event's id field names (a talent's through its pseudonym, below).
_ROWS_BY_FIELD: dict[str, type[SQLModel]] = {
    "certification_id": InsightCertification,
    "claim_id": InsightClaim,
    "round_id": InsightRound,
    "offer_id": InsightOffer,
    "lease_id": InsightLease,
    "demand_id": InsightDemand,
}

Apply = Callable[[AsyncSession, datetime, Any], Awaitable[None]]


def fact_handlers(
    pseudonymise: Pseudonymiser, on_applied: Callable[[AsyncSession], None] | None = None
) -> Mapping[type[EventData], Handler]:
    """The handlers of every fact; `on_applied` is told each batch's session (the worker's snapshot keeper)."""

    def timed(apply: Apply) -> Handler:
        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            await apply(session, event.time, data)

        return handler

    def personal(apply: Callable[[AsyncSession, Pseudonymiser, datetime, Any], Awaitable[None]]) -> Handler:
        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            await apply(session, pseudonymise, event.time, data)

        return handler

    async def on_code_verified(session: AsyncSession, event: CloudEvent, data: CodeVerified) -> None:
        # The subject is the verification's own id; an event without one is counted under its event id.
        await facts.code_verified(session, event.subject or event.id, event.time, data)

    handlers: dict[type[EventData], Handler] = {
        TalentRegistered: personal(facts.talent_profile),
        TalentProfileUpdated: personal(facts.talent_profile),
        CertificationSubmitted: personal(facts.certification_submitted),
        CertificationDecided: timed(facts.certification_decided),
        CertificationEscalated: timed(facts.certification_escalated),
        CodeVerified: on_code_verified,
        DemandDeclared: timed(facts.demand_event),
        DemandClosed: timed(facts.demand_event),
        PolicyPublished: timed(facts.policy_published),
        RoundOpened: timed(facts.round_event),
        RoundClosed: timed(facts.round_event),
        RoundDrawn: timed(facts.round_event),
        RoundCompleted: timed(facts.round_event),
        LeaseStarted: timed(facts.lease_event),
        LeaseRenewed: timed(facts.lease_event),
        LeaseEnded: timed(facts.lease_event),
    }
    for standing in (TalentCertified, TalentRevoked, TalentExpired, TalentReinstated):
        handlers[standing] = personal(facts.talent_standing)
    for claim_type, apply in (
        (ClaimSubmitted, facts.claim_submitted),
        (ClaimDecided, facts.claim_decided),
        (ClaimPublicized, facts.claim_publicized),
        (ClaimDisbursed, facts.claim_disbursed),
        (ClaimPaymentFailed, facts.claim_payment_failed),
        (ClaimEscalated, facts.claim_escalated),
    ):
        handlers[claim_type] = personal(apply)
    for offer_type in (OfferMade, OfferAccepted, OfferDeclined, OfferLapsed):
        handlers[offer_type] = timed(facts.offer_event)

    async def load_batch(session: AsyncSession, items: Sequence[tuple[CloudEvent, EventData]]) -> None:
        # Every state row the batch will touch, one query per table, into the session: the handlers' look-ups
        # then find them there instead of asking once per event (the handlers give the same without this).
        wanted: dict[type[SQLModel], set[str]] = {}
        for _, data in items:
            talent_id = getattr(data, "talent_id", None)
            if talent_id:
                wanted.setdefault(InsightTalent, set()).add(pseudonymise(str(talent_id)))
            for name, model in _ROWS_BY_FIELD.items():
                value = getattr(data, name, None)
                if value:
                    wanted.setdefault(model, set()).add(str(value))
        for model, keys in wanted.items():
            key = col(next(iter(model.__table__.primary_key.columns)))  # type: ignore[attr-defined]
            (await session.exec(select(model).where(key.in_(sorted(keys))))).all()

    if on_applied is not None:
        handlers = {data_type: _telling(on_applied, handler) for data_type, handler in handlers.items()}
    return with_prepare(load_batch, handlers)


def _telling(on_applied: Callable[[AsyncSession], None], handler: Handler) -> Handler:
    async def told(session: AsyncSession, event: CloudEvent, data: Any) -> None:
        on_applied(session)
        await handler(session, event, data)

    return told
