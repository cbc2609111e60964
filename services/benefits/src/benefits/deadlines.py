"""The claim flow's timers: a review stage past its working-day deadline, the 90 days end to end
(全流程'最多90天'), and the end of the 公示 period. Each fires once, in its own transaction."""

from __future__ import annotations

from datetime import datetime

from servicekit.db import utcnow
from servicekit.messages import Message
from servicekit.timers import ScheduledTimer
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.flow import SYSTEM, transition
from benefits.models import Claim
from benefits.repository import BenefitsRepository
from benefits.states import CLAIM_FLOW, WAITING_STAGE, ClaimAction, ClaimStatus


async def on_stage_deadline(session: AsyncSession, timer: ScheduledTimer) -> None:
    """A review stage ran past its working-day deadline: escalate (event + audit)."""
    claim = await BenefitsRepository.of(session).get_claim(timer.key)
    if claim is None or claim.status != timer.data().get("status"):
        return  # the claim moved on; a later stage has its own timer
    await _escalate(session, claim, str(timer.data()["stage"]), timer.due_at, "stage")


async def on_end_to_end_deadline(session: AsyncSession, timer: ScheduledTimer) -> None:
    """全流程'最多90天' passed and the claim is still open: escalate."""
    claim = await BenefitsRepository.of(session).get_claim(timer.key)
    if claim is None or not CLAIM_FLOW.can(claim.status, ClaimAction.ESCALATE):
        return
    await _escalate(session, claim, WAITING_STAGE[ClaimStatus(claim.status)], timer.due_at, "end_to_end")


async def _escalate(session: AsyncSession, claim: Claim, stage: str, due_at: datetime, deadline: str) -> None:
    if deadline == "stage":
        note = Message("benefits.history.deadline_passed_stage", {"stage": stage, "due_at": due_at.isoformat()})
    else:
        note = Message("benefits.history.deadline_passed_end_to_end", {"due_at": due_at.isoformat()})
    await transition(
        session,
        claim,
        ClaimAction.ESCALATE,
        actor=SYSTEM,
        reason=note,
        stage=stage,
        escalation=(due_at, deadline),
    )


async def on_publicity_end(session: AsyncSession, timer: ScheduledTimer) -> None:
    """The 公示 period ended without an objection: the claim may be paid."""
    claim = await BenefitsRepository.of(session).get_claim(timer.key)
    if claim is None or not CLAIM_FLOW.can(claim.status, ClaimAction.END_PUBLICITY):
        return
    if claim.publicity_ended_at is not None:
        return
    claim.publicity_ended_at = utcnow()
    await transition(
        session,
        claim,
        ClaimAction.END_PUBLICITY,
        actor=SYSTEM,
        reason=Message("benefits.history.publicity_ended"),
    )
