"""Benefits' event consumers: the talents' read model, 免申即享, and the cross-service rules.

Events of different topics may arrive in any order (a certification before the registration it
follows), so every handler upserts a partial row, and profile and status facts carry the time of the
event that set them: an older event never overwrites a newer fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from contracts import (
    ChangeRequestDecided,
    ChangeRequestSubmitted,
    CloudEvent,
    EmploymentAttestationWithdrawn,
    EmploymentAttested,
    EventData,
    HousingVoucherUsed,
    LeaseEnded,
    LeaseStarted,
    TalentCertified,
    TalentExpired,
    TalentPointsChanged,
    TalentProfileUpdated,
    TalentRegistered,
    TalentReinstated,
    TalentRevoked,
)
from contracts.events import CodeVerified
from servicekit.consumer import Handler, with_prepare
from servicekit.db import utcnow
from servicekit.timers import TimerHandler
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import deadlines, flow, renewals, settlements, signals
from benefits.clock import Clock
from benefits.config import get_settings
from benefits.models import TalentFacts
from benefits.repository import BenefitsRepository
from benefits.states import TalentFactsStatus

PROFILE_FIELDS = (
    "degree",
    "graduated_on",
    "birth_date",
    "title",
    "employer_region_code",
    "employer_in_shortage_catalogue",
    "social_insurance_months",
    "owns_home_in_city",
    "works_in_city",
    "provenance",
    # For the public 公示 list only (benefits.publicity).
    "name_masked",
    "employer_name",
)


def _newer(as_of: datetime | None, event_time: datetime) -> bool:
    return as_of is None or event_time >= as_of


def _apply_profile(facts: TalentFacts, event: CloudEvent, data: TalentRegistered | TalentProfileUpdated) -> bool:
    """Take the profile facts if this event is not older than the ones held; True when they were taken."""
    if not _newer(facts.profile_as_of, event.time):
        return False
    for name in PROFILE_FIELDS:
        setattr(facts, name, getattr(data, name))
    if data.region_code:
        facts.region_code = data.region_code
    facts.profile_as_of = event.time
    facts.updated_at = utcnow()
    if facts.status == TalentFactsStatus.UNKNOWN:
        facts.status = TalentFactsStatus.REGISTERED
    return True


def consumers(clock: Clock, city_code: str = "330400") -> dict[str, dict[type[EventData], Handler]]:
    """The consumer groups of the service, bound to the claim flow's clock (and the city, for settlement)."""

    async def on_registered(session: AsyncSession, event: CloudEvent, data: TalentRegistered) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        facts.pseudonym = data.pseudonym
        if _apply_profile(facts, event, data):
            # A certification that arrived first waited for these facts.
            await flow.auto_grant(session, data.talent_id, clock)

    async def on_profile_updated(session: AsyncSession, event: CloudEvent, data: TalentProfileUpdated) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        if _apply_profile(facts, event, data):
            await flow.auto_grant(session, data.talent_id, clock)

    async def on_certified(session: AsyncSession, event: CloudEvent, data: TalentCertified) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        facts.pseudonym = data.pseudonym
        if not _newer(facts.status_as_of, event.time):
            return
        facts.status, facts.status_as_of = TalentFactsStatus.CERTIFIED, event.time
        facts.tier, facts.points = data.tier, data.points
        facts.certified_until, facts.certified_region_code = data.certified_until, data.region_code
        facts.updated_at = utcnow()
        await flow.auto_grant(session, data.talent_id, clock)

    async def on_points_changed(session: AsyncSession, event: CloudEvent, data: TalentPointsChanged) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        facts.points = data.points
        facts.updated_at = utcnow()

    async def on_revoked(session: AsyncSession, event: CloudEvent, data: TalentRevoked) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        facts.pseudonym = data.pseudonym
        if not _newer(facts.status_as_of, event.time):
            return  # a later status (a reinstatement) arrived first: the claims filed since then stand
        facts.status, facts.status_as_of = TalentFactsStatus.REVOKED, event.time
        facts.updated_at = utcnow()
        await session.flush()
        await flow.stop_open_claims(session, data.talent_id, "benefits.stop.revoked", clock)

    async def on_reinstated(session: AsyncSession, event: CloudEvent, data: TalentReinstated) -> None:
        # The revocation is lifted: the talent stands where applicant says (certified again while the
        # certification is valid); claims stopped by the revocation stay stopped, new ones may be filed.
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        facts.pseudonym = data.pseudonym
        if not _newer(facts.status_as_of, event.time):
            return
        facts.status, facts.status_as_of = TalentFactsStatus(data.status), event.time
        if data.tier is not None:
            facts.tier = data.tier
        if data.certified_until is not None:
            facts.certified_until = data.certified_until
        facts.updated_at = utcnow()
        if facts.status == TalentFactsStatus.CERTIFIED:
            await flow.auto_grant(session, data.talent_id, clock)

    async def on_expired(session: AsyncSession, event: CloudEvent, data: TalentExpired) -> None:
        # Claims already filed go on (they were eligible when filed); new ones need a new certification.
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        if _newer(facts.status_as_of, event.time):
            facts.status, facts.status_as_of = TalentFactsStatus.EXPIRED, event.time
            facts.updated_at = utcnow()

    async def on_lease_started(session: AsyncSession, event: CloudEvent, data: LeaseStarted) -> None:
        lease = await BenefitsRepository.of(session).get_or_add_lease(data.lease_id, data.talent_id)
        lease.started = True
        await session.flush()
        if not lease.ended:
            await flow.stop_open_claims(
                session, data.talent_id, "benefits.stop.lease_started", clock, exclusion="active_lease"
            )

    async def on_lease_ended(session: AsyncSession, event: CloudEvent, data: LeaseEnded) -> None:
        # Claimable again: eligibility reads the leases, so nothing else has to change.
        lease = await BenefitsRepository.of(session).get_or_add_lease(data.lease_id, data.talent_id)
        lease.ended = True

    async def on_voucher_used(session: AsyncSession, event: CloudEvent, data: HousingVoucherUsed) -> None:
        # Set already by the disbursement itself; kept so a rebuilt read model (replay) has it too.
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        facts.housing_voucher_used = True

    async def on_attested(session: AsyncSession, event: CloudEvent, data: EmploymentAttested) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        signals.take_attestation(facts, data, event.time)

    async def on_attestation_withdrawn(
        session: AsyncSession, event: CloudEvent, data: EmploymentAttestationWithdrawn
    ) -> None:
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        signals.withdraw_attestation(facts, data, event.time)

    async def on_change_request(
        session: AsyncSession, event: CloudEvent, data: ChangeRequestSubmitted | ChangeRequestDecided
    ) -> None:
        # A pending request keeps the talent's new claims out of straight-through approval (benefits.signals).
        facts = await BenefitsRepository.of(session).get_or_add_facts(data.talent_id)
        signals.take_change_request(facts, data)

    async def on_code_verified(session: AsyncSession, event: CloudEvent, data: CodeVerified) -> None:
        await settlements.record_use(session, event, data, clock, city_code)

    async def load_batch(session: AsyncSession, items: Sequence[tuple[CloudEvent, EventData]]) -> None:
        # A batch's talents in three queries instead of several per event (see BenefitsRepository).
        await BenefitsRepository.of(session).load_talents((str(getattr(data, "talent_id")) for _, data in items))  # noqa: B009

    return {
        "talents": with_prepare(
            load_batch,
            {
                TalentRegistered: on_registered,
                TalentProfileUpdated: on_profile_updated,
                TalentCertified: on_certified,
                TalentPointsChanged: on_points_changed,
                TalentRevoked: on_revoked,
                TalentReinstated: on_reinstated,
                TalentExpired: on_expired,
                LeaseStarted: on_lease_started,
                LeaseEnded: on_lease_ended,
                HousingVoucherUsed: on_voucher_used,
                EmploymentAttested: on_attested,
                EmploymentAttestationWithdrawn: on_attestation_withdrawn,
                ChangeRequestSubmitted: on_change_request,
                ChangeRequestDecided: on_change_request,
            },
        ),
        # Cost settlement's usage records: a group of its own, so a verification never waits behind a talent's
        # claims (and the talents' batch loading needs a talent id these events never carry).
        "settlement": {CodeVerified: on_code_verified},
    }


def timer_handlers(clock: Clock | None = None) -> dict[str, TimerHandler]:
    """The timers' handlers; renewals file claims, so they need the flow's clock (the settings' by default)."""
    clock = clock or Clock.from_settings(get_settings())
    return {
        renewals.RENEWAL_TIMER: renewals.on_renewal_due(clock),
        flow.STAGE_DEADLINE_TIMER: deadlines.on_stage_deadline,
        flow.END_TO_END_TIMER: deadlines.on_end_to_end_deadline,
        flow.PUBLICITY_TIMER: deadlines.on_publicity_end,
    }
