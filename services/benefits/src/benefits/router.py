"""Benefits endpoints (thin: the rules live in policies, eligibility, flow, review and queries)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from servicekit.auth import CurrentPrincipal, TalentPrincipal
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep

from benefits import appeals, batch, flow, officers, policies, publicity, queries, review, straight_through
from benefits import eligibility as eligibility_rules
from benefits.dependencies import (
    AdminPrincipal,
    CityApproverPrincipal,
    ClaimId,
    ClockDep,
    FinancePrincipal,
    OfficerPrincipal,
    PolicyCodePath,
    QueuePrincipal,
    ReviewerPrincipal,
)
from benefits.schemas import (
    AppealCreate,
    BatchDecisionCreate,
    BatchDecisionsPublic,
    ClaimCase,
    ClaimCreate,
    ClaimPublic,
    ClaimResubmit,
    DecisionCreate,
    DisbursementCreate,
    EligibilityPublic,
    ObjectionCreate,
    ObjectionPublic,
    OfficerAssign,
    PoliciesPublic,
    PolicyCreate,
    PolicyPublic,
    PolicyUpdate,
    PublicityEntry,
    PublicNotice,
    SamplingCommitment,
)
from benefits.states import ClaimStatus

router = APIRouter(prefix="/api/v1", tags=["benefits"])

StatusFilter = Annotated[ClaimStatus | None, Query(description="only claims in this status")]
PolicyFilter = Annotated[str | None, Query(max_length=40, description="only claims of this policy")]


async def _one(session: SessionDep, claim: Any) -> ClaimPublic:
    [public] = await queries.to_public(session, [claim])
    return public


async def _case(session: SessionDep, claim: Any) -> ClaimCase:
    [case] = await queries.to_case(session, [claim])
    return case


# --- policies ---------------------------------------------------------------------------------


@router.get("/policies", response_model=PoliciesPublic)
async def list_policies(session: SessionDep) -> PoliciesPublic:
    """The policy catalogue: the current version of every active policy (public)."""
    return PoliciesPublic(items=[p.public() for p in await policies.list_policies(session)])


@router.get("/policies/{code}", response_model=PolicyPublic)
async def get_policy(
    code: PolicyCodePath,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="a past version (claims name theirs)")] = None,
) -> PolicyPublic:
    """One policy: its current version, or the version a claim was made under."""
    return (await policies.get_policy(session, code, version)).public()


@router.post("/admin/policies", response_model=PolicyPublic, status_code=201)
async def create_policy(body: PolicyCreate, session: SessionDep, principal: AdminPrincipal) -> PolicyPublic:
    """Add a policy to the catalogue (version 1)."""
    return (await policies.create_policy(session, principal, body)).public()


@router.put("/admin/policies/{code}", response_model=PolicyPublic)
async def update_policy(
    code: PolicyCodePath, body: PolicyUpdate, session: SessionDep, principal: AdminPrincipal
) -> PolicyPublic:
    """Change a policy: stored as a new version; claims keep the version they were made under."""
    return (await policies.update_policy(session, principal, code, body)).public()


@router.get("/admin/policies/{code}/versions", response_model=PoliciesPublic)
async def policy_versions(code: PolicyCodePath, session: SessionDep, principal: AdminPrincipal) -> PoliciesPublic:
    """Every version of a policy, oldest first."""
    return PoliciesPublic(items=[p.public() for p in await policies.policy_history(session, code)])


# --- the talent's side ------------------------------------------------------------------------


@router.get("/me/eligibility", response_model=EligibilityPublic)
async def my_eligibility(session: SessionDep, principal: TalentPrincipal, clock: ClockDep) -> EligibilityPublic:
    """The one-tap list: every policy, whether you may claim it now, and why not."""
    return EligibilityPublic(items=await eligibility_rules.eligibility(session, principal.sub, clock))


@router.post("/me/claims", response_model=ClaimPublic, status_code=201)
async def submit_claim(
    body: ClaimCreate,
    session: SessionDep,
    principal: TalentPrincipal,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Claim a policy with one tap; the automatic checks answer at once (accepted or rejected)."""

    async def create() -> ClaimPublic:
        return await _one(session, await flow.submit_claim(session, principal, body, clock))

    return await run_idempotent(
        session, principal, idempotency_key, operation="POST /api/v1/me/claims", body=body, create=create
    )


@router.get("/me/claims", response_model=Page[ClaimPublic])
async def my_claims(
    session: SessionDep, principal: TalentPrincipal, page: PageDep, status: StatusFilter = None
) -> Page[ClaimPublic]:
    """Your claims, newest first, each with its history of decisions."""
    found = await queries.my_claims(session, principal, status, page)
    return Page(items=await queries.to_public(session, found.items), next_cursor=found.next_cursor)


@router.get("/me/claims/{claim_id}", response_model=ClaimPublic)
async def my_claim(claim_id: ClaimId, session: SessionDep, principal: TalentPrincipal) -> ClaimPublic:
    """One of your claims with its history of decisions."""
    return await _one(session, await queries.my_claim(session, principal, claim_id))


@router.post("/me/claims/{claim_id}/withdraw", response_model=ClaimPublic)
async def withdraw_claim(
    claim_id: ClaimId, session: SessionDep, principal: TalentPrincipal, clock: ClockDep
) -> ClaimPublic:
    """Take a claim back (any time before it is paid)."""
    return await _one(session, await flow.withdraw(session, principal, claim_id, clock))


