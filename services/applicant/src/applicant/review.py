"""The officers' side of certification: review queues scoped by region, and the two-stage decision
(初审 by the county reviewer of the certification's region, 复审 by city approvers).

One officer decides one stage of a certification; where the city needs two approvals (tier A, case by case),
they come from two different approvers. The refusals are the kit's (servicekit.workflow).
"""

from __future__ import annotations

from servicekit.auth import Principal
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from servicekit.workflow import (
    ReviewStage,
    check_second_approver,
    check_segregation,
    queue_statuses,
    require_stage_role,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import access_log, catalogue, officers, validity
from applicant import repository as repo
from applicant.certification import for_review, keyset_position, transition
from applicant.changes import confirm_certified_facts
from applicant.employer import attestations
from applicant.exceptions import CertificationConflict, CertificationNotFound, InvalidProfile
from applicant.models import Certification, CertificationDecision
from applicant.schemas import CertificationForReview, DecisionCreate, ReviewFilter
from applicant.states import (
    APPROVALS,
    CITY_APPROVER,
    COUNTY_REVIEWER,
    REFUSALS,
    REVIEW_STAGES,
    CertificationAction,
    CertificationStatus,
    TalentAction,
    TalentStatus,
)

SUBJECT = "certification"


def _may_see(principal: Principal, certification: Certification) -> bool:
    if CITY_APPROVER in principal.roles:
        return True
    return COUNTY_REVIEWER in principal.roles and principal.region == certification.region_code


async def review_queue(
    session: AsyncSession, principal: Principal, status: ReviewFilter, page: PageParams, *, overdue: bool = False
) -> Page[CertificationForReview]:
    """`pending`: what the caller may decide now; another status: the certifications in it the caller may see;
    `overdue`: only those escalated because their stage's deadline passed."""
    city = CITY_APPROVER in principal.roles
    region = None if city else principal.region
    if not city and not region:
        return Page(items=[])  # a county reviewer without a region sees nothing rather than everything
    if status == "pending":
        # Each reviewing role decides one status: the county the submitted ones, the city the county_approved.
        [waiting] = queue_statuses(REVIEW_STAGES, CITY_APPROVER if city else COUNTY_REVIEWER)
        statuses = [waiting]
        not_decided_by: tuple[str, str] | None = (principal.sub, REVIEW_STAGES[waiting].stage)
    else:
        statuses, not_decided_by = [CertificationStatus(status)], None
    rows = await repo.list_for_review(
        session,
        statuses=statuses,
        region_code=region,
        limit=page.limit + 1,
        after=page.position(cursor_time, cursor_key),
        not_decided_by=not_decided_by,
        escalated_only=overdue,
    )
    found = keyset_page(rows, page.limit, keyset_position)
    items = await for_review(session, found.items)
    # Every talent whose summary the page shows was read (one multi-row INSERT for the page).
    access_log.record_official_reads(session, principal, _shown(items), access_log.CERTIFICATION_LIST)
    return Page(items=items, next_cursor=found.next_cursor)


async def get_for_review(session: AsyncSession, principal: Principal, certification_id: str) -> CertificationForReview:
    certification = await repo.get_certification(session, certification_id)
    if certification is None or not _may_see(principal, certification):
        raise CertificationNotFound(certification_id)
    await officers.take_if_unowned(session, principal, certification)  # 首问负责制: the first to open owns it
    [public] = await for_review(session, [certification])
    public.attestation = await attestations.standing_of_talent(session, certification.talent_id)
    access_log.record_official_reads(session, principal, _shown([public]), access_log.CERTIFICATION_READ)
    return public


def _shown(views: list[CertificationForReview]) -> list[str]:
    """The talents whose personal data these views show (a talent without a profile shows none)."""
    return [view.talent_id for view in views if view.applicant is not None]


async def decide(
    session: AsyncSession, principal: Principal, certification_id: str, body: DecisionCreate, issuing_city: str
) -> CertificationForReview:
    """One officer's decision at the stage the certification waits for; certifies when the city is done."""
    certification = await repo.get_certification(session, certification_id)
    if certification is None or not _may_see(principal, certification):
        raise CertificationNotFound(certification_id)
    status = CertificationStatus(certification.status)
    review = REVIEW_STAGES.get(status)
    if review is None:
        raise CertificationConflict(
            key="applicant.error.certification_not_decidable", params={"status": certification.status}
        )
    require_stage_role(SUBJECT, status, review, principal.roles)
    if body.decision in REFUSALS and not body.reason:
        raise InvalidProfile("reason", "applicant.invalid.reason_required", {"decision": body.decision})
    decisions = await repo.decisions_of(session, [certification.id])
    check_segregation(SUBJECT, principal.sub, [(d.decided_by, d.stage) for d in decisions], review.stage)
    check_second_approver(SUBJECT, principal.sub, _deciders(certification, decisions, review.stage))
    talent = await repo.get_talent(session, certification.talent_id)
    if talent is None or talent.status == TalentStatus.REVOKED:
        raise CertificationConflict(key="applicant.error.certification_talent_revoked")

    action = _action_of(certification, status, review, body, decisions, principal.sub)
    await officers.take_if_unowned(session, principal, certification)  # 首问负责制: deciding first makes the owner
    await transition(session, certification, action, actor=principal, reason=body.reason, tier=body.tier)
    if certification.status == CertificationStatus.CERTIFIED:
        # The reviewers saw these facts in the case and certified on them: they are officer-confirmed now. First,
        # so the profile event with the new provenance precedes talent.certified (same topic and key, in order):
        # benefits' 免申即享 on certification then sees the confirmed facts and may approve straight through.
        await confirm_certified_facts(session, principal, certification, issuing_city)
        # The city is done: the talent holds the granted tier for its validity period.
        await validity.transition(
            session, talent, TalentAction.CERTIFY, actor=principal, granted_by=certification, issuing_city=issuing_city
        )
    await session.flush()
    [public] = await for_review(session, [certification])
    public.attestation = await attestations.standing_of_talent(session, certification.talent_id)
    access_log.record_official_reads(session, principal, _shown([public]), access_log.CERTIFICATION_DECIDE)
    return public


def _deciders(certification: Certification, decisions: list[CertificationDecision], stage: str) -> set[str]:
    """The officers who already decided the certification at `stage` in its current round."""
    return {d.decided_by for d in decisions if d.round == certification.round and d.stage == stage}


def _action_of(
    certification: Certification,
    status: CertificationStatus,
    review: ReviewStage[CertificationStatus],
    body: DecisionCreate,
    decisions: list[CertificationDecision],
    officer: str,
) -> CertificationAction:
    """The move the decision makes; a city approval leaves the certification county_approved while fewer
    different approvers (this one included) have approved in this round than its route and tier need."""
    if body.decision in REFUSALS:
        return REFUSALS[body.decision]
    action = APPROVALS[status]
    if action is CertificationAction.APPROVE_CITY:
        approvers = {
            d.decided_by
            for d in decisions
            if d.round == certification.round and d.stage == review.stage and d.decision == "approve"
        } | {officer}
        tier = body.tier if body.tier is not None else certification.tier
        if len(approvers) < catalogue.city_approvals_needed(certification.route, tier):
            return CertificationAction.APPROVE_FIRST_OF_TWO
    return action
