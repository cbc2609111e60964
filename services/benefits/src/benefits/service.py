"""Benefits rules: policies and their versions, eligibility, claims and their state machine, budgets, 公示.

Services flush, never commit: the request (or the consumer's, or the timer's transaction) is the unit of
work, so a claim's change, its history, its audit entry, its timers and its events commit together.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from contracts import (
    ClaimDecided,
    ClaimDisbursed,
    ClaimEscalated,
    ClaimPublicized,
    ClaimSubmitted,
    HousingVoucherUsed,
)
from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.outbox import Outbox
from servicekit.pagination import PageParams, encode_cursor
from servicekit.problems import Forbidden
from servicekit.timers import ScheduledTimer
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import repository as repo
from benefits.catalogue import Policy, rules_json
from benefits.config import BenefitsSettings
from benefits.exceptions import (
    AlreadyClaimed,
    AmountNotEditable,
    AmountRequired,
    BudgetExhausted,
    ClaimNotFound,
    InvalidClaimDetails,
    NotEligible,
    NotYourStage,
    PaymentReferenceUsed,
    PolicyExists,
    PolicyNotFound,
    PublicityNotOver,
    SegregationOfDuties,
    UnknownPolicy,
    WrongState,
)
from benefits.models import OPEN_STATUSES, BenefitPolicy, Claim, ClaimHistory, ClaimObjection
from benefits.rules import (
    Amount,
    ClaimRecord,
    InvalidDetails,
    Reason,
    TalentSituation,
    add_working_days,
    compute_amount,
    eligibility_reasons,
    limit_reasons,
    period_key,
)
from benefits.schemas import (
    BudgetRules,
    ClaimCreate,
    ClaimPublic,
    ClaimResubmit,
    DecisionCreate,
    DisbursementCreate,
    EligibilityItem,
    HistoryEntry,
    ObjectionCreate,
    PolicyCreate,
    PolicyUpdate,
    PublicNotice,
    ReasonPublic,
)

logger = logging.getLogger("benefits.service")

outbox = Outbox("benefits")

SYSTEM = "system"
STAGE_DEADLINE_TIMER = "benefits.claim.stage_deadline"
END_TO_END_TIMER = "benefits.claim.end_to_end"
PUBLICITY_TIMER = "benefits.claim.publicity_end"


@dataclass(frozen=True)
class ReviewStage:
    """Who decides a claim in a status, and where an approval moves it."""

    stage: str
    role: str
    approved_status: str


# The review flow as data: status -> the stage that decides it.
REVIEW_STAGES: Mapping[str, ReviewStage] = {
    "accepted": ReviewStage("county", "county_reviewer", "county_approved"),
    "county_approved": ReviewStage("city", "city_approver", "city_approved"),
}
NEGATIVE_OUTCOMES: Mapping[str, str] = {"reject": "rejected", "return": "returned"}
# The stage a claim waits in (for events and escalations), by status.
STAGE_OF_STATUS: Mapping[str, str] = {
    "submitted": "acceptance",
    "returned": "acceptance",
    "accepted": "county",
    "county_approved": "city",
    "city_approved": "city",
    "publicized": "city",
}
WITHDRAWABLE = frozenset(OPEN_STATUSES) - {"submitted"}
# A claim that ends this way frees its period, so the talent may claim that period again.
PERIOD_FREEING = frozenset({"rejected", "withdrawn"})


@dataclass(frozen=True)
class Clock:
    """The claim flow's clocks and calendar, from the settings."""

    publicity_period: timedelta
    stage_working_days: int
    end_to_end: timedelta
    utc_offset: timedelta

    @classmethod
    def from_settings(cls, settings: BenefitsSettings) -> Clock:
        return cls(
            publicity_period=timedelta(seconds=settings.publicity_period_s),
            stage_working_days=settings.stage_deadline_working_days,
            end_to_end=timedelta(days=settings.end_to_end_days),
            utc_offset=timedelta(hours=settings.utc_offset_hours),
        )

    def today(self, now: datetime) -> date:
        return (now + self.utc_offset).date()

    def stage_due(self, now: datetime) -> datetime:
        return add_working_days(now, self.stage_working_days, self.utc_offset)


# --- policies ---------------------------------------------------------------------------------


async def list_policies(session: AsyncSession) -> list[Policy]:
    return [Policy.of(row) for row in await repo.current_policies(session)]


@dataclass(frozen=True)
class Catalogue:
    """The current version of every policy, parsed; kept per process and checked once per transaction."""

    fingerprint: tuple[Any, ...]
    by_code: Mapping[str, Policy]

    def auto_grant(self) -> list[Policy]:
        return [p for code, p in sorted(self.by_code.items()) if p.row.active and p.row.auto_grant]


_catalogue: Catalogue | None = None


