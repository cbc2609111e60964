"""The offer cascade: a talent accepts an offer (a lease starts) or declines it, or it lapses after its clock
runs out; a declined or lapsed unit passes to the next ranked applicant it fits.

Every function works inside the caller's transaction: it flushes, never commits.
"""

from __future__ import annotations

import json
from datetime import datetime

from servicekit.db import utcnow
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import repository as repo
from housing.eligibility import refusals
from housing.exceptions import (
    AlreadyHoldsLease,
    ConcurrentLease,
    OfferExpired,
    OfferNotFound,
    OfferNotOpen,
    UnitAlreadyLeased,
)
from housing.models import HousingApplication, HousingLease, HousingOffer, HousingUnit
from housing.rounds import settle_round_of
from housing.rules import HOUSING_RULES, RULES, HousingRules, add_years
from housing.schemas import LeasePublic, OfferPublic
from housing.states import OFFER, ApplicationAction, LeaseAction, OfferAction, UnitAction, UnitStatus
from housing.transitions import transition_application, transition_lease, transition_offer, transition_unit
from housing.views import lease_public, offer_public

# The waitlist is read in chunks while looking for the next applicant a passed-on unit fits.
WAITLIST_CHUNK = 25


async def _own_open_offer(
    session: AsyncSession, talent_id: str, offer_id: str, now: datetime, action: OfferAction
) -> HousingOffer:
    """The talent's offer, locked, if `action` may answer it now."""
    offer = await repo.locked(session, HousingOffer, offer_id)
    if offer is None or offer.talent_id != talent_id:
        raise OfferNotFound(offer_id)
    if not OFFER.can(offer.status, action):
        raise OfferNotOpen(offer.status)
    if offer.expires_at <= now:
        raise OfferExpired(offer.expires_at)
    return offer


async def accept_offer(
    session: AsyncSession, talent_id: str, offer_id: str, *, now: datetime | None = None
) -> LeasePublic:
    """Accept an open offer: a lease at the tier's rent starts today (city date)."""
    now = now or utcnow()
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    offer = await _own_open_offer(session, talent_id, offer_id, now, OfferAction.ACCEPT)
    unit = await repo.locked(session, HousingUnit, offer.unit_id)
    assert unit is not None
    if await repo.active_lease_of(session, talent_id) is not None:
        raise AlreadyHoldsLease()
    if unit.status == UnitStatus.LEASED or await repo.active_lease_on_unit(session, unit.id) is not None:
        raise UnitAlreadyLeased()
    application = await session.get(HousingApplication, offer.application_id)
    assert application is not None
    starts_on = catalogue.city_today(now)
    lease = HousingLease(
        unit_id=unit.id,
        talent_id=talent_id,
        offer_id=offer.id,
        round_id=offer.round_id,
        tier=application.tier,
        list_rent_fen=unit.monthly_rent_fen,
        monthly_rent_fen=catalogue.rent_for(application.tier, unit.monthly_rent_fen),
        starts_on=starts_on,
        ends_on=add_years(starts_on, catalogue.lease_term_years),
        created_at=now,
        updated_at=now,
    )
    session.add(lease)
    transition_application(application, ApplicationAction.HOUSE)
    transition_unit(unit, UnitAction.LEASE, now)
    try:
        # The partial unique indexes (one active lease per unit, per talent) catch what the locks cannot.
        await session.flush()
    except IntegrityError as exc:
        raise ConcurrentLease() from exc
    await transition_offer(session, offer, OfferAction.ACCEPT, now)
    await transition_lease(session, lease, LeaseAction.START, now, catalogue)
    await settle_round_of(session, offer.round_id, now)
    return lease_public(lease, catalogue)


async def decline_offer(
    session: AsyncSession, talent_id: str, offer_id: str, *, now: datetime | None = None
) -> OfferPublic:
    """Decline an open offer: the unit goes to the next ranked applicant; two declines bar you for a year."""
    now = now or utcnow()
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    offer = await _own_open_offer(session, talent_id, offer_id, now, OfferAction.DECLINE)
    # Everything this decline reads first, then its changes: they go out together (one flush, the two
    # applications' status changes in one statement) instead of one autoflush per read.
    application = await session.get(HousingApplication, offer.application_id)
    assert application is not None
    talent = await repo.get_or_create_talent(session, talent_id)
    with session.no_autoflush:
        # Nothing read below depends on this decline's own changes: the waitlist holds only waitlisted
        # applications, and _pass_on flushes before it counts the round's open offers.
        transition_application(application, ApplicationAction.DECLINE)
        talent.decline_count += 1
        declines = talent.decline_count
        if talent.decline_count >= catalogue.declines_before_bar:
            talent.barred_until, talent.decline_count = now + catalogue.bar_period, 0
        await transition_offer(session, offer, OfferAction.DECLINE, now, facts={"decline_count": declines})
        unit = await _pass_on(session, offer, now, catalogue)
    return offer_public(offer, unit, application.tier, catalogue)


async def lapse_offer(session: AsyncSession, offer_id: str, *, now: datetime | None = None) -> bool:
    """The 72-hour clock ran out: the offer lapses and the unit moves on. False when it was answered already."""
    now = now or utcnow()
    offer = await repo.locked(session, HousingOffer, offer_id)
    if offer is None or not OFFER.can(offer.status, OfferAction.LAPSE):
        return False
    await transition_offer(session, offer, OfferAction.LAPSE, now)
    application = await session.get(HousingApplication, offer.application_id)
    if application is not None:
        transition_application(application, ApplicationAction.LAPSE)
    await _pass_on(session, offer, now, (await RULES.current(session, HOUSING_RULES)).value)
    return True


async def _pass_on(session: AsyncSession, offer: HousingOffer, now: datetime, catalogue: HousingRules) -> HousingUnit:
    """Offer the unit of a declined or lapsed offer to the best-ranked waitlisted applicant it fits; returns it."""
    unit = await repo.locked(session, HousingUnit, offer.unit_id)
    assert unit is not None
    after_rank = 0
    while True:
        chunk = await repo.waitlist_after(session, offer.round_id, after_rank, WAITLIST_CHUNK)
        if not chunk:
            break
        after_rank = chunk[-1].rank or after_rank
        fitting = [a for a in chunk if _fits(a, unit, catalogue)]
        talent_ids = [a.talent_id for a in fitting]
        facts = await repo.eligibility_facts(session, talent_ids, catalogue.city_today(now), now) if fitting else {}
        for candidate in fitting:
            refused = refusals(facts[candidate.talent_id])
            if refused:
                transition_application(candidate, ApplicationAction.REFUSE, reason=refused[0][1].english())
                continue
            expires_at = now + catalogue.offer_validity
            new_offer = HousingOffer(
                round_id=offer.round_id,
                unit_id=unit.id,
                application_id=candidate.id,
                talent_id=candidate.talent_id,
                made_at=now,
                expires_at=expires_at,
            )
            session.add(new_offer)
            transition_application(candidate, ApplicationAction.OFFER)
            await transition_offer(session, new_offer, OfferAction.MAKE, now)
            return unit
    transition_unit(unit, UnitAction.RELEASE, now)
    await session.flush()
    await settle_round_of(session, offer.round_id, now)
    return unit


def _fits(application: HousingApplication, unit: HousingUnit, catalogue: HousingRules) -> bool:
    preferences = json.loads(application.preferred_project_ids)
    return (not preferences or unit.project_id in preferences) and catalogue.fits(
        unit.unit_type, application.household_size
    )
