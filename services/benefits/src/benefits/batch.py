"""Batch decisions in the console: one decision and one reason for many claims of a queue.

Each claim is decided by `review.decide`, the single decision's code path (role, stage, region scope,
segregation of duties, the second-approver rule, the budget), so it is audited and evented on its own.
A refusal undoes that claim's changes only, and the answer lists every claim's outcome with the problem the
single decision would have given (partial success is normal). Claims are decided in chunks under one savepoint
(two round trips and one flush per chunk, not per claim); a chunk with a refusal is taken back and decided again
one savepoint per claim, so the outcome is the same as deciding each alone, in order.
"""

from __future__ import annotations

from typing import Any

from servicekit.auth import Principal
from servicekit.bulk import discard_queued, send_queued
from servicekit.problems import DomainError, problem_body
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import review
from benefits.clock import Clock
from benefits.repository import BenefitsRepository
from benefits.schemas import BatchDecisionCreate, BatchDecisionItem, BatchDecisionsPublic, DecisionCreate


def _send_all(session: Session) -> None:
    send_queued(session, at_commit=True)


def problem_of(exc: DomainError) -> dict[str, Any]:
    """The problem+json body the single decision's endpoint would have answered with (in the caller's language)."""
    return problem_body(exc)


# Claims decided under one savepoint when none is refused: a refusal takes the chunk back, and its claims are
# then decided again one savepoint each (so each claim's outcome is still as if decided alone, in order).
CHUNK = 50


async def decide_many(
    session: AsyncSession, principal: Principal, body: BatchDecisionCreate, clock: Clock
) -> BatchDecisionsPublic:
    """Decide every listed claim as if alone; the claims are read and locked in one query first."""
    await BenefitsRepository.of(session).lock_claims(body.claim_ids)
    decision = DecisionCreate(decision=body.decision, reason=body.reason)
    items: list[BatchDecisionItem] = []
    for start in range(0, len(body.claim_ids), CHUNK):
        chunk = body.claim_ids[start : start + CHUNK]
        decided = await _decide_chunk(session, principal, chunk, decision, clock)
        if decided is None:
            for claim_id in chunk:
                items.append(await _decide_one(session, principal, claim_id, decision, clock))
        else:
            items += decided
    return BatchDecisionsPublic(items=items)


async def _send_before_savepoint(session: AsyncSession) -> None:
    # The rows queued so far (history, audit, events, timers of the claims decided before) go into the
    # database now, so a rollback to the savepoint below cannot take them, and can take these claims'.
    await session.flush()
    await session.run_sync(_send_all)


async def _decide_chunk(
    session: AsyncSession, principal: Principal, claim_ids: list[str], decision: DecisionCreate, clock: Clock
) -> list[BatchDecisionItem] | None:
    """Every claim of the chunk decided under one savepoint; None (and nothing changed) when one is refused."""
    await _send_before_savepoint(session)
    savepoint = await session.begin_nested()
    items = []
    try:
        for claim_id in claim_ids:
            claim = await review.decide(session, principal, claim_id, decision, clock)
            items.append(BatchDecisionItem(claim_id=claim_id, outcome="decided", status=claim.status))
        await session.run_sync(_send_all)
    except DomainError:
        await savepoint.rollback()
        await session.run_sync(discard_queued)
        return None
    await savepoint.commit()
    return items


async def _decide_one(
    session: AsyncSession, principal: Principal, claim_id: str, decision: DecisionCreate, clock: Clock
) -> BatchDecisionItem:
    await _send_before_savepoint(session)
    savepoint = await session.begin_nested()
    try:
        claim = await review.decide(session, principal, claim_id, decision, clock)
        status = claim.status
        await session.run_sync(_send_all)
    except DomainError as exc:
        await savepoint.rollback()
        await session.run_sync(discard_queued)
        return BatchDecisionItem(claim_id=claim_id, outcome="refused", problem=problem_of(exc))
    await savepoint.commit()
    return BatchDecisionItem(claim_id=claim_id, outcome="decided", status=status)