async def catalogue(session: AsyncSession) -> Catalogue:
    """The current policies without re-reading and re-parsing them for every event.

    Versions are only ever added (a change is a new row, the old one loses `current`), so the count,
    the newest creation time and the number of current and active rows change with any change; one
    small aggregate per transaction tells whether the process's parsed copy is still the catalogue.
    """
    global _catalogue
    cache = repo.tx_cache(session)
    if cache.catalogue is not None:
        return cast(Catalogue, cache.catalogue)
    fingerprint = await repo.policy_fingerprint(session)
    current = _catalogue
    if current is None or current.fingerprint != fingerprint:
        rows = await repo.current_policies(session, active_only=False)
        # Kept across sessions as copies that belong to none, so no session's rollback or change touches them.
        copies = [BenefitPolicy(**row.model_dump()) for row in rows]
        current = Catalogue(fingerprint, {row.code: Policy.of(row) for row in copies})
        _catalogue = current
    cache.catalogue = current
    return current


async def get_policy(session: AsyncSession, code: str, version: int | None = None) -> Policy:
    row = await (repo.current_policy(session, code) if version is None else repo.policy_version(session, code, version))
    if row is None:
        raise PolicyNotFound(code)
    return Policy.of(row)


async def policy_history(session: AsyncSession, code: str) -> list[Policy]:
    rows = await repo.policy_versions(session, code)
    if not rows:
        raise PolicyNotFound(code)
    return [Policy.of(row) for row in rows]


async def create_policy(session: AsyncSession, principal: Principal, body: PolicyCreate) -> Policy:
    """A new policy at version 1."""
    if await repo.policy_versions(session, body.code):
        raise PolicyExists(body.code)
    row = _policy_row(body.code, 1, body, principal, body.change_reason or "created")
    session.add(row)
    await audit.record(
        session,
        principal,
        "policy.created",
        subject_type="policy",
        subject_id=body.code,
        after=body,
        reason=row.change_reason,
    )
    await session.flush()
    return Policy.of(row)


async def update_policy(session: AsyncSession, principal: Principal, code: str, body: PolicyUpdate) -> Policy:
    """Store the policy as a new version; claims keep the version they were made under."""
    current = await repo.current_policy(session, code)
    if current is None:
        raise PolicyNotFound(code)
    current.current = False
    row = _policy_row(code, current.version + 1, body, principal, body.change_reason)
    session.add(row)
    await audit.record(
        session,
        principal,
        "policy.changed",
        subject_type="policy",
        subject_id=code,
        before=Policy.of(current).rules,
        after=body,
        reason=body.change_reason,
    )
    await session.flush()
    return Policy.of(row)


def _policy_row(
    code: str, version: int, body: PolicyCreate | PolicyUpdate, principal: Principal, reason: str
) -> BenefitPolicy:
    return BenefitPolicy(
        code=code,
        version=version,
        current=True,
        name=body.name,
        name_en=body.name_en,
        description=body.description,
        auto_grant=body.auto_grant,
        active=body.active,
        rules=rules_json(body),
        created_at=utcnow(),
        created_by=principal.sub,
        change_reason=reason,
    )


# --- eligibility ------------------------------------------------------------------------------


async def situation_of(session: AsyncSession, talent_id: str) -> TalentSituation:
    facts = await repo.get_facts(session, talent_id)
    return TalentSituation(facts=facts, has_active_lease=await repo.has_active_lease(session, talent_id))


async def record_of(
    session: AsyncSession, talent_id: str, policy: Policy, year: int, *, excluding: str | None = None
) -> ClaimRecord:
    """What the talent's earlier claims of this policy count against its limits."""
    key = period_key(policy.rules.limits, talent_id, policy.code, year)
    counted = [
        c
        for c in await repo.claims_of_policy(session, talent_id, policy.code)
        if c.id != excluding and c.status not in PERIOD_FREEING
    ]
    return ClaimRecord(
        counted_claims=len(counted),
        period_taken=any(c.period_key == key for c in counted),
        months_used=sum(c.months or 0 for c in counted),
    )


def _reasons_public(reasons: Sequence[Reason]) -> list[ReasonPublic]:
    return [ReasonPublic(code=r.code, message=r.message) for r in reasons]


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
                reasons=_reasons_public(reasons),
                amount_fen=amount,
                claimed=record.period_taken,
                auto_grant=policy.rules.auto_grant,
            )
        )
    return items


# --- claims: submission and the automatic checks ----------------------------------------------


