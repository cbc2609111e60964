"""Review: who may decide a claim, and how — county (初审) then city (复审), one officer per stage, two
different city approvers above a policy's threshold (e.g. start-up funding over 1,000,000 CNY), the budget
committed at the city's approval, 公示 and objections to it, and disbursement (兑现) by finance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.messages import Message
from servicekit.workflow import check_second_approver, check_segregation, require_stage_role
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import appeals, budget, officers
from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.effects import apply_payment_effects
from benefits.exceptions import (
    AmountNotEditable,
    AmountRequired,
    ClaimNotFound,
    InvalidClaimDetails,
    PaymentReferenceUsed,
    PublicityNotOver,
    WrongState,
)
from benefits.flow import SYSTEM, transition
from benefits.models import Claim, ClaimHistory, ClaimObjection
from benefits.policies import get_policy
from benefits.repository import BenefitsRepository
from benefits.schemas import DecisionCreate, DisbursementCreate, ObjectionCreate
from benefits.states import (
    CLAIM_FLOW,
    COUNTY_REVIEWER,
    OFFICER_DECISIONS,
    REVIEW_STAGES,
    ClaimAction,
    ClaimStatus,
    ObjectionStatus,
)

# The officers' negative decisions, by the word of the request.
NEGATIVE_DECISIONS = {"reject": ClaimAction.REJECT, "return": ClaimAction.RETURN}
# Officers who see every region's claims; a county reviewer sees only the claims of the county's region.
CITY_WIDE_ROLES = ("city_approver", "finance_officer", "auditor", "admin")


def officer_can_see(principal: Principal, claim: Claim) -> bool:
    """County reviewers see their region's claims; city and finance officers and auditors see all."""
    if principal.has_any(CITY_WIDE_ROLES):
        return True
    return (
        principal.has_any((COUNTY_REVIEWER,)) and principal.region is not None and principal.region == claim.region_code
    )


async def visible_claim(session: AsyncSession, principal: Principal, claim_id: str, *, lock: bool = False) -> Claim:
    # lock=True for a change: the status it checks must hold until the commit (two replicas, one claim).
    repo = BenefitsRepository.of(session)
    claim = await (repo.locked_claim if lock else repo.get_claim)(claim_id)
    if claim is None or not officer_can_see(principal, claim):
        raise ClaimNotFound()
    return claim


async def _check_segregation(session: AsyncSession, principal: Principal, claim: Claim, stage: str) -> None:
    """One officer per stage: whoever decided another stage of this claim may not decide this one."""
    history = (await BenefitsRepository.of(session).history_of([claim.id]))[claim.id]
    decided = [(h.actor, h.stage) for h in history if h.action in OFFICER_DECISIONS]
    check_segregation("claim", principal.sub, decided, stage)


async def decide(
    session: AsyncSession, principal: Principal, claim_id: str, body: DecisionCreate, clock: Clock
) -> Claim:
    """A county reviewer (初审) or city approver (复审) approves, rejects or returns a claim."""
    claim = await visible_claim(session, principal, claim_id, lock=True)
    review = REVIEW_STAGES.get(ClaimStatus(claim.status))
    if review is None:
        raise WrongState("decided", claim.status)
    require_stage_role("claim", claim.status, review, principal.roles)
    if review.role == COUNTY_REVIEWER and principal.region != claim.region_code:
        raise ClaimNotFound()
    if claim.status == ClaimStatus.APPEALED:
        # 复议: approve overturns the rejection, reject upholds it (benefits.appeals).
        if await appeals.decide_appeal(session, principal, claim, body, clock):
            await _publicize(session, claim, clock)
        await session.flush()
        return claim
    await _check_segregation(session, principal, claim, review.stage)
    await officers.take_if_unowned(session, principal, claim)  # 首问负责制: deciding first makes the owner
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    if body.amount_fen is not None:
        if policy.rules.amount.basis != "entered_by_officer":
            raise AmountNotEditable()
        ceiling = policy.rules.amount.ceiling_fen
        if ceiling is not None and body.amount_fen > ceiling:
            raise InvalidClaimDetails("amount_fen", "benefits.details.amount_ceiling", {"ceiling": ceiling})
        claim.amount_fen = body.amount_fen

    negative = NEGATIVE_DECISIONS.get(body.decision)
    if negative is not None:
        claim.city_approvals = 0
        await transition(session, claim, negative, actor=principal, clock=clock, reason=body.reason)
        await _resolve_objections(session, claim)
        await session.flush()
        return claim

    if claim.amount_fen is None:
        raise AmountRequired()
    if review.stage == "city":
        await _approve_at_city(session, principal, claim, policy, body.reason, clock)
    else:
        await transition(session, claim, ClaimAction.APPROVE_COUNTY, actor=principal, clock=clock, reason=body.reason)
    await session.flush()
    return claim


