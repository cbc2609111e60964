"""Online certification (人才层次在线认定): the talent's side (submission, 补正 resubmission, their own
certifications), the one `transition()` every change of a certification's status goes through, and the views.

The flow is `states.CERTIFICATION_FLOW`; the officers' side is in review.py, expiry and revocation in validity.py,
the review stages' deadlines (a timer `transition()` keeps) in deadlines.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from contracts import CertificationDecided, CertificationEscalated, CertificationSubmitted, EventData
from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import catalogue, documents, facts, officers
from applicant import repository as repo
from applicant.clock import add_city_working_days
from applicant.employer import recommendations
from applicant.events import outbox
from applicant.exceptions import (
    CertificationConflict,
    CertificationNotFound,
    InvalidProfile,
    ProfileRequired,
    UnknownDocuments,
)
from applicant.models import Certification, CertificationDecision, CertificationEvidence, Document, TalentProfile
from applicant.schemas import (
    ApplicantSummary,
    CertificationCreate,
    CertificationForReview,
    CertificationPublic,
    CertificationResubmit,
    DecisionPublic,
    EvidenceItem,
    EvidencePublic,
    ProvenancePublic,
)
from applicant.states import (
    CERTIFICATION_FLOW,
    REVIEW_STAGES,
    CertificationAction,
    CertificationStatus,
    CertificationTransition,
    TalentStatus,
    stage_of,
)

# --- the talent's side ---------------------------------------------------------------------------------


def _check_route(route: str, programme_code: str | None) -> None:
    if catalogue.routes()[route].requires_programme_code and not programme_code:
        raise InvalidProfile("programme_code", "applicant.invalid.programme_code_required")


# The route on which a certification cites an employer's 举荐 (applicant.employer.recommendations).
RECOMMENDATION_ROUTE = "employer_recommendation"


def _check_recommendation_given(route: str, recommendation_id: str | None) -> None:
    """The employer_recommendation route needs the recommendation it relies on; no other route takes one."""
    if route == RECOMMENDATION_ROUTE and recommendation_id is None:
        problem = "applicant.invalid.recommendation_required"
    elif route != RECOMMENDATION_ROUTE and recommendation_id is not None:
        problem = "applicant.invalid.recommendation_not_taken"
    else:
        return
    raise InvalidProfile("recommendation_id", problem)


async def _add_evidence(session: AsyncSession, certification: Certification, items: list[EvidenceItem]) -> None:
    """The items as evidence of the certification's current round; an item citing an uploaded document takes
    its reference and hash from it (422 naming the field for a document that is not the talent's)."""
    cited = [(f"evidence.{i}.document_id", item.document_id) for i, item in enumerate(items) if item.document_id]
    found = await documents.owned(session, certification.talent_id, [d for _, d in cited])
    unknown = [(field, document_id) for field, document_id in cited if document_id not in found]
    if unknown:
        raise UnknownDocuments(unknown)
    for item in items:
        document = found[item.document_id] if item.document_id else None
        reference = documents.reference_of(document) if document else item.reference
        sha256 = document.sha256 if document else item.sha256
        assert reference is not None and sha256 is not None  # EvidenceItem holds one form or the other
        session.add(
            CertificationEvidence(
                certification_id=certification.id,
                round=certification.round,
                kind=item.kind,
                reference=reference,
                sha256=sha256.lower(),
                document_id=document.id if document else None,
            )
        )


async def submit(session: AsyncSession, talent_id: str, body: CertificationCreate) -> Certification:
    """Apply for a tier; the certification goes to the county of the talent's profile region."""
    profile = await repo.get_profile(session, talent_id)
    talent = await repo.get_talent(session, talent_id)
    if profile is None or talent is None:
        raise ProfileRequired()
    if talent.status == TalentStatus.REVOKED:
        raise CertificationConflict(key="applicant.error.certification_own_status_revoked")
    open_one = await repo.open_certification_of(session, talent_id)
    if open_one is not None:
        raise CertificationConflict(
            key="applicant.error.certification_open",
            params={"certification_id": open_one.id, "status": open_one.status},
        )
    _check_route(body.route, body.programme_code)
    _check_recommendation_given(body.route, body.recommendation_id)
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
        recommendation_id=body.recommendation_id,
    )
    if body.recommendation_id is not None:
        # Cited in this transaction: the employer can no longer withdraw it (kept through a resubmission).
        await recommendations.cite(session, certification, profile, body.recommendation_id)
    await transition(session, certification, CertificationAction.SUBMIT)
    session.add(certification)
    await session.flush()
    await _add_evidence(session, certification, body.evidence)
    await session.flush()
    return certification


