"""A claim's flow: the one `transition()` every change of status goes through, and the talent's side of it —
filing (one tap or 免申即享), the automatic checks (受理), withdrawal, 补正 resubmission — plus stops decided
by the system (revocation, a lease, a used voucher).

`transition()` reads the row of `states.CLAIM_FLOW` for the action and writes, in the caller's transaction:
the status, the history line, the audit entry, the stage clock and the 90-day and 公示 timers, and the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts import (
    ClaimDecided,
    ClaimDisbursed,
    ClaimEscalated,
    ClaimPaymentFailed,
    ClaimPublicized,
    ClaimSubmitted,
    EventData,
)
from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.messages import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import budget, renewals, straight_through
from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.eligibility import record_of, situation_of
from benefits.events import outbox
from benefits.exceptions import (
    AlreadyClaimed,
    ClaimNotFound,
    InvalidClaimDetails,
    NotEligible,
    UnknownPolicy,
    WrongState,
)
from benefits.models import Claim
from benefits.policies import get_policy
from benefits.repository import BenefitsRepository
from benefits.rules import (
    Amount,
    InvalidDetails,
    Reason,
    TalentSituation,
    compute_amount,
    eligibility_reasons,
    limit_reasons,
    period_key,
)
from benefits.schemas import ClaimCreate, ClaimResubmit
from benefits.states import (
    CLAIM_FLOW,
    PERIOD_FREEING,
    REVIEW_STAGES,
    STAGE_WORKING_DAYS,
    WAITING_STAGE,
    ClaimAction,
    ClaimStatus,
    ClaimTransition,
    TalentFactsStatus,
)

SYSTEM = "system"
STAGE_DEADLINE_TIMER = "benefits.claim.stage_deadline"
END_TO_END_TIMER = "benefits.claim.end_to_end"
PUBLICITY_TIMER = "benefits.claim.publicity_end"
# The objector's words stay in the service; the event says only that the claim went back.
OBJECTION_NOTICE = "an objection was raised during public notice"


# --- the one transition ------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    claim: Claim,
    action: ClaimAction,
    *,
    actor: Principal | str,
    clock: Clock | None = None,
    reason: str | Message = "",
    reasons: Sequence[Reason] = (),
    stage: str | None = None,
    escalation: tuple[datetime, str] | None = None,
) -> ClaimTransition:
    """Move the claim by `action` (refused with 409 when its status does not allow it), with everything
    that goes with the move: history, audit, stage clock and timers, and the event.

    `stage` overrides the stage named in history and event (an escalation names the stage whose
    deadline passed); `escalation` is (the deadline, "stage" or "end_to_end") of an escalation.
    `reason` is an official's own words, or the system's Message: history keeps its key and params so each
    reader sees it in their language; audit and events carry its English text (their language is fixed).
    """
    note = reason if isinstance(reason, Message) else None
    reason = note.english() if note is not None else str(reason)
    move = CLAIM_FLOW[action]
    new = not move.sources
    from_status = None if new else ClaimStatus(claim.status)
    if from_status is not None:
        CLAIM_FLOW.check(from_status, action, move.word)
    to_status = move.target if from_status is None or move.target is not None else from_status
    assert to_status is not None
    stage = stage or move.stage or (WAITING_STAGE.get(from_status) if from_status else None)
    now = utcnow()
    actor_id = actor.sub if isinstance(actor, Principal) else actor

    claim.status = to_status
    claim.updated_at = now
    if action is ClaimAction.ESCALATE:
        claim.escalated_at = now
    if to_status in PERIOD_FREEING:
        claim.period_key = None
    repo = BenefitsRepository.of(session)
    repo.add_history(
        claim_id=claim.id,
        at=now,
        action=move.word,
        stage=stage,
        from_status=from_status,
        to_status=to_status,
        actor=actor_id,
        reason=reason,
        reason_message=note.stored() if note is not None else None,
        reasons=[r.stored() for r in reasons],
    )
    if not new:
        after: dict[str, Any] = {"status": to_status, "amount_fen": claim.amount_fen, "policy": claim.policy_code}
        if escalation is not None:
            after |= {"stage": stage, "deadline": escalation[1]}
        await audit.record(
            session,
            actor,
            f"claim.{move.word}",
            subject_type="claim",
            subject_id=claim.id,
            before={"status": from_status},
            after=after,
            reason=reason or None,
        )
    await _keep_clocks(session, claim, move, clock, now)
    event = _event_of(claim, move, stage, actor, reason, escalation, now)
    if event is not None:
        outbox.emit(session, event, subject=claim.talent_id)
    return move


async def _keep_clocks(
    session: AsyncSession, claim: Claim, move: ClaimTransition, clock: Clock | None, now: datetime
) -> None:
    """The timers that go with a status: the stage's working-day deadline, the 90 days, the 公示 period."""
    if move.action in (ClaimAction.FILE, ClaimAction.AUTO_GRANT, ClaimAction.RENEW):
        # The 90 days run from the first submission, across returns and resubmissions.
        timers.schedule_new(session, END_TO_END_TIMER, claim.id, now + _needed(clock, move).end_to_end)
    if move.action in (ClaimAction.PUBLICIZE, ClaimAction.APPROVE_STRAIGHT_THROUGH) and claim.publicized_until:
        if claim.id in BenefitsRepository.of(session).filed:
            # Filed in this transaction (straight through): no 公示 timer keyed by its id can exist yet.
            timers.schedule_new(session, PUBLICITY_TIMER, claim.id, claim.publicized_until)
        else:
            await timers.schedule(session, PUBLICITY_TIMER, claim.id, claim.publicized_until)
    if move.target is ClaimStatus.PUBLICIZED:
        # Granted (after review or straight through): a multi-year policy's next year comes due (benefits.renewals).
        await renewals.arm(session, claim, clock)
    if move.action is ClaimAction.OBJECT:
        await timers.cancel_soon(session, PUBLICITY_TIMER, claim.id)
    if move.restarts_stage_clock and move.sources:
        review = REVIEW_STAGES.get(claim.status)
        if review is None:
            claim.stage_due_at = None
            await timers.cancel_soon(session, STAGE_DEADLINE_TIMER, claim.id)
        else:
            claim.stage_due_at = _needed(clock, move).stage_due(now, STAGE_WORKING_DAYS.get(review.stage))
            payload = {"status": claim.status, "stage": review.stage}
            if BenefitsRepository.of(session).first_stage_timer_is_new(claim.id):
                # Filed in this transaction and entering its first review stage: no stage timer exists yet.
                timers.schedule_new(session, STAGE_DEADLINE_TIMER, claim.id, claim.stage_due_at, payload)
            else:
                await timers.schedule(session, STAGE_DEADLINE_TIMER, claim.id, claim.stage_due_at, payload)
    if not claim.status.is_open:
        await timers.cancel_soon(session, END_TO_END_TIMER, claim.id)
        await timers.cancel_soon(session, PUBLICITY_TIMER, claim.id)


