"""Applying the other services' events to insight's state rows: last writer wins by event time.

Each function takes the event's time (`at`) and its data, keeps only the fields the statistics need (never a
name, number, phone, e-mail or talent id: a talent becomes a pseudonym here) and changes a group of facts only
when `at` is not older than the time of the fact the row holds. So an event that arrives late, twice or in a
replay changes nothing that a newer one set. Functions flush nothing themselves; the consumer commits.

Two rules keep the rows independent of the order events arrive in (a replay across partitions applies a
talent's events in any order):
- every group of facts has its own time, and an event writes only the groups it carries a value for (a
  revocation sets the status, never the tier it does not name);
- two events of one instant (one transaction may stamp several) are ordered by their values (`supersedes`),
  never by which arrived last.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

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
from contracts.states import ClaimStatus
from sqlmodel.ext.asyncio.session import AsyncSession

from insight import repository as repo
from insight.models import (
    InsightCertification,
    InsightClaim,
    InsightDemand,
    InsightLease,
    InsightOffer,
    InsightPolicyBudget,
    InsightRound,
    InsightTalent,
    InsightVerification,
)
from insight.pseudonyms import Pseudonymiser
from insight.states import DemandStatus, LeaseStatus, OfferStatus, RoundStatus

# Days are the city's days (a certification at 07:00 Beijing time counts for that day, not the UTC one before).
CITY_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def local_day(at: datetime) -> date:
    return at.astimezone(CITY_TIME_ZONE).date()


def stage_hours(case: InsightCertification | InsightClaim) -> None:
    """How long each review stage took, in whole hours (rounded up), from whatever ends are known so far."""
    case.county_hours = _hours(case.submitted_at, case.county_decided_at)
    case.city_hours = _hours(case.county_decided_at, case.city_decided_at)


def _hours(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return math.ceil((end - start).total_seconds() / 3600)


def newer(held: datetime | None, at: datetime) -> bool:
    """True when a time `at` may replace the one held (none held, or not older): for facts that are times."""
    return held is None or at >= held


def supersedes(held_at: datetime | None, held: tuple[object, ...], at: datetime, value: tuple[object, ...]) -> bool:
    """True when a fact `value` of time `at` replaces the `held` one of time `held_at`: none held, a newer
    time, or the same time and a value that sorts at or after the held one (so a tie ends the same whichever
    event came first; a repeat of the held fact changes nothing)."""
    if held_at is None or at > held_at:
        return True
    return at == held_at and _rank(value) >= _rank(held)


def _rank(values: tuple[object, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is not None, str(v)) for v in values)


# --- talents -----------------------------------------------------------------------------------------------


async def talent_profile(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: TalentRegistered | TalentProfileUpdated
) -> None:
    talent = await repo.row(session, InsightTalent, pseudonymise(data.talent_id))
    if isinstance(data, TalentRegistered) and talent.registered_on is None:
        talent.registered_on = local_day(data.registered_at)
    # The region is its own group: an update without one says nothing about it.
    if data.region_code is not None and supersedes(talent.region_at, (talent.region_code,), at, (data.region_code,)):
        talent.region_code, talent.region_at = data.region_code, at
    profile = (data.degree, data.employer_in_shortage_catalogue)
    if supersedes(talent.profile_at, (talent.degree, talent.shortage), at, profile):
        talent.degree, talent.shortage = profile
        talent.profile_at = at


async def certification_submitted(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: CertificationSubmitted
) -> None:
    talent = await repo.row(session, InsightTalent, pseudonymise(data.talent_id))
    if supersedes(talent.route_at, (talent.route,), at, (data.route,)):
        talent.route, talent.route_at = data.route, at
    case = await repo.row(session, InsightCertification, data.certification_id)
    # A returned case is submitted again: the review of the latest submission is what counts.
    submission = (data.region_code, data.route)
    if supersedes(case.submitted_at, (case.region_code, case.route), at, submission):
        case.region_code, case.route = submission
        case.submitted_at = at
    _certification_status(case, at, "submitted")
    stage_hours(case)


async def certification_decided(session: AsyncSession, at: datetime, data: CertificationDecided) -> None:
    case = await repo.row(session, InsightCertification, data.certification_id)
    if data.stage == "county":
        if newer(case.county_decided_at, at):
            case.county_decided_at = at
    elif newer(case.city_decided_at, at):
        case.city_decided_at = at
    _certification_status(case, at, data.status)
    stage_hours(case)


async def certification_escalated(session: AsyncSession, at: datetime, data: CertificationEscalated) -> None:
    case = await repo.row(session, InsightCertification, data.certification_id)
    case.region_code = case.region_code or data.region_code
    if data.stage == "county":
        case.county_escalated = True
    else:
        case.city_escalated = True


def _certification_status(case: InsightCertification, at: datetime, status: str | None) -> None:
    if status and supersedes(case.status_at, (case.status,), at, (status,)):
        case.status, case.status_at = status, at


async def talent_standing(
    session: AsyncSession,
    pseudonymise: Pseudonymiser,
    at: datetime,
    data: TalentCertified | TalentRevoked | TalentExpired | TalentReinstated,
) -> None:
    talent = await repo.row(session, InsightTalent, pseudonymise(data.talent_id))
    tier: str | None = None
    if isinstance(data, TalentCertified):
        status, tier = "certified", data.tier
        # The certification's region stands in only while no profile event named one.
        if talent.region_at is None and supersedes(talent.certified_at, (talent.region_code,), at, (data.region_code,)):
            talent.region_code = data.region_code
        if newer(talent.certified_at, at):
            talent.certified_on, talent.certified_at = local_day(at), at
    elif isinstance(data, TalentRevoked):
        status = "revoked"
    elif isinstance(data, TalentExpired):
        status = "expired"
    else:
        status, tier = str(data.status), data.tier
    if supersedes(talent.status_at, (talent.status,), at, (status,)):
        talent.status, talent.status_at = status, at
    # Only an event that names a tier sets it (a revocation or expiry keeps the tier last held).
    if tier is not None and supersedes(talent.tier_at, (talent.tier,), at, (tier,)):
        talent.tier, talent.tier_at = tier, at


# --- claims ------------------------------------------------------------------------------------------------

# Budget is committed at city approval (or straight through) and stays committed until the money is paid out.
COMMITTED_STATUSES = frozenset(
    {ClaimStatus.CITY_APPROVED, ClaimStatus.PUBLICIZED, ClaimStatus.DISBURSED, ClaimStatus.PAYMENT_FAILED}
)


async def _claim(session: AsyncSession, pseudonymise: Pseudonymiser, claim_id: str, talent_id: str) -> InsightClaim:
    claim = await repo.row(session, InsightClaim, claim_id)
    claim.pseudonym = claim.pseudonym or pseudonymise(talent_id)
    return claim


def _claim_status(claim: InsightClaim, at: datetime, status: str) -> None:
    if supersedes(claim.status_at, (claim.status,), at, (status,)):
        claim.status, claim.status_at = status, at


def _claim_amount(claim: InsightClaim, at: datetime, amount_fen: int | None) -> None:
    if amount_fen is not None and supersedes(claim.amount_at, (claim.amount_fen,), at, (amount_fen,)):
        claim.amount_fen, claim.amount_at = amount_fen, at


async def claim_submitted(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: ClaimSubmitted
) -> None:
    claim = await _claim(session, pseudonymise, data.claim_id, data.talent_id)
    claim.policy_code = data.policy_code
    if claim.submitted_at is None or at < claim.submitted_at:
        # The first submission's day and year: a claim counts against the budget of the year it was made.
        claim.submitted_at, claim.submitted_on, claim.year = at, local_day(at), local_day(at).year
        stage_hours(claim)
    _claim_status(claim, at, data.status)
    _claim_amount(claim, at, data.amount_fen)


async def claim_decided(session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: ClaimDecided) -> None:
    claim = await _claim(session, pseudonymise, data.claim_id, data.talent_id)
    claim.policy_code = data.policy_code
    if data.stage == "county":
        claim.manual = True
        if newer(claim.county_decided_at, at):
            claim.county_decided_at = at
    elif data.stage == "city":
        claim.manual = True
        if newer(claim.city_decided_at, at):
            claim.city_decided_at = at
    stage_hours(claim)
    _claim_status(claim, at, data.status)
    _claim_amount(claim, at, data.amount_fen)


async def claim_publicized(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: ClaimPublicized
) -> None:
    claim = await _claim(session, pseudonymise, data.claim_id, data.talent_id)
    claim.policy_code = data.policy_code
    _claim_status(claim, at, ClaimStatus.PUBLICIZED)
    _claim_amount(claim, at, data.amount_fen)


async def claim_disbursed(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: ClaimDisbursed
) -> None:
    claim = await _claim(session, pseudonymise, data.claim_id, data.talent_id)
    claim.policy_code = data.policy_code
    claim.paid_fen = data.amount_fen
    _claim_status(claim, at, ClaimStatus.DISBURSED)
    _claim_amount(claim, at, data.amount_fen)


async def claim_payment_failed(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: ClaimPaymentFailed
) -> None:
    """The bank refused the claim's payment: it waits for a later batch (its budget stays committed)."""
    claim = await _claim(session, pseudonymise, data.claim_id, data.talent_id)
    claim.policy_code = data.policy_code
    _claim_status(claim, at, data.status)
    _claim_amount(claim, at, data.amount_fen)