async def resubmit(
    session: AsyncSession, talent_id: str, certification_id: str, body: CertificationResubmit
) -> Certification:
    """Send a returned (补正) certification back to the county, as a new review round."""
    certification = await _own(session, talent_id, certification_id)
    if not CERTIFICATION_FLOW.can(certification.status, CertificationAction.RESUBMIT):
        raise CertificationConflict(
            key="applicant.error.certification_not_returned", params={"status": certification.status}
        )
    programme_code = body.programme_code or certification.programme_code
    _check_route(certification.route, programme_code)
    certification.programme_code = programme_code
    await transition(session, certification, CertificationAction.RESUBMIT)
    if body.evidence:
        await _add_evidence(session, certification, body.evidence)  # under the new round
    await session.flush()
    return certification


async def _own(session: AsyncSession, talent_id: str, certification_id: str) -> Certification:
    certification = await repo.get_certification(session, certification_id)
    if certification is None or certification.talent_id != talent_id:
        raise CertificationNotFound(certification_id)
    return certification


async def get_mine(session: AsyncSession, talent_id: str, certification_id: str) -> CertificationPublic:
    [public] = await to_public(session, [await _own(session, talent_id, certification_id)])
    return public


async def list_mine(session: AsyncSession, talent_id: str, page: PageParams) -> Page[CertificationPublic]:
    """The talent's certifications, newest first."""
    before = page.position(cursor_time, cursor_key)
    rows = await repo.list_certifications_of(session, talent_id, limit=page.limit + 1, before=before)
    found = keyset_page(rows, page.limit, keyset_position)
    return Page(items=await to_public(session, found.items), next_cursor=found.next_cursor)


# --- the one transition ----------------------------------------------------------------------------------

# The working-day deadline of the review stage a certification waits in (key: the certification's id).
STAGE_DEADLINE_TIMER = "certification.stage_deadline"


async def transition(
    session: AsyncSession,
    certification: Certification,
    action: CertificationAction,
    *,
    actor: Principal | str | None = None,
    reason: str = "",
    tier: str | None = None,
) -> CertificationTransition:
    """Move the certification by `action` (IllegalTransition, 409, when its status does not allow it), with
    what goes with the move: the new round of a resubmission, the decision row of a decision (by `actor`, with
    `reason`, granting `tier` when given), the review stage's deadline and its timer, the audit entry of an
    officer's decision or of an escalation (by the system), and the event.

    A submission's certification is new: the caller adds it to the session.
    """
    move = CERTIFICATION_FLOW[action]
    new = not move.sources
    from_status = None if new else CertificationStatus(certification.status)
    if from_status is not None:
        CERTIFICATION_FLOW.check(from_status, action)
    before = _snapshot(certification)
    if tier is not None:
        certification.tier = tier
    now = certification.submitted_at if new else utcnow()
    stage = None
    if move.decision is not None:
        assert isinstance(actor, Principal) and from_status is not None
        stage = stage_of(from_status)
        session.add(
            CertificationDecision(
                certification_id=certification.id,
                round=certification.round,
                stage=stage,
                decision=move.decision,
                tier=tier,
                reason=reason,
                decided_by=actor.sub,
                decided_at=now,
            )
        )
        await session.flush()
    if move.new_round:
        certification.round += 1
    target = move.target if from_status is None else move.leads_from(from_status)
    assert target is not None
    certification.status = target
    if not new:
        certification.updated_at = now  # a new one's was set with its submitted_at
    escalated_from: datetime | None = None
    if action is CertificationAction.ESCALATE:
        assert from_status is not None and certification.stage_due_at is not None
        stage, escalated_from = stage_of(from_status), certification.stage_due_at
        now = max(now, escalated_from)  # never before the deadline (a runner's clock may run ahead)
        certification.escalated_at = now
    if move.restarts_stage_clock:
        await _restart_stage_clock(session, certification, now, new=new)
    if move.audited:
        assert actor is not None
        await audit.record(
            session,
            actor,
            f"certification.{stage}.{move.decision}" if move.decision else f"certification.{action}",
            subject_type="certification",
            subject_id=certification.id,
            before=before,
            after=_snapshot(certification) | ({"stage": stage} if escalated_from else {}),
            reason=reason or None,
        )
    event = _event_of(certification, move, stage, actor, reason, escalated_from, now)
    outbox.emit(session, event, subject=certification.talent_id)
    return move


