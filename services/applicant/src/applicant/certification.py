"""Online certification (人才层次在线认定): submission, county then city review, validity, expiry, revocation.

States of a certification: submitted → county_approved → certified; or rejected; or returned (补正),
which the talent resubmits (back to submitted, a new round). A talent's own status follows:
registered → certified → expired (the validity period ran out) or revoked (by an admin): 动态进退.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from contracts import CertificationDecided, CertificationSubmitted, TalentCertified, TalentExpired, TalentRevoked
from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, encode_cursor
from servicekit.problems import Unprocessable
from servicekit.timers import ScheduledTimer
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import catalogue, points
from applicant import repository as repo
from applicant.clock import add_years, end_of_local_day, local_today
from applicant.events import outbox
from applicant.exceptions import (
    CertificationConflict,
    CertificationNotFound,
    ProfileRequired,
    SegregationOfDuties,
    TalentNotFound,
)
from applicant.models import Certification, CertificationDecision, CertificationEvidence, Talent, TalentProfile
from applicant.schemas import (
    ApplicantSummary,
    CertificationCreate,
    CertificationForReview,
    CertificationPublic,
    CertificationResubmit,
    DecisionCreate,
    DecisionPublic,
    EvidenceItem,
    ReviewFilter,
    TalentPublic,
)

T = TypeVar("T")

EXPIRY_TIMER = "talent.certification_expiry"
COUNTY_REVIEWER, CITY_APPROVER = "county_reviewer", "city_approver"


@dataclass(frozen=True)
class StageRule:
    stage: str
    role: str
    # Where an approval at this stage leads (the city stage may need more than one approver first).
    approved_status: str


# The review stage a certification in each state waits for.
STAGES: dict[str, StageRule] = {
    "submitted": StageRule("county", COUNTY_REVIEWER, "county_approved"),
    "county_approved": StageRule("city", CITY_APPROVER, "certified"),
}
DECISION_STATUS = {"reject": "rejected", "return": "returned"}
# The queue of each reviewing role when it asks for `status=pending`.
PENDING_FOR_ROLE = {COUNTY_REVIEWER: "submitted", CITY_APPROVER: "county_approved"}


# --- the talent's side ---------------------------------------------------------------------------------


def _check_route(route: str, programme_code: str | None) -> None:
    if catalogue.routes()[route].requires_programme_code and not programme_code:
        raise Unprocessable(
            "programme_code: the programme route needs the code of the talent programme",
            errors=[{"field": "programme_code", "message": "required for the programme route"}],
        )


def _add_evidence(session: AsyncSession, certification: Certification, items: list[EvidenceItem]) -> None:
    for item in items:
        session.add(
            CertificationEvidence(
                certification_id=certification.id,
                round=certification.round,
                kind=item.kind,
                reference=item.reference,
                sha256=item.sha256.lower(),
            )
        )


async def submit(session: AsyncSession, talent_id: str, body: CertificationCreate) -> Certification:
    """Apply for a tier; the certification goes to the county of the talent's profile region."""
    profile = await repo.get_profile(session, talent_id)
    talent = await repo.get_talent(session, talent_id)
    if profile is None or talent is None:
        raise ProfileRequired()
    if talent.status == "revoked":
        raise CertificationConflict("Your talent status was revoked; you cannot apply for certification.")
    open_one = await repo.open_certification_of(session, talent_id)
    if open_one is not None:
        raise CertificationConflict(
            f"Certification {open_one.id} is still {open_one.status}; wait for its decision (or resubmit it)."
        )
    _check_route(body.route, body.programme_code)
    now = utcnow()
    certification = Certification(
        id=str(uuid.uuid4()),
        talent_id=talent_id,
        route=body.route,
        claimed_tier=body.claimed_tier,
        tier=body.claimed_tier,
        programme_code=body.programme_code,
        region_code=profile.region_code,
        submitted_at=now,
        updated_at=now,
    )
    session.add(certification)
    await session.flush()
    _add_evidence(session, certification, body.evidence)
    _emit_submitted(session, certification)
    await session.flush()
    return certification


async def resubmit(
    session: AsyncSession, talent_id: str, certification_id: str, body: CertificationResubmit
) -> Certification:
    """Send a returned (补正) certification back to the county, as a new review round."""
    certification = await _own(session, talent_id, certification_id)
    if certification.status != "returned":
        raise CertificationConflict(
            f"Only a returned certification can be resubmitted; this one is {certification.status}."
        )
    programme_code = body.programme_code or certification.programme_code
    _check_route(certification.route, programme_code)
    certification.programme_code = programme_code
    certification.round += 1
    certification.status = "submitted"
    certification.updated_at = utcnow()
    if body.evidence:
        _add_evidence(session, certification, body.evidence)
    _emit_submitted(session, certification)
    await session.flush()
    return certification