async def submit_claim(session: AsyncSession, principal: Principal, body: ClaimCreate, clock: Clock) -> Claim:
    """One tap: check eligibility and limits, then run the automatic checks at once (accepted or rejected)."""
    row = await repo.current_policy(session, body.policy_code)
    if row is None or not row.active:
        raise UnknownPolicy(body.policy_code)
    policy = Policy.of(row)
    now = utcnow()
    year = clock.today(now).year
    situation = await situation_of(session, principal.sub)
    record = await record_of(session, principal.sub, policy, year)
    limits = limit_reasons(policy.rules.limits, record)
    if limits:
        raise AlreadyClaimed(policy.code, limits)
    reasons = eligibility_reasons(policy.rules.eligibility, situation, clock.today(now), record)
    if reasons:
        raise NotEligible(policy.code, reasons)
    try:
        amount = compute_amount(policy.rules.amount, policy.rules.limits, situation.facts, body.details, record)
    except InvalidDetails as exc:
        raise InvalidClaimDetails(exc.field, exc.message) from exc
    claim = await _file_claim(session, principal.sub, policy, situation, dict(body.details), amount, now, year, clock)
    await _accept_or_reject(session, claim, clock)
    return claim


async def auto_grant(session: AsyncSession, talent_id: str, clock: Clock) -> list[Claim]:
    """免申即享: file an accepted claim of every auto-grant policy the certified talent qualifies for.

    Exactly one per talent and policy: the auto_grant_key is checked here and unique in the table.
    """
    situation = await situation_of(session, talent_id)
    if situation.facts is None or situation.facts.status != "certified":
        return []
    now = utcnow()
    today = clock.today(now)
    granted = []
    for policy in (await catalogue(session)).auto_grant():
        if await repo.auto_claim_exists(session, talent_id, _auto_key(talent_id, policy.code)):
            continue
        record = await record_of(session, talent_id, policy, today.year)
        if limit_reasons(policy.rules.limits, record) or eligibility_reasons(
            policy.rules.eligibility, situation, today, record
        ):
            continue
        try:
            amount = compute_amount(policy.rules.amount, policy.rules.limits, situation.facts, {}, record)
        except InvalidDetails:
            continue  # the amount needs the talent's input: a one-tap claim, not an automatic one
        claim = await _file_claim(session, talent_id, policy, situation, {}, amount, now, today.year, clock, auto=True)
        await _accept_or_reject(session, claim, clock)
        granted.append(claim)
    return granted


def _auto_key(talent_id: str, policy_code: str) -> str:
    return f"{talent_id}:{policy_code}"


async def _file_claim(
    session: AsyncSession,
    talent_id: str,
    policy: Policy,
    situation: TalentSituation,
    details: dict[str, Any],
    amount: Amount,
    now: datetime,
    year: int,
    clock: Clock,
    *,
    auto: bool = False,
) -> Claim:
    """Store the claim as `submitted`, with its event and the end-to-end clock (90 days from now)."""
    # The callers checked the period with record_of; a concurrent twin fails on the unique period_key (409).
    facts = situation.facts
    key = period_key(policy.rules.limits, talent_id, policy.code, year)
    claim = Claim(
        id=str(uuid.uuid4()),
        talent_id=talent_id,
        policy_code=policy.code,
        policy_version=policy.version,
        status="submitted",
        auto=auto,
        auto_grant_key=_auto_key(talent_id, policy.code) if auto else None,
        period_key=key,
        amount_fen=amount.amount_fen,
        months=amount.months,
        details=details,
        year=year,
        region_code=facts.home_region if facts else None,
        talent_pseudonym=facts.pseudonym if facts else None,
        submitted_at=now,
        updated_at=now,
    )
    repo.add_claim(session, claim)
    repo.add_history(
        session,
        claim_id=claim.id,
        at=now,
        action="auto_granted" if auto else "submitted",
        stage="acceptance",
        from_status=None,
        to_status="submitted",
        actor=SYSTEM if auto else talent_id,
    )
    outbox.emit(
        session,
        ClaimSubmitted(
            claim_id=claim.id,
            talent_id=talent_id,
            policy_code=policy.code,
            policy_version=policy.version,
            amount_fen=amount.amount_fen,
            auto=auto,
            status="submitted",
        ),
        subject=talent_id,
    )
    # The 90 days run from the first submission, across returns and resubmissions.
    timers.schedule_new(session, END_TO_END_TIMER, claim.id, now + clock.end_to_end)
    return claim


async def _accept_or_reject(session: AsyncSession, claim: Claim, clock: Clock) -> None:
    """The automatic checks (受理): the year's quota and budget still have room for this claim."""
    reasons = await _headroom_reasons(session, claim)
    claim.reasons = [r.as_dict() for r in reasons]
    if reasons:
        await _move(
            session,
            claim,
            "rejected",
            action="rejected",
            stage="acceptance",
            actor=SYSTEM,
            clock=clock,
            reason=reasons[0].message,
            reasons=reasons,
        )
        _emit_decided(session, claim, "acceptance", "reject", None, reasons[0].message)
    else:
        await _move(session, claim, "accepted", action="accepted", stage="acceptance", actor=SYSTEM, clock=clock)
        _emit_decided(session, claim, "acceptance", "approve", None, "")


