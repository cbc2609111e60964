"""Applicant endpoints (thin: the rules live in service.py)."""

from __future__ import annotations

from fastapi import APIRouter
from servicekit.auth import TalentPrincipal
from servicekit.db import SessionDep

from applicant import service
from applicant.dependencies import ProtectorDep
from applicant.schemas import ProfilePublic, ProfileUpdate, TalentPublic

router = APIRouter(prefix="/api/v1", tags=["applicant"])


@router.put("/me/profile", response_model=ProfilePublic)
async def put_profile(
    body: ProfileUpdate, session: SessionDep, principal: TalentPrincipal, protector: ProtectorDep
) -> ProfilePublic:
    """Create or replace your profile (the first one registers you)."""
    profile = await service.put_profile(session, principal.sub, body, protector)
    return service.to_public(profile)


@router.get("/me/profile", response_model=ProfilePublic)
async def get_profile(session: SessionDep, principal: TalentPrincipal) -> ProfilePublic:
    """Your profile, with the identity number masked."""
    return service.to_public(await service.get_profile(session, principal.sub))


@router.get("/me/talent", response_model=TalentPublic)
async def get_talent(session: SessionDep, principal: TalentPrincipal) -> TalentPublic:
    """Your talent status: tier, points, certification validity."""
    talent = await service.get_talent(session, principal.sub)
    return TalentPublic(
        talent_id=talent.id,
        tier=talent.tier,
        points=talent.points,
        status=talent.status,
        certified_until=talent.certified_until,
    )
