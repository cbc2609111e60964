"""Change requests: how a certified or pending talent changes locked decision facts (education, title,
social-insurance months, employer, region, home ownership).

The talent submits the new values with a reason and evidence documents; the county reviewer of the talent's
region approves or rejects with a reason. On approval the profile, its provenance (officer_confirmed), the
talent's points and the other services' read models (TalentProfileUpdated) change; every decision is audited
with the values before and after. The flow is `states.CHANGE_REQUEST_FLOW`; `transition()` is its one function.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from contracts import ChangeRequestDecided, ChangeRequestSubmitted
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_after, keyset_page
from servicekit.problems import Conflict, Forbidden, NotFound
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import access_log, catalogue, documents, facts, points
from applicant import repository as repo
from applicant.clock import local_today
from applicant.employer import attestations
from applicant.events import outbox
from applicant.exceptions import InvalidProfile, ProfileRequired
from applicant.models import Certification, ChangeRequest, ChangeRequestEvidence, Talent, TalentProfile
from applicant.schemas import (
    ChangeDecisionCreate,
    ChangeEvidencePublic,
    ChangeRequestCreate,
    ChangeRequestForReview,
    ChangeRequestPublic,
    ChangeReviewFilter,
    ReviewedApplicant,
)
from applicant.service import announce_profile_update
from applicant.states import (
    CHANGE_REQUEST_FLOW,
    COUNTY_REVIEWER,
    ChangeRequestAction,
    ChangeRequestStatus,
    FactSource,
)

SUBJECT = "change request"


class ChangeRequestNotFound(NotFound):
    key = "applicant.error.change_request_not_found"

    def __init__(self, change_request_id: str) -> None:
        super().__init__(params={"change_request_id": change_request_id})


class ChangeRequestConflict(Conflict):
    """A change request that cannot be made now (nothing locked, one already open)."""

    key = "applicant.error.change_request_open"


class OwnChangeRequest(Forbidden):
    key = "applicant.error.own_change_request"


# --- the talent's side ----------------------------------------------------------------------------------------


async def submit(session: AsyncSession, talent_id: str, body: ChangeRequestCreate) -> ChangeRequest:
    """Ask the county reviewer to change locked facts; refused when nothing is locked (edit the profile)."""
    profile = await repo.get_profile(session, talent_id)
    talent = await repo.get_talent(session, talent_id)
    if profile is None or talent is None:
        raise ProfileRequired()
    if not (await facts.locks_of(session, talent)).facts:
        raise ChangeRequestConflict(key="applicant.error.change_request_not_locked", status_now=talent.status)
    open_one = await _open_request_of(session, talent_id)
    if open_one is not None:
        raise ChangeRequestConflict(params={"change_request_id": open_one.id})
    before = facts.values_of(profile)
    wanted = facts.check_values(body.changes.given(), profile.birth_date, local_today())
    changes = {name: wanted[name] for name in facts.changed(before, wanted)}
    if not changes:
        raise InvalidProfile("changes", "applicant.invalid.nothing_changes")
    documents = await _evidence_documents(session, talent_id, [e.document_id for e in body.evidence])
    request = ChangeRequest(
        id=str(uuid.uuid4()),
        talent_id=talent_id,
        region_code=profile.region_code,
        changes=changes,
        before={name: before[name] for name in changes},
        reason=body.reason,
    )
    session.add(request)
    await session.flush()
    for document_id in documents:
        session.add(ChangeRequestEvidence(change_request_id=request.id, document_id=document_id))
    await transition(session, request, ChangeRequestAction.SUBMIT, actor=talent_id, reason=body.reason)
    # Benefits holds the talent's claims back from straight-through approval until the request is decided.
    outbox.emit(
        session,
        ChangeRequestSubmitted(
            change_request_id=request.id,
            talent_id=talent_id,
            facts=sorted(changes),
            submitted_at=request.created_at,
        ),
        subject=talent_id,
    )
    return request


async def _evidence_documents(session: AsyncSession, talent_id: str, document_ids: list[str]) -> list[str]:
    """The cited documents, each the talent's own (applicant.documents refuses any other with a 422)."""
    if not document_ids:
        return []
    found = await documents.require_owned(session, talent_id, document_ids, field="evidence.{i}.document_id")
    return list(dict.fromkeys(d.id for d in found))


async def _open_request_of(session: AsyncSession, talent_id: str) -> ChangeRequest | None:
    query = select(ChangeRequest).where(
        ChangeRequest.talent_id == talent_id, ChangeRequest.status == ChangeRequestStatus.SUBMITTED
    )
    return (await session.exec(query)).first()


async def list_mine(session: AsyncSession, talent_id: str, page: PageParams) -> Page[ChangeRequestPublic]:
    """The talent's change requests, newest first."""
    query = select(ChangeRequest).where(ChangeRequest.talent_id == talent_id)
    after = page.position(cursor_time, cursor_key)
    if after is not None:
        query = query.where(keyset_after(_ORDER, after, descending=True))
    query = query.order_by(col(ChangeRequest.created_at).desc(), col(ChangeRequest.id).desc()).limit(page.limit + 1)
    found = keyset_page(list((await session.exec(query)).all()), page.limit, _position)
    return Page(items=await to_public(session, found.items), next_cursor=found.next_cursor)


