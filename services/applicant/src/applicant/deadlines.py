"""The certification review stages' deadlines: a stage (county 初审, city 复审) decides within the working days
of the rule set "review" from when the certification reached it. `certification.transition` sets the deadline
and its timer whenever a certification reaches a stage and cancels it when it leaves review; the timer below
escalates a certification still waiting at that stage once the deadline has passed, in its own transaction.
"""

from __future__ import annotations

from servicekit.timers import ScheduledTimer
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import repository as repo
from applicant.certification import transition
from applicant.states import CERTIFICATION_FLOW, CertificationAction

SYSTEM = "system"


async def on_stage_deadline(session: AsyncSession, timer: ScheduledTimer) -> None:
    """A review stage ran past its deadline: escalate the certification (audit entry and event), once."""
    certification = await repo.get_certification(session, timer.key)
    data = timer.data()
    if certification is None or not CERTIFICATION_FLOW.can(certification.status, CertificationAction.ESCALATE):
        return
    if certification.status != data.get("status") or certification.round != data.get("round"):
        return  # it moved on (a later stage has its own deadline); moving normally reschedules this timer
    if certification.escalated_at is not None or certification.stage_due_at is None:
        return  # escalated already at this stage
    await transition(
        session,
        certification,
        CertificationAction.ESCALATE,
        actor=SYSTEM,
        reason=f"the {data.get('stage')} review deadline {certification.stage_due_at.isoformat()} passed",
    )
