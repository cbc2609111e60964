"""Yearly renewals of multi-year policies (LIVING_ALLOWANCE pays years 1–3): a persisted timer per talent,
policy and year, and the eligibility re-checked when it fires.

When: a year's claim arms the next year's timer when it is granted, i.e. when it goes on 公示 (`publicized`;
straight through or after review). Not at disbursement: payment batches may run weeks later and a failed
payment does not undo the grant. The timer is due at the start of the next calendar year in the city's
time, because a yearly policy's period is the calendar year (`rules.period_key`); a claim publicized after
that date renews at once. An objection that sends the claim back leaves the timer, and the claim's state
is checked when it fires: a claim no longer granted renews nothing (its new 公示 arms the timer again).

What: the talent is checked against the read model as of the renewal date (the later of today and the first
day of the year), under the policy version in force then, with the same eligibility rules and limits as any
claim. Eligible: a claim for the next year is filed like an auto-grant (`flow.file_renewal`, history
`renewed`). Not eligible (left the city, certification revoked or expired, every year already paid…): no
claim, an audit entry and `talent.benefits.renewal.refused.v1` with the reason codes, which notify turns into
an inbox message saying why. A year the talent already claimed themselves is left alone, silently.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts import ClaimRenewalRefused
from servicekit import audit, timers
from servicekit.db import utcnow
from servicekit.timers import ScheduledTimer, TimerHandler
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import flow
from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.eligibility import record_of, situation_of
from benefits.events import outbox
from benefits.models import Claim
from benefits.policies import policy_of_claim
from benefits.repository import BenefitsRepository
from benefits.rules import InvalidDetails, Reason, compute_amount, eligibility_reasons, limit_reasons
from benefits.states import ClaimStatus

RENEWAL_TIMER = "benefits.claim.renewal"
# A year's claim in one of these was granted; anything else (back in review, stopped, withdrawn) renews nothing.
GRANTED = frozenset({ClaimStatus.PUBLICIZED, ClaimStatus.DISBURSED, ClaimStatus.PAYMENT_FAILED})


def renews(policy: Policy) -> bool:
    """A policy renews when it is granted without asking and paid yearly for more than one year."""
    limits = policy.rules.limits
    return policy.rules.auto_grant and limits.frequency == "yearly" and (limits.max_claims or 2) > 1


def renewal_key(talent_id: str, policy_code: str, year: int) -> str:
    return f"{talent_id}:{policy_code}:{year}"


def renewal_due(clock: Clock, year: int) -> datetime:
    """Midnight of 1 January of `year` in the city's time, in UTC."""
    return datetime(year, 1, 1, tzinfo=UTC) - clock.utc_offset


async def arm(session: AsyncSession, claim: Claim, clock: Clock | None) -> None:
    """Called by the claim flow when a claim is granted: start the next year's renewal timer if the policy renews."""
    policy = await policy_of_claim(session, claim.policy_code, claim.policy_version)
    if not renews(policy) or clock is None:
        return
    year = claim.year + 1
    # `schedule`, not `schedule_new`: a claim publicized again after an objection moves the same timer.
    await timers.schedule(
        session,
        RENEWAL_TIMER,
        renewal_key(claim.talent_id, claim.policy_code, year),
        renewal_due(clock, year),
        {"claim_id": claim.id, "year": year},
    )


def on_renewal_due(clock: Clock) -> TimerHandler:
    """The timer handler, bound to the flow's clock (filing a claim starts its clocks)."""

    async def handle(session: AsyncSession, timer: ScheduledTimer) -> None:
        payload = timer.data()
        await renew(session, str(payload["claim_id"]), int(payload["year"]), clock)

    return handle


async def renew(session: AsyncSession, previous_id: str, year: int, clock: Clock) -> Claim | None:
    """File `year`'s claim after `previous_id` if the talent still qualifies, else say why; None when not filed."""
    repo = BenefitsRepository.of(session)
    previous = await repo.get_claim(previous_id)
    if previous is None or previous.status not in GRANTED:
        return None
    talent_id, code = previous.talent_id, previous.policy_code
    row = await repo.current_policy(code)
    if row is None or not row.active:
        await _refuse(session, previous, year, [Reason("policy_closed", "benefits.reason.policy_closed")])
        return None
    policy = Policy.of(row)
    situation = await situation_of(session, talent_id)
    record = await record_of(session, talent_id, policy, year)
    if record.period_taken:
        return None  # the talent claimed this year already (or a timer fired twice): nothing to renew
    as_of = max(clock.today(utcnow()), date(year, 1, 1))
    reasons = limit_reasons(policy.rules.limits, record) + eligibility_reasons(
        policy.rules.eligibility, situation, as_of, record
    )
    if not reasons:
        try:
            amount = compute_amount(policy.rules.amount, policy.rules.limits, situation.facts, {}, record)
        except InvalidDetails as exc:
            reasons = [Reason("amount", exc.key, exc.params)]
    if reasons:
        await _refuse(session, previous, year, reasons)
        return None
    return await flow.file_renewal(session, previous, policy, situation, amount, year, clock)


async def _refuse(session: AsyncSession, previous: Claim, year: int, reasons: list[Reason]) -> None:
    codes = list(dict.fromkeys(r.code for r in reasons))
    await audit.record(
        session,
        flow.SYSTEM,
        "claim.renewal_refused",
        subject_type="claim",
        subject_id=previous.id,
        after={"policy": previous.policy_code, "year": year, "reasons": codes},
    )
    outbox.emit(
        session,
        ClaimRenewalRefused(
            claim_id=previous.id,
            talent_id=previous.talent_id,
            policy_code=previous.policy_code,
            year=year,
            reasons=codes,
        ),
        subject=previous.talent_id,
    )