async def claim_escalated(
    session: AsyncSession, pseudonymise: Pseudonymiser, at: datetime, data: ClaimEscalated
) -> None:
    claim = await _claim(session, pseudonymise, data.claim_id, data.talent_id)
    if data.stage == "county":
        claim.county_escalated = True
    elif data.stage == "city":
        claim.city_escalated = True


async def policy_published(session: AsyncSession, at: datetime, data: PolicyPublished) -> None:
    # Ordered by the version's own time, not the event's: benefits announces a seeded version when its worker
    # first starts, possibly after a newer version's event, and the newer version must still win.
    budget = await repo.row(session, InsightPolicyBudget, data.policy_code)
    if supersedes(budget.published_at, (budget.yearly_budget_fen,), data.published_at, (data.yearly_budget_fen,)):
        budget.yearly_budget_fen, budget.published_at = data.yearly_budget_fen, data.published_at


# --- housing -----------------------------------------------------------------------------------------------


# A round's statuses in the order it passes them: two of one instant (a draw with no offer to make completes the
# round in its transaction) keep the later one, whichever event arrives first.
_ROUND_ORDER = list(RoundStatus)


async def round_event(
    session: AsyncSession, at: datetime, data: RoundOpened | RoundClosed | RoundDrawn | RoundCompleted
) -> None:
    round_ = await repo.row(session, InsightRound, data.round_id)
    if isinstance(data, RoundOpened):
        round_.unit_count, round_.opened_on = data.unit_count, local_day(at)
        status = RoundStatus.OPEN
    elif isinstance(data, RoundCompleted):
        status = RoundStatus.COMPLETED
    else:
        round_.application_count = max(round_.application_count, data.application_count)
        status = RoundStatus.CLOSED if isinstance(data, RoundClosed) else RoundStatus.DRAWN
    held = _ROUND_ORDER.index(round_.status) if round_.status_at is not None else None
    if supersedes(round_.status_at, (held,), at, (_ROUND_ORDER.index(status),)):
        round_.status, round_.status_at = status, at


