"""复议: a talent appeals an officer's rejection within 15 days; a city approver who took no decision on the
claim before upholds it (rejected, final) or overturns it (the claim continues as after a city approval:
budget committed, then 公示), within 10 working days (the `appeal` stage's deadline timer escalates).

An appeal is decided through the normal decisions endpoint: `approve` overturns, `reject` upholds
(`review.decide` hands an appealed claim to `decide_appeal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.workflow import SegregationOfDuties
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import budget
from benefits.clock import Clock
from benefits.exceptions import (
    AmountNotEditable,
    AmountRequired,
    AppealNotReturnable,
    AppealTooLate,
    ClaimNotFound,
    InvalidClaimDetails,
    NotAppealable,
    WrongState,
)
from benefits.flow import SYSTEM, transition
from benefits.models import Claim, ClaimHistory
from benefits.policies import get_policy
from benefits.repository import BenefitsRepository
from benefits.rules import period_key
from benefits.schemas import AppealCreate, DecisionCreate
from benefits.states import CLAIM_FLOW, OFFICER_DECISIONS, ClaimAction, ClaimStatus

# 复议 within 15 calendar days of the rejection.
APPEAL_WINDOW = timedelta(days=15)
APPEALED_WORD = CLAIM_FLOW[ClaimAction.APPEAL].word


def rejection_of(history: Sequence[ClaimHistory]) -> ClaimHistory | None:
    """The history line that rejected the claim last (None: it was never rejected)."""
    return next((h for h in reversed(history) if h.to_status == ClaimStatus.REJECTED), None)


def appealable_until(history: Sequence[ClaimHistory]) -> datetime | None:
    """Until when the claim's rejection may be appealed; None when it may not be (system, or appealed once)."""
    rejection = rejection_of(history)
    if rejection is None or rejection.actor == SYSTEM or any(h.action == APPEALED_WORD for h in history):
        return None
    return rejection.at + APPEAL_WINDOW


async def appeal(session: AsyncSession, principal: Principal, claim_id: str, body: AppealCreate, clock: Clock) -> Claim:
    """The talent appeals a rejection of their own claim: it waits for a city approver as `appealed`."""
    repo = BenefitsRepository.of(session)
    claim = await repo.locked_claim(claim_id)
    if claim is None or claim.talent_id != principal.sub:
        raise ClaimNotFound()
    if claim.status == ClaimStatus.STOPPED:
        raise NotAppealable("stopped")
    if not CLAIM_FLOW.can(claim.status, ClaimAction.APPEAL):
        raise WrongState("appealed", claim.status)
    history = (await repo.history_of([claim.id]))[claim.id]
    rejection = rejection_of(history)
    if rejection is None or rejection.actor == SYSTEM:
        raise NotAppealable("automatic")
    if any(h.action == APPEALED_WORD for h in history):
        raise NotAppealable("decided")
    until = rejection.at + APPEAL_WINDOW
    if utcnow() > until:
        raise AppealTooLate(until)
    # The claim takes its period back: a claim filed since for the same period rules the appeal out.
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    key = period_key(policy.rules.limits, claim.talent_id, claim.policy_code, claim.year)
    if await repo.period_holder(key) is not None:
        raise NotAppealable("period_taken")
    claim.period_key = key
    await transition(session, claim, ClaimAction.APPEAL, actor=principal, clock=clock, reason=body.reason)
    await session.flush()
    return claim


async def decide_appeal(
    session: AsyncSession, principal: Principal, claim: Claim, body: DecisionCreate, clock: Clock
) -> bool:
    """Uphold (reject) or overturn (approve) an appealed claim; True when overturned (the caller puts it on 公示)."""
    if body.decision == "return":
        raise AppealNotReturnable()
    history = (await BenefitsRepository.of(session).history_of([claim.id]))[claim.id]
    # Stricter than one officer per stage: nobody who decided anything on this claim judges its appeal.
    decided = {h.stage or "" for h in history if h.action in OFFICER_DECISIONS and h.actor == principal.sub}
    if decided:
        raise SegregationOfDuties("claim", decided)
    if body.decision == "reject":
        await transition(session, claim, ClaimAction.UPHOLD_APPEAL, actor=principal, clock=clock, reason=body.reason)
        return False
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    if body.amount_fen is not None:
        if policy.rules.amount.basis != "entered_by_officer":
            raise AmountNotEditable()
        ceiling = policy.rules.amount.ceiling_fen
        if ceiling is not None and body.amount_fen > ceiling:
            raise InvalidClaimDetails("amount_fen", "benefits.details.amount_ceiling", {"ceiling": ceiling})
        claim.amount_fen = body.amount_fen
    if claim.amount_fen is None:
        raise AmountRequired()
    await budget.commit(session, claim)
    claim.city_approvals = 1
    await transition(session, claim, ClaimAction.OVERTURN_APPEAL, actor=principal, clock=clock, reason=body.reason)
    return True