async def _current_budget(session: AsyncSession, claim: Claim) -> BudgetRules:
    # The year's limits are the policy's current ones: raising a budget applies to claims already filed.
    policy = (await catalogue(session)).by_code.get(claim.policy_code)
    if policy is None or not policy.row.current:
        return BudgetRules()
    return policy.rules.budget


async def _headroom_reasons(session: AsyncSession, claim: Claim) -> list[Reason]:
    budget = await _current_budget(session, claim)
    if budget.yearly_budget_fen is None and budget.yearly_quota is None:
        return []
    used = await repo.get_budget(session, claim.policy_code, claim.year)
    count, spent = (used.committed_count, used.committed_fen) if used else (0, 0)
    reasons = []
    if budget.yearly_quota is not None and count >= budget.yearly_quota:
        reasons.append(Reason("quota_exhausted", f"The {claim.year} quota of {budget.yearly_quota} claims is used up."))
    if budget.yearly_budget_fen is not None and spent + (claim.amount_fen or 0) > budget.yearly_budget_fen:
        reasons.append(Reason("budget_exhausted", f"The {claim.year} budget of this policy is used up."))
    return reasons


# --- claims: moving through the flow ----------------------------------------------------------


async def _move(
    session: AsyncSession,
    claim: Claim,
    to_status: str,
    *,
    action: str,
    stage: str | None,
    actor: Principal | str,
    clock: Clock,
    reason: str = "",
    reasons: Sequence[Reason] = (),
) -> None:
    """Change the claim's status with its history entry, audit entry and stage clock; events are the caller's."""
    now = utcnow()
    from_status = claim.status
    claim.status = to_status
    claim.updated_at = now
    actor_id = actor.sub if isinstance(actor, Principal) else actor
    repo.add_history(
        session,
        claim_id=claim.id,
        at=now,
        action=action,
        stage=stage,
        from_status=from_status,
        to_status=to_status,
        actor=actor_id,
        reason=reason,
        reasons=[r.as_dict() for r in reasons],
    )
    await audit.record(
        session,
        actor,
        f"claim.{action}",
        subject_type="claim",
        subject_id=claim.id,
        before={"status": from_status},
        after={"status": to_status, "amount_fen": claim.amount_fen, "policy": claim.policy_code},
        reason=reason or None,
    )
    await _restart_stage_clock(session, claim, clock, now)
    if to_status in PERIOD_FREEING:
        claim.period_key = None
    if to_status not in OPEN_STATUSES:
        await timers.cancel(session, END_TO_END_TIMER, claim.id)
        await timers.cancel(session, PUBLICITY_TIMER, claim.id)


async def _restart_stage_clock(session: AsyncSession, claim: Claim, clock: Clock, now: datetime) -> None:
    """A review stage has its own deadline in working days; any other status has none."""
    review = REVIEW_STAGES.get(claim.status)
    if review is None:
        claim.stage_due_at = None
        await timers.cancel(session, STAGE_DEADLINE_TIMER, claim.id)
        return
    claim.stage_due_at = clock.stage_due(now)
    payload = {"status": claim.status, "stage": review.stage}
    if repo.claim_needs_first_stage_timer(session, claim.id):
        # Filed in this transaction and entering its first review stage: no stage timer exists yet.
        timers.schedule_new(session, STAGE_DEADLINE_TIMER, claim.id, claim.stage_due_at, payload)
    else:
        await timers.schedule(session, STAGE_DEADLINE_TIMER, claim.id, claim.stage_due_at, payload)


def _emit_decided(
    session: AsyncSession, claim: Claim, stage: str, decision: str, decided_by: str | None, reason: str
) -> None:
    outbox.emit(
        session,
        ClaimDecided(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            stage=stage,
            decision=decision,
            status=claim.status,
            reason=reason,
            decided_by=decided_by,
            amount_fen=claim.amount_fen,
        ),
        subject=claim.talent_id,
    )


async def _commit_budget(session: AsyncSession, claim: Claim) -> None:
    budget = await _current_budget(session, claim)
    fits = await repo.commit_budget(
        session,
        claim.policy_code,
        claim.year,
        claim.amount_fen or 0,
        budget_fen=budget.yearly_budget_fen,
        quota=budget.yearly_quota,
    )
    if not fits:
        used = await repo.get_budget(session, claim.policy_code, claim.year)
        quota_full = (
            budget.yearly_quota is not None and used is not None and used.committed_count >= budget.yearly_quota
        )
        raise BudgetExhausted(claim.policy_code, claim.year, "quota" if quota_full else "budget")
    claim.budget_committed = True


async def _release_budget(session: AsyncSession, claim: Claim) -> None:
    if claim.budget_committed:
        await repo.release_budget(session, claim.policy_code, claim.year, claim.amount_fen or 0)
        claim.budget_committed = False


async def _owned_claim(session: AsyncSession, principal: Principal, claim_id: str) -> Claim:
    claim = await repo.get_claim(session, claim_id)
    if claim is None or claim.talent_id != principal.sub:
        raise ClaimNotFound()
    return claim