def city_approvals_needed(policy: Policy, claim: Claim) -> int:
    """Two different city approvers above the policy's threshold (`review.two_city_approvers_above_fen`)."""
    threshold = policy.rules.review.two_city_approvers_above_fen
    return 2 if threshold is not None and (claim.amount_fen or 0) > threshold else 1


async def _approve_at_city(
    session: AsyncSession, principal: Principal, claim: Claim, policy: Policy, reason: str, clock: Clock
) -> None:
    """The second review; above the policy's threshold two different city approvers must approve."""
    history = (await BenefitsRepository.of(session).history_of([claim.id]))[claim.id]
    approvers = _city_approvers_since_last_entry(history)
    check_second_approver("claim", principal.sub, approvers)
    claim.city_approvals = len(approvers) + 1
    if claim.city_approvals < city_approvals_needed(policy, claim):
        await transition(session, claim, ClaimAction.APPROVE_FIRST_OF_TWO, actor=principal, clock=clock, reason=reason)
        return
    await budget.commit(session, claim)
    await transition(session, claim, ClaimAction.APPROVE_CITY, actor=principal, clock=clock, reason=reason)
    await _publicize(session, claim, clock)


def _city_approvers_since_last_entry(history: Sequence[ClaimHistory]) -> set[str]:
    """City approvals that count: those since the claim last came (back) into city review."""
    approvers: set[str] = set()
    first_of_two = CLAIM_FLOW[ClaimAction.APPROVE_FIRST_OF_TWO].word
    for entry in history:
        if entry.to_status == ClaimStatus.COUNTY_APPROVED and entry.from_status != ClaimStatus.COUNTY_APPROVED:
            approvers = set()
        elif entry.action == first_of_two:
            approvers.add(entry.actor)
    return approvers


async def _publicize(session: AsyncSession, claim: Claim, clock: Clock) -> None:
    """公示: the approval goes on public notice for the publicity period, then it may be paid."""
    claim.publicized_until = utcnow() + clock.publicity_period
    claim.publicity_ended_at = None
    await transition(
        session,
        claim,
        ClaimAction.PUBLICIZE,
        actor=SYSTEM,
        clock=clock,
        reason=Message("benefits.history.on_public_notice", {"until": claim.publicized_until.isoformat()}),
    )


async def object_to(
    session: AsyncSession, principal: Principal, claim_id: str, body: ObjectionCreate, clock: Clock
) -> ClaimObjection:
    """An objection during 公示 sends the claim back to city review (and frees its budget)."""
    claim = await BenefitsRepository.of(session).get_claim(claim_id)
    if claim is None:
        raise ClaimNotFound()
    if not CLAIM_FLOW.can(claim.status, ClaimAction.OBJECT) or claim.publicity_ended_at is not None:
        # Only a claim on public notice is anyone's business: to others, one that is not does not exist (its
        # status would say that a stranger applied for what, and how far the case got).
        if claim.talent_id != principal.sub and not officer_can_see(principal, claim):
            raise ClaimNotFound()
        raise WrongState("objected to (objections are taken only during its public notice)", claim.status)
    objection = ClaimObjection(
        id=str(uuid.uuid4()), claim_id=claim.id, raised_by=principal.sub, reason=body.reason, raised_at=utcnow()
    )
    session.add(objection)
    await budget.release(session, claim)
    claim.city_approvals = 0
    claim.publicized_until = None
    await transition(session, claim, ClaimAction.OBJECT, actor=principal, clock=clock, reason=body.reason)
    await session.flush()
    return objection


async def _resolve_objections(session: AsyncSession, claim: Claim) -> None:
    for objection in await BenefitsRepository.of(session).open_objections(claim.id):
        objection.status = ObjectionStatus.RESOLVED
        objection.resolved_at = utcnow()


async def disburse(
    session: AsyncSession, principal: Principal, claim_id: str, body: DisbursementCreate, clock: Clock
) -> Claim:
    """兑现: a finance officer records the payment once the 公示 period is over without objection."""
    claim = await visible_claim(session, principal, claim_id, lock=True)
    if not CLAIM_FLOW.can(claim.status, ClaimAction.DISBURSE):
        raise WrongState("paid", claim.status)
    if claim.publicity_ended_at is None:
        raise PublicityNotOver(claim.publicized_until)
    await _check_segregation(session, principal, claim, "disbursement")
    repo = BenefitsRepository.of(session)
    if await repo.claim_by_payment_reference(body.payment_reference) is not None:
        raise PaymentReferenceUsed()
    claim.payment_reference = body.payment_reference
    claim.disbursed_at = utcnow()
    await _resolve_objections(session, claim)
    await transition(
        session,
        claim,
        ClaimAction.DISBURSE,
        actor=principal,
        clock=clock,
        reason=Message("benefits.history.paid", {"reference": body.payment_reference}),
    )
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    await apply_payment_effects(session, claim, policy, clock)
    await session.flush()
    return claim