async def _restart_stage_clock(
    session: AsyncSession, certification: Certification, now: datetime, *, new: bool
) -> None:
    """The certification reached a review stage: its deadline is the rules' working days from now (rules
    "review"), and the timer that escalates it is (re)set; out of review, neither is kept."""
    certification.escalated_at = None
    review = REVIEW_STAGES.get(certification.status)
    if review is None:
        certification.stage_due_at = None
        if not new:
            await timers.cancel(session, STAGE_DEADLINE_TIMER, certification.id)
        return
    due = add_city_working_days(now, catalogue.stage_deadline_working_days(review.stage))
    certification.stage_due_at = due
    payload = {"status": certification.status, "stage": review.stage, "round": certification.round}
    if new:  # its id was made in this transaction: no timer can exist yet
        timers.schedule_new(session, STAGE_DEADLINE_TIMER, certification.id, due, payload)
    else:
        await timers.schedule(session, STAGE_DEADLINE_TIMER, certification.id, due, payload)


def _snapshot(certification: Certification) -> dict[str, Any]:
    return {
        "status": certification.status,
        "tier": certification.tier,
        "round": certification.round,
        "stage_due_at": certification.stage_due_at,
        "escalated_at": certification.escalated_at,
    }


def _event_of(
    certification: Certification,
    move: CertificationTransition,
    stage: str | None,
    actor: Principal | str | None,
    reason: str,
    escalated_from: datetime | None,
    now: datetime,
) -> EventData:
    if escalated_from is not None:
        return CertificationEscalated(
            certification_id=certification.id,
            talent_id=certification.talent_id,
            stage=stage,
            status=certification.status,
            region_code=certification.region_code,
            due_at=escalated_from,
            breached_at=now,
            officer_id=certification.officer_id,
        )
    if move.decision is None:
        return CertificationSubmitted(
            certification_id=certification.id,
            talent_id=certification.talent_id,
            route=certification.route,
            claimed_tier=certification.claimed_tier,
            region_code=certification.region_code,
        )
    assert isinstance(actor, Principal)
    return CertificationDecided(
        certification_id=certification.id,
        talent_id=certification.talent_id,
        stage=stage,
        decision=move.decision,
        status=certification.status,
        tier=certification.tier,
        reason=reason,
        decided_by=actor.sub,
    )


# --- views -------------------------------------------------------------------------------------------------


async def to_public(session: AsyncSession, rows: list[Certification]) -> list[CertificationPublic]:
    ids = [c.id for c in rows]
    evidence: dict[str, list[CertificationEvidence]] = defaultdict(list)
    for item in await repo.evidence_of(session, ids):
        evidence[item.certification_id].append(item)
    cited = await repo.documents_by_id(
        session, sorted({e.document_id for items in evidence.values() for e in items if e.document_id})
    )
    decisions: dict[str, list[CertificationDecision]] = defaultdict(list)
    for decision in await repo.decisions_of(session, ids):
        decisions[decision.certification_id].append(decision)
    return [_public(c, evidence[c.id], decisions[c.id], cited) for c in rows]


def _public(
    certification: Certification,
    evidence: list[CertificationEvidence],
    decisions: list[CertificationDecision],
    cited: dict[str, Document],
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
        evidence=[_evidence_public(e, cited) for e in evidence if e.round == latest_round],
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
        officer=officers.officer_of(certification),
    )


async def for_review(session: AsyncSession, rows: list[Certification]) -> list[CertificationForReview]:
    profiles = await repo.get_profiles(session, sorted({c.talent_id for c in rows}))
    provenance = await facts.provenance_of_many(session, list(profiles))
    cited = await recommendations.cited_by(session, rows)
    return [
        CertificationForReview(
            **public.model_dump(),
            applicant=_summary(profiles.get(public.talent_id), provenance.get(public.talent_id, {})),
            stage_due_at=row.stage_due_at,
            escalated=row.escalated_at is not None,
            recommendation=cited.get(row.id),
        )
        for row, public in zip(rows, await to_public(session, rows), strict=True)
    ]


def _evidence_public(item: CertificationEvidence, cited: dict[str, Document]) -> EvidencePublic:
    document = cited.get(item.document_id) if item.document_id else None
    return EvidencePublic(
        kind=item.kind,
        reference=item.reference,
        sha256=item.sha256,
        document_id=document.id if document else None,
        content_type=document.content_type if document else None,
        size=document.size if document else None,
    )


def _summary(profile: TalentProfile | None, provenance: dict[str, ProvenancePublic]) -> ApplicantSummary | None:
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
        provenance=provenance,
    )


def keyset_position(certification: Certification) -> list[str]:
    """Where a page of certifications ends: every list of them is ordered by (submitted_at, id)."""
    return [certification.submitted_at.isoformat(), certification.id]