def _needed(clock: Clock | None, move: ClaimTransition) -> Clock:
    """Every move that starts a clock is given the flow's clock (the timers' own moves start none)."""
    if clock is None:
        raise ValueError(f"the claim move {move.action} needs the flow's clock")
    return clock


def _event_of(
    claim: Claim,
    move: ClaimTransition,
    stage: str | None,
    actor: Principal | str,
    reason: str,
    escalation: tuple[datetime, str] | None,
    now: datetime,
) -> EventData | None:
    if move.event == "submitted":
        return ClaimSubmitted(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            policy_version=claim.policy_version,
            amount_fen=claim.amount_fen,
            auto=claim.auto,
            status=claim.status,
            resubmitted=move.action is ClaimAction.RESUBMIT,
        )
    if move.event == "decided":
        assert move.decision is not None
        decided_by = actor.sub if isinstance(actor, Principal) else (SYSTEM if move.system_named else None)
        return ClaimDecided(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            stage=stage,
            decision=move.decision,
            status=claim.status,
            reason=OBJECTION_NOTICE if move.anonymous else reason,
            decided_by=None if move.anonymous else decided_by,
            amount_fen=claim.amount_fen,
        )
    if move.event == "publicized":
        assert claim.publicized_until is not None
        return ClaimPublicized(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            amount_fen=claim.amount_fen or 0,
            publicized_until=claim.publicized_until,
        )
    if move.event == "disbursed":
        assert claim.payment_reference is not None and claim.disbursed_at is not None
        return ClaimDisbursed(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            amount_fen=claim.amount_fen or 0,
            payment_reference=claim.payment_reference,
            disbursed_at=claim.disbursed_at,
        )
    if move.event == "payment_failed":
        # The bank's reason and the payee stay in the batch (benefits.payments); the event says only that it failed.
        return ClaimPaymentFailed(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            policy_code=claim.policy_code,
            amount_fen=claim.amount_fen or 0,
            status=claim.status,
        )
    if move.event == "escalated":
        assert escalation is not None and stage is not None
        return ClaimEscalated(
            claim_id=claim.id,
            talent_id=claim.talent_id,
            stage=stage,
            due_at=escalation[0],
            breached_at=now,
            deadline=escalation[1],
            officer_id=claim.officer_id,
        )
    return None