def _emit_submitted(session: AsyncSession, certification: Certification) -> None:
    outbox.emit(
        session,
        CertificationSubmitted(
            certification_id=certification.id,
            talent_id=certification.talent_id,
            route=certification.route,
            claimed_tier=certification.claimed_tier,
            region_code=certification.region_code,
        ),
        subject=certification.talent_id,
    )


async def _own(session: AsyncSession, talent_id: str, certification_id: str) -> Certification:
    certification = await repo.get_certification(session, certification_id)
    if certification is None or certification.talent_id != talent_id:
        raise CertificationNotFound(certification_id)
    return certification


async def get_mine(session: AsyncSession, talent_id: str, certification_id: str) -> CertificationPublic:
    [public] = await to_public(session, [await _own(session, talent_id, certification_id)])
    return public


async def list_mine(session: AsyncSession, talent_id: str, page: PageParams) -> Page[CertificationPublic]:
    before = _position(page)
    rows = await repo.list_certifications_of(session, talent_id, limit=page.limit + 1, before=before)
    return _page(await to_public(session, rows[: page.limit]), rows, page.limit)


# --- the officers' side ----------------------------------------------------------------------------------


def _may_see(principal: Principal, certification: Certification) -> bool:
    if CITY_APPROVER in principal.roles:
        return True
    return COUNTY_REVIEWER in principal.roles and principal.region == certification.region_code


async def review_queue(
    session: AsyncSession, principal: Principal, status: ReviewFilter, page: PageParams
) -> Page[CertificationForReview]:
    """`pending`: what the caller may decide now; another status: the certifications in it the caller may see."""
    city = CITY_APPROVER in principal.roles
    region = None if city else principal.region
    if not city and not region:
        return Page(items=[])  # a county reviewer without a region sees nothing rather than everything
    if status == "pending":
        role = CITY_APPROVER if city else COUNTY_REVIEWER
        statuses = [PENDING_FOR_ROLE[role]]
        not_decided_by = (principal.sub, STAGES[statuses[0]].stage)
    else:
        statuses, not_decided_by = [status], None
    rows = await repo.list_for_review(
        session,
        statuses=statuses,
        region_code=region,
        limit=page.limit + 1,
        after=_position(page),
        not_decided_by=not_decided_by,
    )
    return _page(await for_review(session, rows[: page.limit]), rows, page.limit)


async def get_for_review(session: AsyncSession, principal: Principal, certification_id: str) -> CertificationForReview:
    certification = await repo.get_certification(session, certification_id)
    if certification is None or not _may_see(principal, certification):
        raise CertificationNotFound(certification_id)
    [public] = await for_review(session, [certification])
    return public


async def decide(
    session: AsyncSession, principal: Principal, certification_id: str, body: DecisionCreate, issuing_city: str
) -> CertificationForReview:
    """One officer's decision at the stage the certification waits for; certifies when the city is done."""
    certification = await repo.get_certification(session, certification_id)
    if certification is None or not _may_see(principal, certification):
        raise CertificationNotFound(certification_id)
    rule = STAGES.get(certification.status)
    if rule is None:
        raise CertificationConflict(
            f"This certification is {certification.status}; decisions are taken only on submitted (county review) "
            "or county_approved (city review) certifications."
        )
    if rule.role not in principal.roles:
        raise SegregationOfDuties(
            f"This certification awaits the {rule.stage} review, which only a {rule.role} decides."
        )
    if body.decision in DECISION_STATUS and not body.reason:
        raise Unprocessable(
            f"reason: a decision to {body.decision} needs a reason the talent can act on",
            errors=[{"field": "reason", "message": f"required to {body.decision}"}],
        )
    earlier = [d for d in await repo.decisions_of(session, [certification.id]) if d.decided_by == principal.sub]
    if any(d.stage != rule.stage for d in earlier):
        raise SegregationOfDuties(
            "You already decided another stage of this certification; one officer decides one stage only."
        )
    if any(d.round == certification.round for d in earlier):
        raise CertificationConflict(
            "You already decided this certification at this stage; a further approval must come from a "
            "different officer."
        )
    talent = await repo.get_talent(session, certification.talent_id)
    if talent is None or talent.status == "revoked":
        raise CertificationConflict("The talent's status was revoked; the certification cannot go on.")

    before = _snapshot(certification)
    if body.tier is not None:
        certification.tier = body.tier
    now = utcnow()
    session.add(
        CertificationDecision(
            certification_id=certification.id,
            round=certification.round,
            stage=rule.stage,
            decision=body.decision,
            tier=body.tier,
            reason=body.reason,
            decided_by=principal.sub,
            decided_at=now,
        )
    )
    await session.flush()
    certification.status = await _status_after(session, certification, rule, body.decision)
    certification.updated_at = now
    await audit.record(
        session,
        principal,
        f"certification.{rule.stage}.{body.decision}",
        subject_type="certification",
        subject_id=certification.id,
        before=before,
        after=_snapshot(certification),
        reason=body.reason or None,
    )
    outbox.emit(
        session,
        CertificationDecided(
            certification_id=certification.id,
            talent_id=certification.talent_id,
            stage=rule.stage,
            decision=body.decision,
            status=certification.status,
            tier=certification.tier,
            reason=body.reason,
            decided_by=principal.sub,
        ),
        subject=certification.talent_id,
    )
    if certification.status == "certified":
        await _grant(session, talent, certification, issuing_city)
    await session.flush()
    [public] = await for_review(session, [certification])
    return public


