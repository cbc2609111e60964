"""Queries of the applicant tables."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.models import Talent, TalentProfile


async def get_talent(session: AsyncSession, talent_id: str) -> Talent | None:
    return await session.get(Talent, talent_id)


async def get_profile(session: AsyncSession, talent_id: str) -> TalentProfile | None:
    return await session.get(TalentProfile, talent_id)


async def get_profile_by_id_hash(session: AsyncSession, id_number_hash: str) -> TalentProfile | None:
    result = await session.exec(select(TalentProfile).where(TalentProfile.id_number_hash == id_number_hash))
    return result.first()