_OFFER_STATUS = {
    OfferMade: OfferStatus.MADE,
    OfferAccepted: OfferStatus.ACCEPTED,
    OfferDeclined: OfferStatus.DECLINED,
    OfferLapsed: OfferStatus.LAPSED,
}


async def offer_event(
    session: AsyncSession, at: datetime, data: OfferMade | OfferAccepted | OfferDeclined | OfferLapsed
) -> None:
    offer = await repo.row(session, InsightOffer, data.offer_id, round_id=data.round_id)
    status = _OFFER_STATUS[type(data)]
    if supersedes(offer.status_at, (offer.status,), at, (status,)):
        offer.status, offer.status_at = status, at


async def lease_event(session: AsyncSession, at: datetime, data: LeaseStarted | LeaseRenewed | LeaseEnded) -> None:
    lease = await repo.row(session, InsightLease, data.lease_id)
    if isinstance(data, LeaseStarted):
        lease.starts_on = data.starts_on
        lease.ends_on = lease.ends_on if lease.ends_on and lease.ends_on > data.ends_on else data.ends_on
    elif isinstance(data, LeaseRenewed):
        lease.ends_on = data.ends_on if lease.ends_on is None or data.ends_on > lease.ends_on else lease.ends_on
    status = LeaseStatus.ENDED if isinstance(data, LeaseEnded) else LeaseStatus.ACTIVE
    if supersedes(lease.status_at, (lease.status,), at, (status,)):
        lease.status, lease.status_at = status, at


# --- verifications and demand ------------------------------------------------------------------------------


async def code_verified(session: AsyncSession, verification_id: str, at: datetime, data: CodeVerified) -> None:
    # One row per verification, written once: a redelivery finds it there and changes nothing.
    await repo.row(
        session,
        InsightVerification,
        verification_id,
        day=local_day(at),
        scene=data.scene,
        partner_kind=data.partner_kind,
        valid=data.valid,
        reason=data.reason,
        tier=data.tier,
        issuing_city=data.issuing_city,
    )


async def demand_event(session: AsyncSession, at: datetime, data: DemandDeclared | DemandClosed) -> None:
    demand = await repo.row(session, InsightDemand, data.demand_id)
    if isinstance(data, DemandDeclared):
        demand.declared_on = local_day(data.declared_at)
    status = DemandStatus.CLOSED if isinstance(data, DemandClosed) else DemandStatus.OPEN
    held = (demand.status, demand.region_code, demand.shortage_category, demand.posts)
    latest = (status, data.region_code, data.shortage_category, data.count)
    # Region, category and posts as the latest event says them, with its status.
    if supersedes(demand.status_at, held, at, latest):
        demand.status, demand.region_code, demand.shortage_category, demand.posts = latest
        demand.status_at = at