async def _status_after(session: AsyncSession, certification: Certification, rule: StageRule, decision: str) -> str:
    if decision in DECISION_STATUS:
        return DECISION_STATUS[decision]
    if rule.stage == "city":
        approvals = {
            d.decided_by
            for d in await repo.decisions_of(session, [certification.id])
            if d.round == certification.round and d.stage == "city" and d.decision == "approve"
        }
        if len(approvals) < catalogue.city_approvals_needed(certification.route, certification.tier):
            return certification.status  # stays county_approved until the next, different city approver
    return rule.approved_status


def _snapshot(certification: Certification) -> dict[str, Any]:
    return {"status": certification.status, "tier": certification.tier, "round": certification.round}


async def _grant(session: AsyncSession, talent: Talent, certification: Certification, issuing_city: str) -> None:
    """Make the talent certified at the granted tier for the tier's validity period, and start the expiry clock."""
    now = utcnow()
    valid_until = add_years(local_today(now), catalogue.tiers()[certification.tier].validity_years)
    certification.certified_until = valid_until
    talent.status = "certified"
    talent.tier = certification.tier
    talent.certified_until = valid_until
    talent.certified_at = now
    talent.updated_at = now
    await timers.schedule(
        session,
        EXPIRY_TIMER,
        talent.id,
        end_of_local_day(valid_until),
        {"certified_until": valid_until.isoformat(), "certification_id": certification.id},
    )
    profile = await repo.get_profile(session, talent.id)
    points.refresh(session, talent, profile)
    outbox.emit(
        session,
        TalentCertified(
            talent_id=talent.id,
            pseudonym=talent.pseudonym,
            tier=certification.tier,
            points=talent.points,
            certified_until=valid_until,
            region_code=certification.region_code,
            issuing_city=issuing_city,
        ),
        subject=talent.id,
    )


# --- validity: expiry and revocation ---------------------------------------------------------------------


async def expire_certification(session: AsyncSession, timer: ScheduledTimer) -> None:
    """Timer handler: the validity period of a talent's certification has run out."""
    talent = await repo.get_talent(session, timer.key)
    if talent is None or talent.status != "certified" or talent.certified_until is None:
        return
    if talent.certified_until.isoformat() != timer.data().get("certified_until"):
        return  # re-certified since this timer was set (rescheduling normally moves it; this is a safeguard)
    talent.status = "expired"
    talent.updated_at = utcnow()
    points.refresh(session, talent, await repo.get_profile(session, talent.id))
    await audit.record(
        session,
        "system",
        "talent.expire",
        subject_type="talent",
        subject_id=talent.id,
        before={"status": "certified"},
        after={"status": "expired", "certified_until": talent.certified_until},
    )
    outbox.emit(
        session,
        TalentExpired(talent_id=talent.id, pseudonym=talent.pseudonym, expired_on=talent.certified_until),
        subject=talent.id,
    )


async def revoke(session: AsyncSession, principal: Principal, talent_id: str, reason: str) -> Talent:
    """An admin withdraws a talent's status (失信 blacklist, left the city); open certifications are rejected."""
    talent = await repo.get_talent(session, talent_id)
    if talent is None:
        raise TalentNotFound(talent_id)
    if talent.status == "revoked":
        raise CertificationConflict("This talent's status is already revoked.")
    before = {"status": talent.status, "tier": talent.tier, "certified_until": talent.certified_until}
    now = utcnow()
    talent.status = "revoked"
    talent.revoked_at = now
    talent.updated_at = now
    await timers.cancel(session, EXPIRY_TIMER, talent.id)
    open_one = await repo.open_certification_of(session, talent.id)
    if open_one is not None:
        await _reject_on_revocation(session, principal, open_one, reason)
    points.refresh(session, talent, await repo.get_profile(session, talent.id))
    await audit.record(
        session,
        principal,
        "talent.revoke",
        subject_type="talent",
        subject_id=talent.id,
        before=before,
        after={"status": "revoked"},
        reason=reason,
    )
    outbox.emit(
        session,
        TalentRevoked(talent_id=talent.id, pseudonym=talent.pseudonym, reason=reason, revoked_at=now),
        subject=talent.id,
    )
    await session.flush()
    return talent


