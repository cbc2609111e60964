"""Talent points (人才积分) by the formula in force (the rule set `points`, version 1 from data/points.json),
and their publication."""

from __future__ import annotations

import math

from contracts import TalentPointsChanged
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import catalogue
from applicant.events import outbox
from applicant.models import Talent, TalentProfile
from applicant.states import TalentStatus

# Only a certified talent's tier earns its base points; an expired or revoked one keeps the rest.
_TIER_EARNING_STATUS = TalentStatus.CERTIFIED


def compute(
    *, tier: str | None, degree: str, title: str | None, social_insurance_months: int, in_shortage_catalogue: bool
) -> int:
    """tier base + degree + title + insured months × rate (capped) + shortage-catalogue bonus, rounded down."""
    formula = catalogue.points_formula()
    total = (
        formula.tier_base.get(tier or "", 0)
        + formula.degree.get(degree, 0)
        + formula.title.get(title or "", 0)
        + min(social_insurance_months * formula.points_per_insured_month, formula.insured_months_cap)
        + (formula.shortage_catalogue_bonus if in_shortage_catalogue else 0)
    )
    return math.floor(total)


def in_shortage_catalogue(profile: TalentProfile) -> bool:
    return catalogue.shortage_catalogue().covers(profile.employer_credit_code, profile.employer_industry)


def points_of(talent: Talent, profile: TalentProfile | None) -> int:
    if profile is None:
        return 0
    return compute(
        tier=talent.tier if talent.status == _TIER_EARNING_STATUS else None,
        degree=profile.degree,
        title=profile.title,
        social_insurance_months=profile.social_insurance_months,
        in_shortage_catalogue=in_shortage_catalogue(profile),
    )


def refresh(session: AsyncSession, talent: Talent, profile: TalentProfile | None) -> int:
    """Recompute the talent's points; publish TalentPointsChanged when the value changed."""
    previous = talent.points
    talent.points = points_of(talent, profile)
    if talent.points != previous:
        outbox.emit(
            session,
            TalentPointsChanged(talent_id=talent.id, points=talent.points, previous_points=previous),
            subject=talent.id,
        )
    return talent.points
