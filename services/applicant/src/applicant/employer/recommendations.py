"""举荐: an employer's recommendation of a talent on its staff for the employer_recommendation certification route.

An employer files one for a talent whose profile names it, with the tier it recommends and why. The talent's
certification on that route must cite a filed recommendation of the employer their profile names now, and may
claim no better tier than it; submitting cites it (`cite`, called by certification.submit in the same
transaction), after which the employer can no longer withdraw it. A talent holds at most one filed
recommendation per employer.

    (new) ─file─► filed ─cite─► cited
                    └─withdraw─► withdrawn
"""

from __future__ import annotations

import uuid
from typing import Any

from contracts.events import RecommendationFiled, RecommendationWithdrawn
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_after, keyset_page
from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.employer.dependencies import EmployerCaller
from applicant.employer.models import Recommendation
from applicant.employer.schemas import RecommendationCreate
from applicant.employer.staff_scope import staff_profile
from applicant.events import outbox
from applicant.exceptions import InvalidRecommendationCitation, RecommendationConflict, RecommendationNotFound
from applicant.models import Certification, TalentProfile
from applicant.schemas import RecommendationPublic
from applicant.states import RECOMMENDATION_FLOW, RecommendationAction, RecommendationStatus

_ORDER = (col(Recommendation.filed_at), col(Recommendation.id))

# --- the employer's side -----------------------------------------------------------------------------------


async def file(session: AsyncSession, caller: EmployerCaller, body: RecommendationCreate) -> Recommendation:
    """File a recommendation for a talent on the caller's staff (NotOnStaff, 404, for anyone else)."""
    await staff_profile(session, caller.credit_code, body.talent_id)
    filed = await _filed_one(session, body.talent_id, caller.credit_code)
    if filed is not None:
        raise RecommendationConflict(params={"recommendation_id": filed.id})
    now = utcnow()
    recommendation = Recommendation(
        id=str(uuid.uuid4()),
        talent_id=body.talent_id,
        employer_credit_code=caller.credit_code,
        employer_name=caller.name,
        claimed_tier=body.claimed_tier,
        reason=body.reason,
        filed_by=caller.user,
        filed_at=now,
        updated_at=now,
    )
    await transition(session, recommendation, RecommendationAction.FILE, actor=caller.as_principal())
    session.add(recommendation)
    await session.flush()
    return recommendation


async def withdraw(session: AsyncSession, caller: EmployerCaller, recommendation_id: str) -> None:
    """Withdraw one of the caller's filed recommendations; a withdrawn one stays so (nothing changes), a cited
    one cannot be withdrawn (a certification relies on it: 409)."""
    recommendation = await session.get(Recommendation, recommendation_id)
    if recommendation is None or recommendation.employer_credit_code != caller.credit_code:
        raise RecommendationNotFound(recommendation_id)
    if recommendation.status == RecommendationStatus.WITHDRAWN:
        return
    if not RECOMMENDATION_FLOW.can(recommendation.status, RecommendationAction.WITHDRAW):
        raise RecommendationConflict(
            key="applicant.error.recommendation_cited", params={"certification_id": recommendation.certification_id}
        )
    await transition(session, recommendation, RecommendationAction.WITHDRAW, actor=caller.as_principal())
    await session.flush()


async def list_own(session: AsyncSession, caller: EmployerCaller, page: PageParams) -> Page[RecommendationPublic]:
    """The caller's employer's recommendations, newest first."""
    return await _page(session, col(Recommendation.employer_credit_code) == caller.credit_code, page)


# --- the talent's side -------------------------------------------------------------------------------------


async def list_mine(session: AsyncSession, talent_id: str, page: PageParams) -> Page[RecommendationPublic]:
    """The recommendations employers filed for the talent, newest first."""
    return await _page(session, col(Recommendation.talent_id) == talent_id, page)


async def cite(
    session: AsyncSession, certification: Certification, profile: TalentProfile, recommendation_id: str
) -> Recommendation:
    """The certification (being submitted on the employer_recommendation route) cites the recommendation: it
    must be the talent's, filed by the employer the profile names now, still filed, and recommend a tier at least
    as good as the one claimed; it becomes cited by the certification. Otherwise a 422 (409 for its status)
    naming the field."""
    recommendation = await session.get(Recommendation, recommendation_id)
    if recommendation is None or recommendation.talent_id != certification.talent_id:
        raise InvalidRecommendationCitation(
            "recommendation_id", "applicant.invalid.no_such_recommendation", {"recommendation_id": recommendation_id}
        )
    if recommendation.employer_credit_code != profile.employer_credit_code:
        raise InvalidRecommendationCitation("recommendation_id", "applicant.invalid.recommendation_other_employer")
    if not RECOMMENDATION_FLOW.can(recommendation.status, RecommendationAction.CITE):
        status = {"status": recommendation.status}
        raise RecommendationConflict(
            key="applicant.error.recommendation_not_citable",
            params=status,
            errors=[{"field": "recommendation_id", "key": "applicant.invalid.recommendation_status", "params": status}],
        )
    if _better(certification.claimed_tier, than=recommendation.claimed_tier):
        raise InvalidRecommendationCitation(
            "claimed_tier", "applicant.invalid.tier_above_recommendation", {"tier": recommendation.claimed_tier}
        )
    await transition(
        session, recommendation, RecommendationAction.CITE, actor=certification.talent_id, certification=certification
    )
    return recommendation