async def withdraw(session: AsyncSession, principal: Principal, claim_id: str, clock: Clock) -> Claim:
    """The talent takes the claim back (any time before it is paid)."""
    claim = await _owned_claim(session, principal, claim_id)
    if claim.status not in WITHDRAWABLE:
        raise WrongState("withdrawn", claim.status)
    stage = STAGE_OF_STATUS[claim.status]
    await _release_budget(session, claim)
    await _move(
        session,
        claim,
        "withdrawn",
        action="withdrawn",
        stage=stage,
        actor=principal,
        clock=clock,
        reason="withdrawn by the talent",
    )
    _emit_decided(session, claim, stage, "reject", principal.sub, "withdrawn by the talent")
    await session.flush()
    return claim


async def resubmit(
    session: AsyncSession, principal: Principal, claim_id: str, body: ClaimResubmit, clock: Clock
) -> Claim:
    """补正: after `returned`, the talent amends the details; the automatic checks run again."""
    claim = await _owned_claim(session, principal, claim_id)
    if claim.status != "returned":
        raise WrongState("resubmitted", claim.status)
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    details = dict(body.details) if body.details is not None else dict(claim.details)
    situation = await situation_of(session, principal.sub)
    record = await record_of(session, principal.sub, policy, claim.year, excluding=claim.id)
    try:
        amount = compute_amount(policy.rules.amount, policy.rules.limits, situation.facts, details, record)
    except InvalidDetails as exc:
        raise InvalidClaimDetails(exc.field, exc.message) from exc
    if policy.rules.amount.basis != "entered_by_officer":
        claim.amount_fen, claim.months = amount.amount_fen, amount.months
    claim.details = details
    claim.city_approvals = 0
    await _move(
        session,
        claim,
        "submitted",
        action="resubmitted",
        stage="acceptance",
        actor=principal,
        clock=clock,
        reason=body.note,
    )
    reasons = eligibility_reasons(policy.rules.eligibility, situation, clock.today(utcnow()), record)
    if reasons:
        claim.reasons = [r.as_dict() for r in reasons]
        await _move(
            session,
            claim,
            "rejected",
            action="rejected",
            stage="acceptance",
            actor=SYSTEM,
            clock=clock,
            reason=reasons[0].message,
            reasons=reasons,
        )
        _emit_decided(session, claim, "acceptance", "reject", None, reasons[0].message)
    else:
        await _accept_or_reject(session, claim, clock)
    await session.flush()
    return claim


def _officer_can_see(principal: Principal, claim: Claim) -> bool:
    """County reviewers see their region's claims; city and finance officers and auditors see all."""
    if principal.has_any(("city_approver", "finance_officer", "auditor", "admin")):
        return True
    return (
        principal.has_any(("county_reviewer",))
        and principal.region is not None
        and principal.region == claim.region_code
    )


async def visible_claim(session: AsyncSession, principal: Principal, claim_id: str, *, lock: bool = False) -> Claim:
    # lock=True for a change: the status it checks must hold until the commit (two replicas, one claim).
    claim = await (repo.locked_claim if lock else repo.get_claim)(session, claim_id)
    if claim is None or not _officer_can_see(principal, claim):
        raise ClaimNotFound()
    return claim


async def _check_segregation(session: AsyncSession, principal: Principal, claim: Claim, stage: str) -> None:
    """One officer per stage: whoever decided another stage of this claim may not decide this one."""
    history = (await repo.history_of(session, [claim.id]))[claim.id]
    other_stages = {h.stage for h in history if h.actor == principal.sub and h.action in OFFICER_ACTIONS}
    other_stages.discard(stage)
    if other_stages:
        raise SegregationOfDuties(
            f"You already decided the {', '.join(sorted(s or '' for s in other_stages))} stage of this claim; "
            "another officer must decide this one."
        )


OFFICER_ACTIONS = frozenset({"approved", "rejected", "returned", "disbursed", "approved_first_of_two"})