async def get_mine(session: AsyncSession, talent_id: str, change_request_id: str) -> ChangeRequestPublic:
    request = await session.get(ChangeRequest, change_request_id)
    if request is None or request.talent_id != talent_id:
        raise ChangeRequestNotFound(change_request_id)
    [public] = await to_public(session, [request])
    return public


# --- the reviewer's side ----------------------------------------------------------------------------------


def _may_see(principal: Principal, request: ChangeRequest) -> bool:
    return COUNTY_REVIEWER in principal.roles and principal.region == request.region_code


async def review_queue(
    session: AsyncSession, principal: Principal, status: ChangeReviewFilter, page: PageParams
) -> Page[ChangeRequestForReview]:
    """`pending`: the submitted requests of the reviewer's region, oldest first; a status: those in it."""
    if not principal.region:
        return Page(items=[])  # a reviewer without a region sees nothing rather than everything
    wanted = ChangeRequestStatus.SUBMITTED if status == "pending" else ChangeRequestStatus(status)
    query = select(ChangeRequest).where(ChangeRequest.status == wanted, ChangeRequest.region_code == principal.region)
    after = page.position(cursor_time, cursor_key)
    if after is not None:
        query = query.where(keyset_after(_ORDER, after))
    query = query.order_by(col(ChangeRequest.created_at), col(ChangeRequest.id)).limit(page.limit + 1)
    found = keyset_page(list((await session.exec(query)).all()), page.limit, _position)
    access_log.record_official_reads(session, principal, [r.talent_id for r in found.items], "change_request.read")
    return Page(items=await for_review(session, principal, found.items), next_cursor=found.next_cursor)


async def get_for_review(session: AsyncSession, principal: Principal, change_request_id: str) -> ChangeRequestForReview:
    request = await _reviewable(session, principal, change_request_id)
    await access_log.record_official_read(session, principal, request.talent_id, "change_request.read")
    [public] = await for_review(session, principal, [request])
    public.attestation = await attestations.standing_of_talent(session, request.talent_id)
    return public


async def _reviewable(session: AsyncSession, principal: Principal, change_request_id: str) -> ChangeRequest:
    request = await session.get(ChangeRequest, change_request_id)
    if request is None or not _may_see(principal, request):
        raise ChangeRequestNotFound(change_request_id)
    return request


async def decide(
    session: AsyncSession, principal: Principal, change_request_id: str, body: ChangeDecisionCreate, issuing_city: str
) -> ChangeRequestForReview:
    """Approve (the facts change, confirmed by the reviewer) or reject, with a reason, once."""
    request = await _reviewable(session, principal, change_request_id)
    if principal.sub == request.talent_id:
        raise OwnChangeRequest()
    action = ChangeRequestAction.APPROVE if body.decision == "approve" else ChangeRequestAction.REJECT
    CHANGE_REQUEST_FLOW.check(ChangeRequestStatus(request.status), action)
    if action is ChangeRequestAction.APPROVE:
        await _apply(session, principal, request, issuing_city)
    await transition(session, request, action, actor=principal, reason=body.reason)
    await session.flush()
    # The answer shows the case again: a read like opening it.
    await access_log.record_official_read(session, principal, request.talent_id, "change_request.decide")
    [public] = await for_review(session, principal, [request])
    public.attestation = await attestations.standing_of_talent(session, request.talent_id)
    return public


async def _apply(session: AsyncSession, principal: Principal, request: ChangeRequest, issuing_city: str) -> None:
    """Write the approved values into the profile, confirmed by the reviewer; points and read models follow."""
    profile = await repo.get_profile(session, request.talent_id)
    talent = await repo.get_talent(session, request.talent_id)
    if profile is None or talent is None:
        raise ChangeRequestNotFound(request.id)
    now = utcnow()
    facts.apply(profile, request.changes)
    profile.updated_at = talent.updated_at = now
    await facts.confirm(
        session,
        talent.id,
        request.changes,
        source=FactSource.OFFICER_CONFIRMED,
        by=principal.sub,
        at=now,
        basis=f"change_request:{request.id}",
    )
    # A new employer: the old one's attestation lapses (after the confirmation above, which it leaves alone).
    await attestations.lapse_other_employers(session, talent.id, profile.employer_credit_code)
    await announce_profile_update(session, talent, profile, issuing_city)
    points.refresh(session, talent, profile)


async def confirm_certified_facts(
    session: AsyncSession, principal: Principal, certification: Certification, issuing_city: str
) -> None:
    """The city certified the talent: the facts its route relies on become officer-confirmed (by the city
    approver who completed it), and the other services learn the new provenance."""
    profile = await repo.get_profile(session, certification.talent_id)
    talent = await repo.get_talent(session, certification.talent_id)
    if profile is None or talent is None:
        return
    await facts.confirm(
        session,
        talent.id,
        catalogue.routes()[certification.route].confirms,
        source=FactSource.OFFICER_CONFIRMED,
        by=principal.sub,
        at=utcnow(),
        basis=f"certification:{certification.id}",
    )
    await announce_profile_update(session, talent, profile, issuing_city)


