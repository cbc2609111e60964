"""Eligibility: what a talent's situation and earlier claims say about each policy, with every reason why not."""

from __future__ import annotations

from collections.abc import Sequence

from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.policies import list_policies
from benefits.repository import BenefitsRepository
from benefits.rules import (
    ClaimRecord,
    InvalidDetails,
    Reason,
    TalentSituation,
    compute_amount,
    eligibility_reasons,
    limit_reasons,
    period_key,
)
from benefits.schemas import EligibilityItem, ReasonPublic
from benefits.states import PERIOD_FREEING


async def situation_of(session: AsyncSession, talent_id: str) -> TalentSituation:
    repo = BenefitsRepository.of(session)
    await repo.load_situation(talent_id)
    facts = await repo.get_facts(talent_id)
    return TalentSituation(facts=facts, has_active_lease=await repo.has_active_lease(talent_id))


async def record_of(
    session: AsyncSession, talent_id: str, policy: Policy, year: int, *, excluding: str | None = None
) -> ClaimRecord:
    """What the talent's earlier claims of this policy count against its limits."""
    key = period_key(policy.rules.limits, talent_id, policy.code, year)
    counted = [
        c
        for c in await BenefitsRepository.of(session).claims_of_policy(talent_id, policy.code)
        if c.id != excluding and c.status not in PERIOD_FREEING
    ]
    return ClaimRecord(
        counted_claims=len(counted),
        period_taken=any(c.period_key == key for c in counted),
        months_used=sum(c.months or 0 for c in counted),
    )


def reasons_public(reasons: Sequence[Reason]) -> list[ReasonPublic]:
    return [ReasonPublic(**r.public()) for r in reasons]


async def eligibility(session: AsyncSession, talent_id: str, clock: Clock) -> list[EligibilityItem]:
    """Every active policy: may the talent claim it now, and if not, every reason why."""
    now = utcnow()
    today = clock.today(now)
    situation = await situation_of(session, talent_id)
    items = []
    for policy in await list_policies(session):
        record = await record_of(session, talent_id, policy, today.year)
        reasons = eligibility_reasons(policy.rules.eligibility, situation, today, record)
        reasons += limit_reasons(policy.rules.limits, record)
        try:
            amount = compute_amount(
                policy.rules.amount, policy.rules.limits, situation.facts, {}, record, estimate=True
            ).amount_fen
        except InvalidDetails:
            amount = None
        items.append(
            EligibilityItem(
                policy_code=policy.code,
                policy_name=policy.rules.name,
                eligible=not reasons,
                reasons=reasons_public(reasons),
                amount_fen=amount,
                claimed=record.period_taken,
                auto_grant=policy.rules.auto_grant,
            )
        )
    return items