async def decide(
    session: AsyncSession, principal: Principal, claim_id: str, body: DecisionCreate, clock: Clock
) -> Claim:
    """A county reviewer (初审) or city approver (复审) approves, rejects or returns a claim."""
    claim = await visible_claim(session, principal, claim_id, lock=True)
    review = REVIEW_STAGES.get(claim.status)
    if review is None:
        raise WrongState("decided", claim.status)
    if not principal.has_any((review.role,)):
        raise NotYourStage(claim.status, review.role)
    if review.role == "county_reviewer" and principal.region != claim.region_code:
        raise ClaimNotFound()
    await _check_segregation(session, principal, claim, review.stage)
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    if body.amount_fen is not None:
        if policy.rules.amount.basis != "entered_by_officer":
            raise AmountNotEditable()
        ceiling = policy.rules.amount.ceiling_fen
        if ceiling is not None and body.amount_fen > ceiling:
            raise InvalidClaimDetails("amount_fen", f"the ceiling of this policy is {ceiling} fen")
        claim.amount_fen = body.amount_fen

    if body.decision in NEGATIVE_OUTCOMES:
        claim.city_approvals = 0
        action = NEGATIVE_OUTCOMES[body.decision]
        await _move(
            session, claim, action, action=action, stage=review.stage, actor=principal, clock=clock, reason=body.reason
        )
        _emit_decided(session, claim, review.stage, body.decision, principal.sub, body.reason)
        await _resolve_objections(session, claim)
        await session.flush()
        return claim

    if claim.amount_fen is None:
        raise AmountRequired()
    if review.stage == "city":
        await _approve_at_city(session, principal, claim, policy, body.reason, clock)
    else:
        await _move(
            session,
            claim,
            review.approved_status,
            action="approved",
            stage=review.stage,
            actor=principal,
            clock=clock,
            reason=body.reason,
        )
        _emit_decided(session, claim, review.stage, "approve", principal.sub, body.reason)
    await session.flush()
    return claim


async def _approve_at_city(
    session: AsyncSession, principal: Principal, claim: Claim, policy: Policy, reason: str, clock: Clock
) -> None:
    """The second review; above the policy's threshold two different city approvers must approve."""
    history = (await repo.history_of(session, [claim.id]))[claim.id]
    approvers = _city_approvers_since_last_entry(history)
    if principal.sub in approvers:
        raise SegregationOfDuties("You already approved this claim; a second, different city approver must approve.")
    threshold = policy.rules.review.two_city_approvers_above_fen
    needed = 2 if threshold is not None and (claim.amount_fen or 0) > threshold else 1
    claim.city_approvals = len(approvers) + 1
    if claim.city_approvals < needed:
        await _move(
            session,
            claim,
            claim.status,
            action="approved_first_of_two",
            stage="city",
            actor=principal,
            clock=clock,
            reason=reason,
        )
        _emit_decided(session, claim, "city", "approve", principal.sub, reason)
        return
    await _commit_budget(session, claim)
    await _move(
        session, claim, "city_approved", action="approved", stage="city", actor=principal, clock=clock, reason=reason
    )
    _emit_decided(session, claim, "city", "approve", principal.sub, reason)
    await _publicize(session, claim, clock)


def _city_approvers_since_last_entry(history: Sequence[ClaimHistory]) -> set[str]:
    """City approvals that count: those since the claim last came (back) into city review."""
    approvers: set[str] = set()
    for entry in history:
        if entry.to_status == "county_approved" and entry.from_status != "county_approved":
            approvers = set()
        elif entry.action == "approved_first_of_two":
            approvers.add(entry.actor)
    return approvers


async def _publicize(session: AsyncSession, claim: Claim, clock: Clock) -> None:
    """公示: the approval goes on public notice for the publicity period, then it may be paid."""
    now = utcnow()
    claim.publicized_until = now + clock.publicity_period
    claim.publicity_ended_at = None
    await _move(
        session,
        claim,
        "publicized",
        action="publicized",
        stage="city",
        actor=SYSTEM,
        clock=clock,
        reason=f"on public notice until {claim.publicized_until.isoformat()}",
    )
    await timers.schedule(session, PUBLICITY_TIMER, claim.id, claim.publicized_until)
    outbox.emit(
        session,
        ClaimPublicized(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            amount_fen=claim.amount_fen or 0,
            publicized_until=claim.publicized_until,
        ),
        subject=claim.talent_id,
    )


async def object_to(
    session: AsyncSession, principal: Principal, claim_id: str, body: ObjectionCreate, clock: Clock
) -> ClaimObjection:
    """An objection during 公示 sends the claim back to city review (and frees its budget)."""
    claim = await repo.get_claim(session, claim_id)
    if claim is None:
        raise ClaimNotFound()
    if claim.status != "publicized" or claim.publicity_ended_at is not None:
        raise WrongState("objected to (objections are taken only during its public notice)", claim.status)
    objection = ClaimObjection(
        id=str(uuid.uuid4()), claim_id=claim.id, raised_by=principal.sub, reason=body.reason, raised_at=utcnow()
    )
    session.add(objection)
    await _release_budget(session, claim)
    claim.city_approvals = 0
    claim.publicized_until = None
    await timers.cancel(session, PUBLICITY_TIMER, claim.id)
    await _move(
        session,
        claim,
        "county_approved",
        action="objection",
        stage="city",
        actor=principal,
        clock=clock,
        reason=body.reason,
    )
    # The objector's words stay in the service; the event says only that the claim went back.
    _emit_decided(session, claim, "city", "return", None, "an objection was raised during public notice")
    await session.flush()
    return objection


async def _resolve_objections(session: AsyncSession, claim: Claim) -> None:
    for objection in await repo.open_objections(session, claim.id):
        objection.status = "resolved"
        objection.resolved_at = utcnow()