@router.post("/me/claims/{claim_id}/resubmit", response_model=ClaimPublic)
async def resubmit_claim(
    claim_id: ClaimId, body: ClaimResubmit, session: SessionDep, principal: TalentPrincipal, clock: ClockDep
) -> ClaimPublic:
    """补正: resubmit a returned claim with amended details; the automatic checks run again."""
    return await _one(session, await flow.resubmit(session, principal, claim_id, body, clock))


@router.post("/me/claims/{claim_id}/appeal", response_model=ClaimPublic)
async def appeal_claim(
    claim_id: ClaimId,
    body: AppealCreate,
    session: SessionDep,
    principal: TalentPrincipal,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """复议: appeal an officer's rejection within 15 days; a city approver who did not decide it before decides."""

    async def create() -> ClaimPublic:
        return await _one(session, await appeals.appeal(session, principal, claim_id, body, clock))

    return await run_idempotent(
        session,
        principal,
        idempotency_key,
        operation=f"POST /api/v1/me/claims/{claim_id}/appeal",
        body=body,
        create=create,
        status_code=200,
    )


# --- officers ---------------------------------------------------------------------------------


@router.get("/reviews/claims", response_model=Page[ClaimCase])
async def review_queue(
    session: SessionDep,
    principal: QueuePrincipal,
    page: PageDep,
    status: StatusFilter = None,
    policy_code: PolicyFilter = None,
) -> Page[ClaimCase]:
    """Your queue, oldest first: your region's first reviews, the city's second reviews, or claims to pay."""
    found = await queries.review_queue(session, principal, status, policy_code, page)
    return Page(items=await queries.to_case(session, found.items), next_cursor=found.next_cursor)


@router.get("/reviews/claims/{claim_id}", response_model=ClaimCase)
async def review_claim(claim_id: ClaimId, session: SessionDep, principal: OfficerPrincipal) -> ClaimCase:
    """One claim with its full history and what rules out straight-through approval (county: own region only)."""
    return await _case(session, await officers.open_case(session, principal, claim_id))


@router.post("/reviews/claims/{claim_id}/officer", response_model=ClaimCase)
async def reassign_claim_officer(
    claim_id: ClaimId, body: OfficerAssign, session: SessionDep, principal: CityApproverPrincipal
) -> ClaimCase:
    """Hand a claim to another official (首问负责制: the talent sees the new owner's name and office phone)."""
    return await _case(session, await officers.reassign(session, principal, claim_id, body))


@router.post("/reviews/claims/batch-decisions", response_model=BatchDecisionsPublic)
async def decide_claims(
    body: BatchDecisionCreate, session: SessionDep, principal: ReviewerPrincipal, clock: ClockDep
) -> BatchDecisionsPublic:
    """Decide up to 500 claims with one decision and reason, each as if alone; the outcome of each is listed."""
    return await batch.decide_many(session, principal, body, clock)


@router.post("/reviews/claims/{claim_id}/decisions", response_model=ClaimCase)
async def decide_claim(
    claim_id: ClaimId, body: DecisionCreate, session: SessionDep, principal: ReviewerPrincipal, clock: ClockDep
) -> ClaimCase:
    """Approve, reject or return a claim at your stage (county 初审, then city 复审 and 公示)."""
    return await _case(session, await review.decide(session, principal, claim_id, body, clock))


@router.post("/reviews/claims/{claim_id}/disbursement", response_model=ClaimCase)
async def disburse_claim(
    claim_id: ClaimId, body: DisbursementCreate, session: SessionDep, principal: FinancePrincipal, clock: ClockDep
) -> ClaimCase:
    """兑现: record the payment of a claim whose public notice ended without objection."""
    return await _case(session, await review.disburse(session, principal, claim_id, body, clock))


# --- public notice (公示) ---------------------------------------------------------------------


@router.get("/claims/publicized", response_model=Page[PublicNotice])
async def public_notices(session: SessionDep, page: PageDep) -> Page[PublicNotice]:
    """Claims on public notice now (public; pseudonyms, never names)."""
    found = await queries.public_notices(session, page)
    return Page(items=[queries.to_notice(c) for c in found.items], next_cursor=found.next_cursor)


@router.get("/publicity", response_model=Page[PublicityEntry])
async def publicity_list(session: SessionDep, page: PageDep) -> Page[PublicityEntry]:
    """The 公示 list (public): masked name, employer, policy, amount and the objection deadline."""
    return await publicity.publicity(session, page)


@router.get("/publicity/sampling", response_model=Page[SamplingCommitment])
async def sampling_commitments(session: SessionDep, page: PageDep, clock: ClockDep) -> Page[SamplingCommitment]:
    """The sampled-review draws (public): each policy's daily seed commitment, and the seed once the day is over."""
    return await straight_through.commitments(session, clock, page)


@router.post("/claims/{claim_id}/objections", response_model=ObjectionPublic, status_code=201)
async def object_to_claim(
    claim_id: ClaimId, body: ObjectionCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep
) -> ObjectionPublic:
    """Object to a claim on public notice (any signed-in user); it goes back to city review."""
    objection = await review.object_to(session, principal, claim_id, body, clock)
    return ObjectionPublic(
        id=objection.id,
        claim_id=objection.claim_id,
        status=objection.status,
        reason=objection.reason,
        raised_at=objection.raised_at,
    )
