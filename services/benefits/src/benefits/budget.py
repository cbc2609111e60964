"""The yearly budget and quota of each policy: checked when a claim is accepted, committed at the city's
approval in one conditional UPDATE (so concurrent approvals cannot overspend), released when a committed
claim is withdrawn, stopped or objected to."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.exceptions import BudgetExhausted
from benefits.models import Claim
from benefits.repository import BenefitsRepository
from benefits.rules import Reason
from benefits.schemas import BudgetRules


async def current_budget(session: AsyncSession, claim: Claim) -> BudgetRules:
    # The year's limits are the policy's current ones: raising a budget applies to claims already filed.
    policy = (await BenefitsRepository.of(session).catalogue()).by_code.get(claim.policy_code)
    if policy is None or not policy.row.current:
        return BudgetRules()
    return policy.rules.budget


async def headroom_reasons(session: AsyncSession, claim: Claim) -> list[Reason]:
    """Why the year's quota or budget has no room left for this claim (none: it has room)."""
    budget = await current_budget(session, claim)
    if budget.yearly_budget_fen is None and budget.yearly_quota is None:
        return []
    used = await BenefitsRepository.of(session).get_budget(claim.policy_code, claim.year)
    count, spent = (used.committed_count, used.committed_fen) if used else (0, 0)
    reasons = []
    if budget.yearly_quota is not None and count >= budget.yearly_quota:
        reasons.append(
            Reason(
                "quota_exhausted", "benefits.reason.quota_exhausted", {"year": claim.year, "quota": budget.yearly_quota}
            )
        )
    if budget.yearly_budget_fen is not None and spent + (claim.amount_fen or 0) > budget.yearly_budget_fen:
        reasons.append(Reason("budget_exhausted", "benefits.reason.budget_exhausted", {"year": claim.year}))
    return reasons


async def commit(session: AsyncSession, claim: Claim) -> None:
    """Take the claim's amount from the year's budget and quota, or refuse (409) when it does not fit."""
    repo = BenefitsRepository.of(session)
    budget = await current_budget(session, claim)
    fits = await repo.commit_budget(
        claim.policy_code,
        claim.year,
        claim.amount_fen or 0,
        budget_fen=budget.yearly_budget_fen,
        quota=budget.yearly_quota,
    )
    if not fits:
        used = await repo.get_budget(claim.policy_code, claim.year)
        quota_full = (
            budget.yearly_quota is not None and used is not None and used.committed_count >= budget.yearly_quota
        )
        raise BudgetExhausted(claim.policy_code, claim.year, "quota" if quota_full else "budget")
    claim.budget_committed = True


async def release(session: AsyncSession, claim: Claim) -> None:
    if claim.budget_committed:
        await BenefitsRepository.of(session).release_budget(claim.policy_code, claim.year, claim.amount_fen or 0)
        claim.budget_committed = False