async def disburse(
    session: AsyncSession, principal: Principal, claim_id: str, body: DisbursementCreate, clock: Clock
) -> Claim:
    """兑现: a finance officer records the payment once the 公示 period is over without objection."""
    claim = await visible_claim(session, principal, claim_id, lock=True)
    if claim.status != "publicized":
        raise WrongState("paid", claim.status)
    if claim.publicity_ended_at is None:
        until = claim.publicized_until.isoformat() if claim.publicized_until else "its end"
        raise PublicityNotOver(until)
    await _check_segregation(session, principal, claim, "disbursement")
    if await repo.claim_by_payment_reference(session, body.payment_reference) is not None:
        raise PaymentReferenceUsed()
    now = utcnow()
    claim.payment_reference = body.payment_reference
    claim.disbursed_at = now
    await _resolve_objections(session, claim)
    await _move(
        session,
        claim,
        "disbursed",
        action="disbursed",
        stage="disbursement",
        actor=principal,
        clock=clock,
        reason=f"payment {body.payment_reference}",
    )
    outbox.emit(
        session,
        ClaimDisbursed(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            amount_fen=claim.amount_fen or 0,
            payment_reference=body.payment_reference,
            disbursed_at=now,
        ),
        subject=claim.talent_id,
    )
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    if "housing_voucher_used" in policy.rules.effects:
        facts = await repo.get_or_add_facts(session, claim.talent_id)
        facts.housing_voucher_used = True
        outbox.emit(session, HousingVoucherUsed(talent_id=claim.talent_id, claim_id=claim.id), subject=claim.talent_id)
        await stop_open_claims(
            session, claim.talent_id, "a housing voucher was used", clock, exclusion="housing_voucher_used"
        )
    await session.flush()
    return claim


async def stop_open_claims(
    session: AsyncSession, talent_id: str, reason: str, clock: Clock, *, exclusion: str | None = None
) -> list[Claim]:
    """A decision by the system: stop the talent's open claims (of policies with this exclusion, or all)."""
    stopped = []
    for claim in await repo.open_claims(session, talent_id):
        if exclusion is not None:
            policy = await get_policy(session, claim.policy_code, claim.policy_version)
            if exclusion not in policy.rules.eligibility.exclusions:
                continue
        stage = STAGE_OF_STATUS[claim.status]
        await _release_budget(session, claim)
        claim.reasons = [Reason(exclusion or "stopped", reason).as_dict()]
        await _move(
            session,
            claim,
            "rejected",
            action="stopped",
            stage=stage,
            actor=SYSTEM,
            clock=clock,
            reason=f"stopped: {reason}",
        )
        _emit_decided(session, claim, stage, "reject", SYSTEM, f"stopped: {reason}")
        stopped.append(claim)
    return stopped


# --- timers -----------------------------------------------------------------------------------


async def on_stage_deadline(session: AsyncSession, timer: ScheduledTimer) -> None:
    """A review stage ran past its working-day deadline: escalate (event + audit)."""
    claim = await repo.get_claim(session, timer.key)
    if claim is None or claim.status != timer.data().get("status"):
        return  # the claim moved on; a later stage has its own timer
    await _escalate(session, claim, str(timer.data()["stage"]), timer.due_at, "stage")


async def on_end_to_end_deadline(session: AsyncSession, timer: ScheduledTimer) -> None:
    """全流程'最多90天' passed and the claim is still open: escalate."""
    claim = await repo.get_claim(session, timer.key)
    if claim is None or claim.status not in OPEN_STATUSES:
        return
    await _escalate(session, claim, STAGE_OF_STATUS[claim.status], timer.due_at, "end_to_end")


async def _escalate(session: AsyncSession, claim: Claim, stage: str, due_at: datetime, deadline: str) -> None:
    now = utcnow()
    claim.escalated_at = now
    reason = (
        f"{'the ' + stage + ' stage' if deadline == 'stage' else 'the end-to-end'} deadline {due_at.isoformat()} passed"
    )
    session.add(
        ClaimHistory(
            claim_id=claim.id,
            at=now,
            action="escalated",
            stage=stage,
            from_status=claim.status,
            to_status=claim.status,
            actor=SYSTEM,
            reason=reason,
        )
    )
    await audit.record(
        session,
        SYSTEM,
        "claim.escalated",
        subject_type="claim",
        subject_id=claim.id,
        after={"status": claim.status, "stage": stage, "deadline": deadline},
        reason=reason,
    )
    outbox.emit(
        session,
        ClaimEscalated(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            stage=stage,
            due_at=due_at,
            breached_at=now,
            deadline=deadline,
        ),
        subject=claim.talent_id,
    )