def _better(tier: str, *, than: str) -> bool:
    """Tiers are the letters A to E, A best (contracts.Tier)."""
    return tier < than


# --- the one transition ------------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    recommendation: Recommendation,
    action: RecommendationAction,
    *,
    actor: Principal | str,
    certification: Certification | None = None,
) -> None:
    """Move the recommendation by `action` (IllegalTransition, 409, when its status does not allow it), with the
    audit entry of an employer's move (by `actor`) and its event (RecommendationFiled, RecommendationWithdrawn; a
    citation is announced by the citing certification's CertificationSubmitted). A filing's
    recommendation is new: the caller adds it to the session. A citation names the citing `certification`."""
    move = RECOMMENDATION_FLOW[action]
    new = not move.sources
    if not new:
        RECOMMENDATION_FLOW.check(recommendation.status, action)
    before = None if new else _snapshot(recommendation)
    assert move.target is not None
    recommendation.status = move.target
    if certification is not None:
        recommendation.certification_id = certification.id
    if not new:
        recommendation.updated_at = utcnow()
    if move.audited:
        await audit.record(
            session,
            actor,
            f"recommendation.{action}",
            subject_type="recommendation",
            subject_id=recommendation.id,
            before=before,
            after=_snapshot(recommendation),
        )
    if action is RecommendationAction.FILE:
        outbox.emit(
            session,
            RecommendationFiled(
                recommendation_id=recommendation.id,
                talent_id=recommendation.talent_id,
                employer_credit_code=recommendation.employer_credit_code,
                claimed_tier=recommendation.claimed_tier,
                filed_at=recommendation.filed_at,
            ),
            subject=recommendation.talent_id,
        )
    if action is RecommendationAction.WITHDRAW:
        # The talent is told the recommendation they might cite is gone (notify); the employer's reason stays here.
        outbox.emit(
            session,
            RecommendationWithdrawn(
                recommendation_id=recommendation.id,
                talent_id=recommendation.talent_id,
                employer_credit_code=recommendation.employer_credit_code,
                withdrawn_at=recommendation.updated_at,
            ),
            subject=recommendation.talent_id,
        )


def _snapshot(recommendation: Recommendation) -> dict[str, Any]:
    # The reason is the employer's free text about a person: the audit chain keeps the facts of the move only.
    return {
        "talent_id": recommendation.talent_id,
        "employer_credit_code": recommendation.employer_credit_code,
        "claimed_tier": recommendation.claimed_tier,
        "status": recommendation.status,
        "certification_id": recommendation.certification_id,
    }


# --- queries and views -------------------------------------------------------------------------------------


async def _filed_one(session: AsyncSession, talent_id: str, credit_code: str) -> Recommendation | None:
    query = select(Recommendation).where(
        Recommendation.talent_id == talent_id,
        Recommendation.employer_credit_code == credit_code,
        Recommendation.status == RecommendationStatus.FILED,
    )
    return (await session.exec(query)).first()


async def _page(session: AsyncSession, where: ColumnElement[bool], page: PageParams) -> Page[RecommendationPublic]:
    query = select(Recommendation).where(where)
    after = page.position(cursor_time, cursor_key)
    if after is not None:
        query = query.where(keyset_after(_ORDER, after, descending=True))
    query = query.order_by(*(c.desc() for c in _ORDER)).limit(page.limit + 1)
    found = keyset_page(list((await session.exec(query)).all()), page.limit, _position)
    return Page(items=[public(r) for r in found.items], next_cursor=found.next_cursor)


def _position(recommendation: Recommendation) -> list[Any]:
    return [recommendation.filed_at.isoformat(), recommendation.id]


async def cited_by(session: AsyncSession, certifications: list[Certification]) -> dict[str, RecommendationPublic]:
    """The recommendation each of the certifications cites, by certification id (one query for a page)."""
    ids = sorted({c.recommendation_id for c in certifications if c.recommendation_id})
    if not ids:
        return {}
    rows = (await session.exec(select(Recommendation).where(col(Recommendation.id).in_(ids)))).all()
    by_id = {r.id: public(r) for r in rows}
    return {c.id: by_id[c.recommendation_id] for c in certifications if c.recommendation_id in by_id}


def public(recommendation: Recommendation) -> RecommendationPublic:
    return RecommendationPublic(
        id=recommendation.id,
        talent_id=recommendation.talent_id,
        employer_credit_code=recommendation.employer_credit_code,
        employer_name=recommendation.employer_name,
        claimed_tier=recommendation.claimed_tier,
        reason=recommendation.reason,
        status=recommendation.status,
        certification_id=recommendation.certification_id,
        filed_at=recommendation.filed_at,
    )
