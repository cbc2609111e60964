"""A talent's own status (动态进退): certified by a certification's last approval for the tier's validity
period, expired by a persisted timer when it runs out, revoked by an admin, reinstated by an admin (back to
where its certification stands: certified while still valid, else expired, or registered if never certified).

`transition()` is the one function that changes a talent's status; the flow is `states.TALENT_FLOW`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts import EventData, TalentCertified, TalentExpired, TalentReinstated, TalentRevoked
from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.timers import ScheduledTimer
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import catalogue, certification, points, status_list
from applicant import repository as repo
from applicant.clock import add_years, end_of_local_day, local_today
from applicant.events import outbox
from applicant.exceptions import CertificationConflict, TalentNotFound
from applicant.models import Certification, Talent
from applicant.schemas import TalentPublic
from applicant.states import (
    TALENT_FLOW,
    CertificationAction,
    TalentAction,
    TalentStatus,
    TalentTransition,
    standing_of,
)

EXPIRY_TIMER = "talent.certification_expiry"
SYSTEM = "system"


async def expire_certification(session: AsyncSession, timer: ScheduledTimer) -> None:
    """Timer handler: the validity period of a talent's certification has run out."""
    talent = await repo.get_talent(session, timer.key)
    if talent is None or not TALENT_FLOW.can(talent.status, TalentAction.EXPIRE) or talent.certified_until is None:
        return
    if talent.certified_until.isoformat() != timer.data().get("certified_until"):
        return  # re-certified since this timer was set (rescheduling normally moves it; this is a safeguard)
    await transition(session, talent, TalentAction.EXPIRE, actor=SYSTEM)


async def revoke(session: AsyncSession, principal: Principal, talent_id: str, reason: str) -> Talent:
    """An admin withdraws a talent's status (失信 blacklist, left the city); open certifications are rejected."""
    talent = await repo.get_talent(session, talent_id)
    if talent is None:
        raise TalentNotFound(talent_id)
    if not TALENT_FLOW.can(talent.status, TalentAction.REVOKE):
        raise CertificationConflict(key="applicant.error.talent_already_revoked")
    open_one = await repo.open_certification_of(session, talent.id)
    if open_one is not None:
        await certification.transition(
            session,
            open_one,
            CertificationAction.REJECT_ON_REVOCATION,
            actor=principal,
            reason=f"talent status revoked: {reason}",
        )
    await transition(session, talent, TalentAction.REVOKE, actor=principal, reason=reason)
    await session.flush()
    return talent


async def reinstate(session: AsyncSession, principal: Principal, talent_id: str, reason: str) -> Talent:
    """An admin lifts a talent's revocation; the talent stands where its certification stands now (the
    certifications rejected on revocation stay rejected: the talent applies again if it needs one)."""
    talent = await repo.get_talent(session, talent_id)
    if talent is None:
        raise TalentNotFound(talent_id)
    if not TALENT_FLOW.can(talent.status, TalentAction.REINSTATE):
        raise CertificationConflict(key="applicant.error.talent_not_revoked", params={"status": talent.status})
    await transition(session, talent, TalentAction.REINSTATE, actor=principal, reason=reason)
    await session.flush()
    return talent


# --- the one transition ----------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    talent: Talent,
    action: TalentAction,
    *,
    actor: Principal | str,
    reason: str | None = None,
    granted_by: Certification | None = None,
    issuing_city: str = "",
) -> TalentTransition:
    """Move the talent by `action` (IllegalTransition, 409, when its status does not allow it), with what goes
    with the move: the tier and validity a certification (`granted_by`) grants, the expiry timer (started by a
    certification or a reinstatement to certified, cancelled by a revocation), the points, the audit entry and
    the event. A reinstatement's status is where the certification stands today (`states.standing_of`).
    """
    move = TALENT_FLOW[action]
    from_status = TalentStatus(talent.status)
    TALENT_FLOW.check(from_status, action)
    standing: dict[str, Any] = {"status": from_status, "tier": talent.tier, "certified_until": talent.certified_until}
    now = utcnow()
    if move.restores_standing:
        talent.status = standing_of(talent.certified_until, local_today(now))
    else:
        talent.status = move.leads_from(from_status)
    talent.updated_at = now
    if action is TalentAction.CERTIFY:
        assert granted_by is not None
        valid_until = add_years(local_today(now), catalogue.tiers()[granted_by.tier].validity_years)
        granted_by.certified_until = valid_until
        talent.tier = granted_by.tier
        talent.certified_until = valid_until
        talent.certified_at = now
        await timers.schedule(
            session,
            EXPIRY_TIMER,
            talent.id,
            end_of_local_day(valid_until),
            {"certified_until": valid_until.isoformat(), "certification_id": granted_by.id},
        )
    elif action is TalentAction.REVOKE:
        talent.revoked_at = now
        await timers.cancel(session, EXPIRY_TIMER, talent.id)
    elif action is TalentAction.REINSTATE and talent.status == TalentStatus.CERTIFIED:
        assert talent.certified_until is not None
        await timers.schedule(
            session,
            EXPIRY_TIMER,
            talent.id,
            end_of_local_day(talent.certified_until),
            {"certified_until": talent.certified_until.isoformat(), "reinstated": True},
        )
    points.refresh(session, talent, await repo.get_profile(session, talent.id))
    if move.audited:
        if action is TalentAction.EXPIRE:
            before: dict[str, Any] = {"status": from_status}
            after: dict[str, Any] = {"status": talent.status, "certified_until": talent.certified_until}
        elif action is TalentAction.REINSTATE:
            before = {"status": from_status}
            after = {"status": talent.status, "tier": talent.tier, "certified_until": talent.certified_until}
        else:
            before, after = standing, {"status": talent.status}
        await audit.record(
            session,
            actor,
            f"talent.{action}",
            subject_type="talent",
            subject_id=talent.id,
            before=before,
            after=after,
            reason=reason,
        )
    outbox.emit(session, _event_of(talent, action, granted_by, issuing_city, reason, now), subject=talent.id)
    # The revocation status list this process serves is rebuilt once the change commits.
    status_list.changes.after_commit(session)
    return move


def _event_of(
    talent: Talent,
    action: TalentAction,
    granted_by: Certification | None,
    issuing_city: str,
    reason: str | None,
    now: datetime,
) -> EventData:
    if action is TalentAction.CERTIFY:
        assert granted_by is not None and talent.certified_until is not None
        return TalentCertified(
            talent_id=talent.id,
            pseudonym=talent.pseudonym,
            tier=granted_by.tier,
            points=talent.points,
            certified_until=talent.certified_until,
            region_code=granted_by.region_code,
            issuing_city=issuing_city,
        )
    if action is TalentAction.EXPIRE:
        assert talent.certified_until is not None
        return TalentExpired(talent_id=talent.id, pseudonym=talent.pseudonym, expired_on=talent.certified_until)
    if action is TalentAction.REINSTATE:
        # The tier and validity of the last certification, if any (an expired talent's say what ran out).
        return TalentReinstated(
            talent_id=talent.id,
            pseudonym=talent.pseudonym,
            status=talent.status,
            tier=talent.tier,
            certified_until=talent.certified_until,
            reinstated_at=now,
        )
    assert talent.revoked_at is not None
    return TalentRevoked(
        talent_id=talent.id, pseudonym=talent.pseudonym, reason=reason or "", revoked_at=talent.revoked_at
    )


def talent_public(talent: Talent) -> TalentPublic:
    return TalentPublic(
        talent_id=talent.id,
        tier=talent.tier,
        points=talent.points,
        status=talent.status,
        certified_until=talent.certified_until,
    )