# --- filing and the automatic checks ---------------------------------------------------------------


async def submit_claim(session: AsyncSession, principal: Principal, body: ClaimCreate, clock: Clock) -> Claim:
    """One tap: check eligibility and limits, then run the automatic checks at once (accepted or rejected).

    The policy comes from the process's parsed catalogue (checked against the database once per transaction).
    Nothing is written before the end: the claim goes out as one INSERT in its final state, with its history,
    timers and audit entry as one multi-row INSERT each (no statement of the checks reads them back).
    """
    policy = (await BenefitsRepository.of(session).catalogue()).by_code.get(body.policy_code)
    if policy is None or not policy.row.active:
        raise UnknownPolicy(body.policy_code)
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
        raise InvalidClaimDetails(exc.field, exc.key, exc.params) from exc
    with session.no_autoflush:
        claim = await _file_claim(
            session, principal.sub, policy, situation, dict(body.details), amount, now, year, clock
        )
        await _accept_or_reject(session, claim, clock)
    return claim


async def auto_grant(session: AsyncSession, talent_id: str, clock: Clock) -> list[Claim]:
    """免申即享: file an accepted claim of every auto-grant policy the certified talent qualifies for.

    Exactly one per talent and policy: the auto_grant_key is checked here and unique in the table.
    """
    situation = await situation_of(session, talent_id)
    if situation.facts is None or situation.facts.status != TalentFactsStatus.CERTIFIED:
        return []
    repo = BenefitsRepository.of(session)
    now = utcnow()
    today = clock.today(now)
    granted = []
    for policy in (await repo.catalogue()).auto_grant():
        if await repo.auto_claim_exists(talent_id, _auto_key(talent_id, policy.code)):
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
    renewal: str | None = None,
) -> Claim:
    """Store the claim as `submitted`, with its event and the end-to-end clock (90 days from now).

    `renewal`: the id of the claim of the year before, when a multi-year policy renews (filed like an auto-grant).
    """
    # The callers checked the period with record_of; a concurrent twin fails on the unique period_key (409).
    facts = situation.facts
    claim = Claim(
        id=str(uuid.uuid4()),
        talent_id=talent_id,
        policy_code=policy.code,
        policy_version=policy.version,
        status=ClaimStatus.SUBMITTED,
        auto=auto,
        # One auto-grant per talent and policy, and one renewal per later year (the key stays unique).
        auto_grant_key=(_auto_key(talent_id, policy.code) + (f":{year}" if renewal else "")) if auto else None,
        period_key=period_key(policy.rules.limits, talent_id, policy.code, year),
        amount_fen=amount.amount_fen,
        months=amount.months,
        details=details,
        year=year,
        region_code=facts.home_region if facts else None,
        talent_pseudonym=facts.pseudonym if facts else None,
        submitted_at=now,
        updated_at=now,
    )
    BenefitsRepository.of(session).add_claim(claim)
    action = ClaimAction.RENEW if renewal else ClaimAction.AUTO_GRANT if auto else ClaimAction.FILE
    reason = Message("benefits.history.renewal", {"year": year, "claim": renewal}) if renewal else ""
    await transition(session, claim, action, actor=SYSTEM if auto else talent_id, clock=clock, reason=reason)
    return claim


async def file_renewal(
    session: AsyncSession,
    previous: Claim,
    policy: Policy,
    situation: TalentSituation,
    amount: Amount,
    year: int,
    clock: Clock,
) -> Claim:
    """The next year of a multi-year policy (benefits.renewals found it due and the talent eligible): filed
    and checked like an auto-grant, so it follows the same path (straight through or review)."""
    now = utcnow()
    talent_id = previous.talent_id
    claim = await _file_claim(
        session, talent_id, policy, situation, {}, amount, now, year, clock, auto=True, renewal=previous.id
    )
    await _accept_or_reject(session, claim, clock)
    return claim