async def on_publicity_end(session: AsyncSession, timer: ScheduledTimer) -> None:
    """The 公示 period ended without an objection: the claim may be paid."""
    claim = await repo.get_claim(session, timer.key)
    if claim is None or claim.status != "publicized" or claim.publicity_ended_at is not None:
        return
    now = utcnow()
    claim.publicity_ended_at = now
    claim.updated_at = now
    session.add(
        ClaimHistory(
            claim_id=claim.id,
            at=now,
            action="publicity_ended",
            stage="city",
            from_status=claim.status,
            to_status=claim.status,
            actor=SYSTEM,
            reason="public notice ended without objection",
        )
    )
    await audit.record(
        session,
        SYSTEM,
        "claim.publicity_ended",
        subject_type="claim",
        subject_id=claim.id,
        after={"status": claim.status},
    )


# --- reading claims ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    """What a role's review queue holds by default and may filter to."""

    statuses: tuple[str, ...]
    allowed: tuple[str, ...] | None
    region_scoped: bool
    publicity_ended_only: bool


ROLE_QUEUES: Mapping[str, Queue] = {
    "county_reviewer": Queue(("accepted",), None, region_scoped=True, publicity_ended_only=False),
    "city_approver": Queue(("county_approved",), None, region_scoped=False, publicity_ended_only=False),
    "finance_officer": Queue(
        ("publicized",), ("publicized", "disbursed"), region_scoped=False, publicity_ended_only=True
    ),
}


def queue_for(principal: Principal) -> Queue:
    for role, queue in ROLE_QUEUES.items():
        if principal.has_any((role,)):
            return queue
    raise NotYourStage("in review", "county_reviewer, city_approver or finance_officer")


async def review_queue(
    session: AsyncSession, principal: Principal, status: str | None, policy_code: str | None, page: PageParams
) -> tuple[list[Claim], str | None]:
    """The caller's queue: a county reviewer's region, a city approver's second reviews, finance's payable claims."""
    queue = queue_for(principal)
    if status is not None and queue.allowed is not None and status not in queue.allowed:
        raise Forbidden(f"This queue shows only claims that are {' or '.join(queue.allowed)}.")
    claims = await repo.review_queue(
        session,
        statuses=(status,) if status else queue.statuses,
        region_code=principal.region or "" if queue.region_scoped else None,
        publicity_ended_only=queue.publicity_ended_only,
        policy_code=policy_code,
        limit=page.limit + 1,
        after=page.after,
    )
    return _paged(claims, page.limit)


async def my_claims(
    session: AsyncSession, principal: Principal, status: str | None, page: PageParams
) -> tuple[list[Claim], str | None]:
    claims = await repo.claims_of_talent(session, principal.sub, limit=page.limit + 1, after=page.after, status=status)
    return _paged(claims, page.limit)


async def my_claim(session: AsyncSession, principal: Principal, claim_id: str) -> Claim:
    return await _owned_claim(session, principal, claim_id)


async def public_notices(session: AsyncSession, page: PageParams) -> tuple[list[Claim], str | None]:
    claims = await repo.publicized_claims(session, limit=page.limit + 1, after=page.after)
    return _paged(claims, page.limit)


def _paged(claims: list[Claim], limit: int) -> tuple[list[Claim], str | None]:
    more = len(claims) > limit
    claims = claims[:limit]
    cursor = encode_cursor([claims[-1].submitted_at.isoformat(), claims[-1].id]) if more and claims else None
    return claims, cursor


async def to_public(session: AsyncSession, claims: Sequence[Claim]) -> list[ClaimPublic]:
    """Claims with their history, in one query for the history of all of them."""
    histories = await repo.history_of(session, [c.id for c in claims])
    return [
        ClaimPublic(
            id=c.id,
            talent_id=c.talent_id,
            policy_code=c.policy_code,
            policy_version=c.policy_version,
            status=c.status,
            auto=c.auto,
            amount_fen=c.amount_fen,
            details=c.details,
            year=c.year,
            region_code=c.region_code,
            submitted_at=c.submitted_at,
            updated_at=c.updated_at,
            stage_due_at=c.stage_due_at,
            publicized_until=c.publicized_until,
            publicity_ended=c.publicity_ended_at is not None,
            payment_reference=c.payment_reference,
            disbursed_at=c.disbursed_at,
            reasons=[ReasonPublic(**r) for r in c.reasons],
            history=[
                HistoryEntry(
                    at=h.at,
                    action=h.action,
                    stage=h.stage,
                    from_status=h.from_status,
                    to_status=h.to_status,
                    actor=h.actor,
                    reason=h.reason,
                    reasons=[ReasonPublic(**r) for r in h.reasons],
                )
                for h in histories[c.id]
            ],
        )
        for c in claims
    ]


def to_notice(claim: Claim) -> PublicNotice:
    return PublicNotice(
        claim_id=claim.id,
        talent_pseudonym=claim.talent_pseudonym,
        policy_code=claim.policy_code,
        amount_fen=claim.amount_fen,
        publicized_until=claim.publicized_until,
    )
