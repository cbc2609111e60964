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
from housing.eligibility import TalentFacts, refusals
from housing.exceptions import (
    AlreadyHoldsLease,
    ConcurrentLease,
    OfferExpired,
    OfferNotFound,
    OfferNotOpen,
    UnitAlreadyLeased,
)
from housing.models import HousingApplication, HousingLease, HousingOffer, HousingTalent, HousingUnit
from housing.rounds import settle_round_of
from housing.rules import HOUSING_RULES, RULES, HousingRules, add_years
from housing.schemas import LeasePublic, OfferPublic
from housing.states import OFFER, ApplicationAction, LeaseAction, OfferAction, UnitAction, UnitStatus
from housing.transitions import transition_application, transition_lease, transition_offer, transition_unit
from housing.views import lease_public, offer_public

# The waitlist is read in chunks while looking for the next applicant a passed-on unit fits; the query already
# skips households too big and other projects' fans, so the first chunk almost always holds the one.
WAITLIST_CHUNK = 8


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
    # The offer, its application, its unit and the talent's row in one query (offer and unit locked).
    found = await repo.offer_to_answer(session, offer_id)
    if found is None or found[0].talent_id != talent_id:
        raise OfferNotFound(offer_id)
    offer, application, unit, talent = found
    if not OFFER.can(offer.status, OfferAction.DECLINE):
        raise OfferNotOpen(offer.status)
    if offer.expires_at <= now:
        raise OfferExpired(offer.expires_at)
    if talent is None:
        talent = HousingTalent(talent_id=talent_id)
        session.add(talent)
    with session.no_autoflush:
        # Everything this decline reads first, then its changes: they go out together (one flush, the two
        # applications' status changes in one statement) instead of one autoflush per read. Nothing read below
        # depends on this decline's own changes: the waitlist holds only waitlisted applications, and _pass_on
        # flushes before it counts the round's open offers.
        transition_application(application, ApplicationAction.DECLINE)
        talent.decline_count += 1
        declines = talent.decline_count
        if talent.decline_count >= catalogue.declines_before_bar:
            talent.barred_until, talent.decline_count = now + catalogue.bar_period, 0
        await transition_offer(
            session,
            offer,
            OfferAction.DECLINE,
            now,
            facts={"decline_count": declines},
            unit_numbers={unit.id: unit.number},
        )
        await _pass_on(session, offer, unit, now, catalogue)
    return offer_public(offer, unit, application.tier, catalogue)


async def lapse_offer(session: AsyncSession, offer_id: str, *, now: datetime | None = None) -> bool:
    """The 72-hour clock ran out: the offer lapses and the unit moves on. False when it was answered already."""
    now = now or utcnow()
    found = await repo.offer_to_answer(session, offer_id)
    if found is None or not OFFER.can(found[0].status, OfferAction.LAPSE):
        return False
    offer, application, unit, _ = found
    await transition_offer(session, offer, OfferAction.LAPSE, now, unit_numbers={unit.id: unit.number})
    transition_application(application, ApplicationAction.LAPSE)
    await _pass_on(session, offer, unit, now, (await RULES.current(session, HOUSING_RULES)).value)
    return True


async def _pass_on(
    session: AsyncSession, offer: HousingOffer, unit: HousingUnit, now: datetime, catalogue: HousingRules
) -> None:
    """Offer the (locked) unit of a declined or lapsed offer to the best-ranked waitlisted applicant it fits."""
    after_rank = 0
    today = catalogue.city_today(now)
    capacity = catalogue.unit_capacity.get(unit.unit_type, 0)
    while True:
        # One query per chunk: the next waitlisted applicants the unit may fit, with their eligibility facts.
        chunk = await repo.waitlist_candidates(
            session, offer.round_id, project_id=unit.project_id, capacity=capacity, after_rank=after_rank,
            limit=WAITLIST_CHUNK,
        )  # fmt: skip
        if not chunk:
            break
        after_rank = chunk[-1][0].rank or after_rank
        for candidate, talent, holds_lease in chunk:
            if not _fits(candidate, unit, catalogue):
                continue
            refused = refusals(TalentFacts(talent, holds_lease, today, now))
            if refused:
                transition_application(candidate, ApplicationAction.REFUSE, reason=refused[0][1].english())
                continue
            new_offer = HousingOffer(
                round_id=offer.round_id,
                unit_id=unit.id,
                application_id=candidate.id,
                talent_id=candidate.talent_id,
                made_at=now,
                expires_at=now + catalogue.offer_validity,
            )
            session.add(new_offer)
            transition_application(candidate, ApplicationAction.OFFER)
            await transition_offer(session, new_offer, OfferAction.MAKE, now, unit_numbers={unit.id: unit.number})
            return
    transition_unit(unit, UnitAction.RELEASE, now)
    await session.flush()
    await settle_round_of(session, offer.round_id, now)


def _fits(application: HousingApplication, unit: HousingUnit, catalogue: HousingRules) -> bool:
    preferences = json.loads(application.preferred_project_ids)
    return (not preferences or unit.project_id in preferences) and catalogue.fits(
        unit.unit_type, application.household_size
    )