async def _accept_or_reject(session: AsyncSession, claim: Claim, clock: Clock, *, resubmitted: bool = False) -> None:
    """The automatic checks (受理): the year's quota and budget still have room for this claim; an accepted
    claim then goes straight through or to review (benefits.straight_through)."""
    reasons = await budget.headroom_reasons(session, claim)
    claim.reasons = [r.stored() for r in reasons]
    if reasons:
        await _reject_automatically(session, claim, reasons, clock)
    else:
        await transition(session, claim, ClaimAction.ACCEPT, actor=SYSTEM, clock=clock)
        await straight_through.after_acceptance(session, claim, clock, resubmitted=resubmitted)


async def _reject_automatically(session: AsyncSession, claim: Claim, reasons: Sequence[Reason], clock: Clock) -> None:
    claim.reasons = [r.stored() for r in reasons]
    first = Message(reasons[0].key, reasons[0].params)
    await transition(session, claim, ClaimAction.REJECT, actor=SYSTEM, clock=clock, reason=first, reasons=reasons)


# --- the talent's later moves --------------------------------------------------------------------


async def owned_claim(session: AsyncSession, principal: Principal, claim_id: str) -> Claim:
    claim = await BenefitsRepository.of(session).get_claim(claim_id)
    if claim is None or claim.talent_id != principal.sub:
        raise ClaimNotFound()
    return claim


async def withdraw(session: AsyncSession, principal: Principal, claim_id: str, clock: Clock) -> Claim:
    """The talent takes the claim back (any time before it is paid)."""
    claim = await owned_claim(session, principal, claim_id)
    if not CLAIM_FLOW.can(claim.status, ClaimAction.WITHDRAW):
        raise WrongState("withdrawn", claim.status)
    await budget.release(session, claim)
    withdrawn = Message("benefits.history.withdrawn")
    await transition(session, claim, ClaimAction.WITHDRAW, actor=principal, clock=clock, reason=withdrawn)
    await session.flush()
    return claim


async def resubmit(
    session: AsyncSession, principal: Principal, claim_id: str, body: ClaimResubmit, clock: Clock
) -> Claim:
    """补正: after `returned`, the talent amends the details; the automatic checks run again."""
    claim = await owned_claim(session, principal, claim_id)
    if not CLAIM_FLOW.can(claim.status, ClaimAction.RESUBMIT):
        raise WrongState("resubmitted", claim.status)
    policy = await get_policy(session, claim.policy_code, claim.policy_version)
    details = dict(body.details) if body.details is not None else dict(claim.details)
    situation = await situation_of(session, principal.sub)
    record = await record_of(session, principal.sub, policy, claim.year, excluding=claim.id)
    try:
        amount = compute_amount(policy.rules.amount, policy.rules.limits, situation.facts, details, record)
    except InvalidDetails as exc:
        raise InvalidClaimDetails(exc.field, exc.key, exc.params) from exc
    if policy.rules.amount.basis != "entered_by_officer":
        claim.amount_fen, claim.months = amount.amount_fen, amount.months
    claim.details = details
    claim.city_approvals = 0
    await transition(session, claim, ClaimAction.RESUBMIT, actor=principal, clock=clock, reason=body.note)
    reasons = eligibility_reasons(policy.rules.eligibility, situation, clock.today(utcnow()), record)
    if reasons:
        await _reject_automatically(session, claim, reasons, clock)
    else:
        await _accept_or_reject(session, claim, clock, resubmitted=True)
    await session.flush()
    return claim


async def stop_open_claims(
    session: AsyncSession, talent_id: str, cause: str, clock: Clock, *, exclusion: str | None = None
) -> list[Claim]:
    """A decision by the system: stop the talent's open claims (of policies with this exclusion, or all);
    `cause` is the catalogue key of what happened (benefits.stop.*)."""
    stopped = []
    for claim in await BenefitsRepository.of(session).open_claims(talent_id):
        if exclusion is not None:
            policy = await get_policy(session, claim.policy_code, claim.policy_version)
            if exclusion not in policy.rules.eligibility.exclusions:
                continue
        await budget.release(session, claim)
        claim.reasons = [Reason(exclusion or "stopped", cause).stored()]
        stopped_by = Message("benefits.history.stopped", {"cause": cause})
        await transition(session, claim, ClaimAction.STOP, actor=SYSTEM, clock=clock, reason=stopped_by)
        stopped.append(claim)
    return stopped
