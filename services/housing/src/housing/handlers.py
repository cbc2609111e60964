"""Housing's read model of talents, built only from events; and its timers.

Events of one talent arrive in order on one topic, but applicant and benefits are different topics and
a replay can redeliver old events: each group of facts keeps the time of the event that set it, and an
older event never overwrites a newer one. Rows are created by whichever event comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from contracts import (
    CloudEvent,
    EmploymentAttestationWithdrawn,
    EmploymentAttested,
    EventData,
    HousingVoucherUsed,
    TalentCertified,
    TalentExpired,
    TalentPointsChanged,
    TalentProfileUpdated,
    TalentRegistered,
    TalentReinstated,
    TalentRevoked,
)
from servicekit.consumer import Handler, with_prepare
from servicekit.db import utcnow
from servicekit.timers import ScheduledTimer, TimerHandler
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import leases, offers, rounds
from housing import repository as repo
from housing.models import HousingTalent
from housing.states import (
    LEASE_END_TIMER,
    OFFER_LAPSE_TIMER,
    ROUND,
    ROUND_CLOSE_TIMER,
    RoundAction,
    TalentStatus,
)


def _newer(seen: datetime | None, event: CloudEvent) -> bool:
    return seen is None or event.time >= seen


def _set_status(talent: HousingTalent, status: TalentStatus, as_of: datetime | None) -> None:
    """The one place the read model's status changes: to what applicant's event says (newest event wins,
    `as_of` its time; None for a registration, which only ever fills an unknown status)."""
    talent.status = status
    if as_of is not None:
        talent.status_as_of = as_of


def _apply_profile(talent: HousingTalent, data: TalentRegistered | TalentProfileUpdated, event: CloudEvent) -> None:
    if not _newer(talent.profile_as_of, event):
        return
    talent.works_in_city = data.works_in_city
    talent.owns_home_in_city = data.owns_home_in_city
    if data.region_code:
        talent.region_code = data.region_code
    talent.profile_as_of = event.time


async def on_registered(session: AsyncSession, event: CloudEvent, data: TalentRegistered) -> None:
    talent = await repo.get_or_create_talent(session, data.talent_id)
    talent.pseudonym = talent.pseudonym or data.pseudonym
    if talent.status == TalentStatus.UNKNOWN:
        _set_status(talent, TalentStatus.REGISTERED, None)
    _apply_profile(talent, data, event)
    talent.updated_at = utcnow()


async def on_profile_updated(session: AsyncSession, event: CloudEvent, data: TalentProfileUpdated) -> None:
    talent = await repo.get_or_create_talent(session, data.talent_id)
    _apply_profile(talent, data, event)
    talent.updated_at = utcnow()


async def on_certified(session: AsyncSession, event: CloudEvent, data: TalentCertified) -> None:
    talent = await repo.get_or_create_talent(session, data.talent_id)
    talent.pseudonym = data.pseudonym
    if _newer(talent.status_as_of, event):
        _set_status(talent, TalentStatus.CERTIFIED, event.time)
        talent.tier, talent.certified_until = data.tier, data.certified_until
    if _newer(talent.points_as_of, event):
        talent.points, talent.points_as_of = data.points, event.time
    talent.updated_at = utcnow()


async def on_points_changed(session: AsyncSession, event: CloudEvent, data: TalentPointsChanged) -> None:
    talent = await repo.get_or_create_talent(session, data.talent_id)
    if _newer(talent.points_as_of, event):
        talent.points, talent.points_as_of = data.points, event.time
    talent.updated_at = utcnow()


async def _on_status(session: AsyncSession, talent_id: str, status: TalentStatus, event: CloudEvent) -> None:
    talent = await repo.get_or_create_talent(session, talent_id)
    if _newer(talent.status_as_of, event):
        _set_status(talent, status, event.time)
    talent.updated_at = utcnow()


async def on_revoked(session: AsyncSession, event: CloudEvent, data: TalentRevoked) -> None:
    await _on_status(session, data.talent_id, TalentStatus.REVOKED, event)


async def on_expired(session: AsyncSession, event: CloudEvent, data: TalentExpired) -> None:
    await _on_status(session, data.talent_id, TalentStatus.EXPIRED, event)


async def on_reinstated(session: AsyncSession, event: CloudEvent, data: TalentReinstated) -> None:
    """The revocation is lifted: the talent stands where applicant says (certified again while still valid)."""
    talent = await repo.get_or_create_talent(session, data.talent_id)
    talent.pseudonym = data.pseudonym
    if _newer(talent.status_as_of, event):
        _set_status(talent, TalentStatus(data.status), event.time)
        if data.tier is not None:
            talent.tier = data.tier
        if data.certified_until is not None:
            talent.certified_until = data.certified_until
    talent.updated_at = utcnow()


async def on_voucher_used(session: AsyncSession, event: CloudEvent, data: HousingVoucherUsed) -> None:
    talent = await repo.get_or_create_talent(session, data.talent_id)
    talent.voucher_used = True  # once used, for good: no event takes it back
    talent.updated_at = utcnow()


async def on_attested(session: AsyncSession, event: CloudEvent, data: EmploymentAttested) -> None:
    """The attestation now stands, unless a newer attestation event (attested or withdrawn) was taken already."""
    talent = await repo.get_or_create_talent(session, data.talent_id)
    if talent.attestation_as_of is not None and event.time <= talent.attestation_as_of:
        return  # older, or this very event again (a replay): nothing changes
    talent.attestation_id, talent.attestation_outcome = data.attestation_id, data.outcome
    talent.attestation_blocking = data.blocking
    talent.attestation_mismatched_facts = list(data.mismatched_facts)
    talent.attested_at, talent.attestation_as_of = data.attested_at, event.time
    talent.updated_at = utcnow()


async def on_attestation_withdrawn(
    session: AsyncSession, event: CloudEvent, data: EmploymentAttestationWithdrawn
) -> None:
    """The named attestation no longer stands; a newer one standing is left alone. A withdrawal that comes
    before its own attestation still moves the time on, so that attestation does not stand when it arrives."""
    talent = await repo.get_or_create_talent(session, data.talent_id)
    if talent.attestation_as_of is not None and event.time <= talent.attestation_as_of:
        return
    if talent.attestation_id not in (None, data.attestation_id):
        return
    talent.attestation_id, talent.attestation_outcome = None, None
    talent.attestation_blocking, talent.attestation_mismatched_facts = False, []
    talent.attested_at, talent.attestation_as_of = None, event.time
    talent.updated_at = utcnow()


async def load_batch(session: AsyncSession, items: Sequence[tuple[CloudEvent, EventData]]) -> None:
    # A batch's talents in one query instead of one per event (repository.load_talents).
    await repo.load_talents(session, (str(getattr(data, "talent_id")) for _, data in items))  # noqa: B009


READ_MODEL_HANDLERS: dict[type[EventData], Handler] = with_prepare(
    load_batch,
    {
        TalentRegistered: on_registered,
        TalentProfileUpdated: on_profile_updated,
        TalentCertified: on_certified,
        TalentPointsChanged: on_points_changed,
        TalentRevoked: on_revoked,
        TalentReinstated: on_reinstated,
        TalentExpired: on_expired,
        HousingVoucherUsed: on_voucher_used,
        EmploymentAttested: on_attested,
        EmploymentAttestationWithdrawn: on_attestation_withdrawn,
    },
)


def _fired_at(timer: ScheduledTimer) -> datetime:
    # Never earlier than the due time, so a runner with a shifted clock (tests) stays consistent.
    return max(utcnow(), timer.due_at)


async def close_round_when_due(session: AsyncSession, timer: ScheduledTimer) -> None:
    round_ = await repo.get_round(session, timer.key)
    if round_ is not None and ROUND.can(round_.status, RoundAction.CLOSE):
        await rounds.close_round(session, rounds.SYSTEM_ACTOR, timer.key, now=_fired_at(timer))


async def lapse_offer_when_due(session: AsyncSession, timer: ScheduledTimer) -> None:
    await offers.lapse_offer(session, timer.key, now=_fired_at(timer))


async def end_lease_when_due(session: AsyncSession, timer: ScheduledTimer) -> None:
    await leases.expire_lease(session, timer.key, now=_fired_at(timer))


TIMERS: dict[str, TimerHandler] = {
    ROUND_CLOSE_TIMER: close_round_when_due,
    OFFER_LAPSE_TIMER: lapse_offer_when_due,
    LEASE_END_TIMER: end_lease_when_due,
}
