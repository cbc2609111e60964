"""Whether a talent is on an employer's staff: their profile names the employer's 统一社会信用代码 (naming the
employer is the talent's consent to what the employer sees and files about them)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.exceptions import NotOnStaff
from applicant.models import TalentProfile


async def staff_profile(session: AsyncSession, credit_code: str, talent_id: str) -> TalentProfile:
    """The profile of a talent on the staff of the employer with `credit_code`; NotOnStaff (404) for anyone else,
    so an employer cannot tell another employer's talent from one who does not exist."""
    profile = await session.get(TalentProfile, talent_id)
    if profile is None or profile.employer_credit_code != credit_code:
        raise NotOnStaff(talent_id)
    return profile
