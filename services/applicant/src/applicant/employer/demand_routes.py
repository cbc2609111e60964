"""Employer endpoints: recommendations (举荐) and demand declarations, and the public demand list (thin: the
rules live in recommendations.py and demands.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from servicekit.auth import TalentPrincipal
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep

from applicant.employer import demands, recommendations
from applicant.employer.dependencies import EmployerDep
from applicant.employer.schemas import DemandCreate, DemandFilter, DemandOptions, DemandPublic, RecommendationCreate
from applicant.schemas import RecommendationPublic

router = APIRouter(prefix="/api/v1", tags=["employer"])

RecommendationId = Annotated[str, Path(min_length=1, max_length=64, description="a recommendation id")]
DemandId = Annotated[str, Path(min_length=1, max_length=64, description="a demand declaration id")]


# --- recommendations (举荐) ---------------------------------------------------------------------------------


@router.post("/employer/recommendations", response_model=RecommendationPublic, status_code=201)
async def file_recommendation(
    body: RecommendationCreate, session: SessionDep, employer: EmployerDep, idempotency_key: IdempotencyKey = None
) -> Any:
    """Recommend (举荐) a talent on your staff for the employer_recommendation route, up to a tier."""

    async def create() -> RecommendationPublic:
        return recommendations.public(await recommendations.file(session, employer, body))

    return await run_idempotent(
        session,
        employer.as_principal(),
        idempotency_key,
        operation="POST /api/v1/employer/recommendations",
        body=body,
        create=create,
    )


@router.get("/employer/recommendations", response_model=Page[RecommendationPublic])
async def list_recommendations(session: SessionDep, employer: EmployerDep, page: PageDep) -> Page[RecommendationPublic]:
    """Your employer's recommendations, newest first."""
    return await recommendations.list_own(session, employer, page)


@router.delete("/employer/recommendations/{recommendation_id}", status_code=204)
async def withdraw_recommendation(
    recommendation_id: RecommendationId, session: SessionDep, employer: EmployerDep
) -> Response:
    """Withdraw a filed recommendation (409 once a certification cites it)."""
    await recommendations.withdraw(session, employer, recommendation_id)
    return Response(status_code=204)


@router.get("/me/recommendations", response_model=Page[RecommendationPublic])
async def my_recommendations(
    session: SessionDep, principal: TalentPrincipal, page: PageDep
) -> Page[RecommendationPublic]:
    """The recommendations employers filed for you, newest first (cite one in an employer_recommendation
    certification)."""
    return await recommendations.list_mine(session, principal.sub, page)


# --- demand declarations (人才需求申报) --------------------------------------------------------------------


@router.post("/employer/demands", response_model=DemandPublic, status_code=201)
async def declare_demand(
    body: DemandCreate, session: SessionDep, employer: EmployerDep, idempotency_key: IdempotencyKey = None
) -> Any:
    """Declare open posts in your region (GET /api/v1/demands/options lists the categories and salary bands)."""

    async def create() -> DemandPublic:
        return demands.public(await demands.declare(session, employer, body))

    return await run_idempotent(
        session,
        employer.as_principal(),
        idempotency_key,
        operation="POST /api/v1/employer/demands",
        body=body,
        create=create,
    )


@router.get("/employer/demands", response_model=Page[DemandPublic])
async def list_own_demands(session: SessionDep, employer: EmployerDep, page: PageDep) -> Page[DemandPublic]:
    """Your employer's demand declarations, open and closed, newest first."""
    return await demands.list_own(session, employer, page)


@router.delete("/employer/demands/{demand_id}", status_code=204)
async def close_demand(demand_id: DemandId, session: SessionDep, employer: EmployerDep) -> Response:
    """Close one of your demand declarations (filled or withdrawn); closing a closed one changes nothing."""
    await demands.close(session, employer, demand_id)
    return Response(status_code=204)


@router.get("/demands/options", response_model=DemandOptions)
async def demand_options() -> DemandOptions:
    """What a demand declaration may name: the shortage categories and the monthly salary bands."""
    return demands.options()


@router.get("/demands", response_model=Page[DemandPublic])
async def list_demands(
    session: SessionDep, page: PageDep, where: Annotated[DemandFilter, Query()]
) -> Page[DemandPublic]:
    """Open posts employers declared, newest first, by region, shortage category and degree (no sign-in)."""
    return await demands.list_open(session, where, page)