async def _reject_on_revocation(
    session: AsyncSession, principal: Principal, certification: Certification, reason: str
) -> None:
    stage = STAGES.get(certification.status, STAGES["submitted"]).stage
    message = f"talent status revoked: {reason}"
    certification.status = "rejected"
    certification.updated_at = utcnow()
    session.add(
        CertificationDecision(
            certification_id=certification.id,
            round=certification.round,
            stage=stage,
            decision="reject",
            reason=message,
            decided_by=principal.sub,
        )
    )
    outbox.emit(
        session,
        CertificationDecided(
            certification_id=certification.id,
            talent_id=certification.talent_id,
            stage=stage,
            decision="reject",
            status="rejected",
            tier=certification.tier,
            reason=message,
            decided_by=principal.sub,
        ),
        subject=certification.talent_id,
    )


def talent_public(talent: Talent) -> TalentPublic:
    return TalentPublic(
        talent_id=talent.id,
        tier=talent.tier,
        points=talent.points,
        status=talent.status,
        certified_until=talent.certified_until,
    )


# --- views -------------------------------------------------------------------------------------------------


async def to_public(session: AsyncSession, rows: list[Certification]) -> list[CertificationPublic]:
    ids = [c.id for c in rows]
    evidence: dict[str, list[CertificationEvidence]] = defaultdict(list)
    for item in await repo.evidence_of(session, ids):
        evidence[item.certification_id].append(item)
    decisions: dict[str, list[CertificationDecision]] = defaultdict(list)
    for decision in await repo.decisions_of(session, ids):
        decisions[decision.certification_id].append(decision)
    return [_public(c, evidence[c.id], decisions[c.id]) for c in rows]


def _public(
    certification: Certification, evidence: list[CertificationEvidence], decisions: list[CertificationDecision]
) -> CertificationPublic:
    # The evidence in force is the latest round's that brought any (a resubmission may keep the old).
    latest_round = max((e.round for e in evidence), default=0)
    return CertificationPublic(
        id=certification.id,
        talent_id=certification.talent_id,
        route=certification.route,
        claimed_tier=certification.claimed_tier,
        tier=certification.tier,
        programme_code=certification.programme_code,
        region_code=certification.region_code,
        status=certification.status,
        round=certification.round,
        evidence=[
            EvidenceItem(kind=e.kind, reference=e.reference, sha256=e.sha256)
            for e in evidence
            if e.round == latest_round
        ],
        decisions=[
            DecisionPublic(
                round=d.round,
                stage=d.stage,
                decision=d.decision,
                tier=d.tier,
                reason=d.reason,
                decided_by=d.decided_by,
                decided_at=d.decided_at,
            )
            for d in decisions
        ],
        city_approvals_needed=catalogue.city_approvals_needed(certification.route, certification.tier),
        submitted_at=certification.submitted_at,
        updated_at=certification.updated_at,
        certified_until=certification.certified_until,
    )


async def for_review(session: AsyncSession, rows: list[Certification]) -> list[CertificationForReview]:
    profiles = await repo.get_profiles(session, sorted({c.talent_id for c in rows}))
    return [
        CertificationForReview(**public.model_dump(), applicant=_summary(profiles.get(public.talent_id)))
        for public in await to_public(session, rows)
    ]


def _summary(profile: TalentProfile | None) -> ApplicantSummary | None:
    if profile is None:
        return None
    return ApplicantSummary(
        name=profile.name,
        id_type=profile.id_type,
        id_number_masked=profile.id_number_masked,
        birth_date=profile.birth_date,
        degree=profile.degree,
        title=profile.title,
        employer_name=profile.employer_name,
    )


def _position(page: PageParams) -> tuple[datetime, str] | None:
    if not page.after:
        return None
    try:
        moment, last_id = page.after
        return datetime.fromisoformat(str(moment)), str(last_id)
    except (TypeError, ValueError) as exc:
        raise Unprocessable(
            "The cursor is not one this API issued.", errors=[{"field": "cursor", "message": "invalid"}]
        ) from exc


def _page(items: list[T], rows: list[Certification], limit: int) -> Page[T]:
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page(items=items, next_cursor=encode_cursor([last.submitted_at.isoformat(), last.id]) if last else None)