# --- the one transition ----------------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    request: ChangeRequest,
    action: ChangeRequestAction,
    *,
    actor: Principal | str,
    reason: str,
) -> None:
    """Move the request by `action`, with its decision fields, the audit entry (values before and after) and,
    for a decision, the event the talent is notified by."""
    move = CHANGE_REQUEST_FLOW[action]
    from_status = None if not move.sources else ChangeRequestStatus(request.status)
    if from_status is not None:
        CHANGE_REQUEST_FLOW.check(from_status, action)
    assert move.target is not None
    request.status = move.target
    if from_status is not None:
        request.decided_at = utcnow()
        request.decided_by = actor.sub if isinstance(actor, Principal) else actor
        request.decision_reason = reason
    await audit.record(
        session,
        actor,
        f"change_request.{action}",
        subject_type="talent",
        subject_id=request.talent_id,
        before=request.before,
        after={"change_request": request.id, "status": str(request.status), "changes": request.changes},
        reason=reason,
    )
    if request.decided_by is not None:
        outbox.emit(
            session,
            ChangeRequestDecided(
                change_request_id=request.id,
                talent_id=request.talent_id,
                decision="approve" if action is ChangeRequestAction.APPROVE else "reject",
                facts=sorted(request.changes),
                reason=reason,
                decided_by=request.decided_by,
            ),
            subject=request.talent_id,
        )


# --- views -------------------------------------------------------------------------------------------------------


# Every list of change requests is ordered by (created_at, id), oldest or newest first.
_ORDER = (col(ChangeRequest.created_at), col(ChangeRequest.id))


def _position(request: ChangeRequest) -> list[str]:
    return [request.created_at.isoformat(), request.id]


async def to_public(session: AsyncSession, rows: list[ChangeRequest]) -> list[ChangeRequestPublic]:
    evidence = await _evidence_of(session, [r.id for r in rows])
    return [_public(r, evidence[r.id]) for r in rows]


def _public(request: ChangeRequest, evidence: list[ChangeEvidencePublic]) -> ChangeRequestPublic:
    return ChangeRequestPublic(
        id=request.id,
        status=request.status,
        changes=request.changes,
        before=request.before,
        reason=request.reason,
        evidence=evidence,
        created_at=request.created_at,
        decided_at=request.decided_at,
        decided_by=request.decided_by,
        decision_reason=request.decision_reason,
    )


async def _evidence_of(session: AsyncSession, ids: list[str]) -> dict[str, list[ChangeEvidencePublic]]:
    found: dict[str, list[ChangeEvidencePublic]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.exec(
        select(ChangeRequestEvidence).where(col(ChangeRequestEvidence.change_request_id).in_(ids))
    )
    cited = list(rows)
    described = await _describe_documents(session, [row.document_id for row in cited])
    for row in cited:
        found[row.change_request_id].append(
            described.get(row.document_id, ChangeEvidencePublic(document_id=row.document_id))
        )
    return found


async def _describe_documents(session: AsyncSession, document_ids: list[str]) -> dict[str, ChangeEvidencePublic]:
    """Kind, type and size of the cited documents, as the documents module keeps them."""
    if not document_ids:
        return {}
    return {
        d.id: ChangeEvidencePublic(document_id=d.id, kind=d.kind, content_type=d.content_type, size=d.size)
        for d in await documents.get_many(session, document_ids)
    }


async def for_review(
    session: AsyncSession, principal: Principal, rows: list[ChangeRequest]
) -> list[ChangeRequestForReview]:
    """The requests with what the reviewer needs: who, the facts' provenance, the points after approval."""
    profiles = await repo.get_profiles(session, sorted({r.talent_id for r in rows}))
    talents = {t.id: t for t in [await repo.get_talent(session, tid) for tid in profiles] if t is not None}
    result = []
    for public, request in zip(await to_public(session, rows), rows, strict=True):
        profile, talent = profiles.get(request.talent_id), talents.get(request.talent_id)
        result.append(
            ChangeRequestForReview(
                **public.model_dump(),
                talent_id=request.talent_id,
                region_code=request.region_code,
                applicant=_applicant(profile, talent),
                provenance=await facts.provenance_of(session, request.talent_id),
                points_after=_points_after(profile, talent, request) if request.status == "submitted" else None,
            )
        )
    return result


def _applicant(profile: TalentProfile | None, talent: Talent | None) -> ReviewedApplicant | None:
    if profile is None or talent is None:
        return None
    return ReviewedApplicant(
        name=profile.name,
        id_number_masked=profile.id_number_masked,
        tier=talent.tier,
        status=talent.status,
        points=talent.points,
    )


def _points_after(profile: TalentProfile | None, talent: Talent | None, request: ChangeRequest) -> int | None:
    if profile is None or talent is None:
        return None
    changed = TalentProfile.model_validate(profile.model_dump())
    facts.apply(changed, request.changes)
    return points.points_of(talent, changed)
