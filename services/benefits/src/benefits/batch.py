"""Batch decisions in the console: one decision and one reason for many claims of a queue.

Each claim is decided by `review.decide`, the single decision's code path (role, stage, region scope,
segregation of duties, the second-approver rule, the budget), so it is audited and evented on its own.
Each runs in its own savepoint: a refusal undoes that claim's changes only, and the answer lists every
claim's outcome with the problem the single decision would have given (partial success is normal).
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


async def decide_many(
    session: AsyncSession, principal: Principal, body: BatchDecisionCreate, clock: Clock
) -> BatchDecisionsPublic:
    """Decide every listed claim as if alone; the claims are read and locked in one query first."""
    await BenefitsRepository.of(session).lock_claims(body.claim_ids)
    decision = DecisionCreate(decision=body.decision, reason=body.reason)
    items = []
    for claim_id in body.claim_ids:
        # The rows queued so far (history, audit, events, timers of the claims decided before) go into the
        # database now, so a rollback to the savepoint below cannot take them, and can take this claim's.
        await session.flush()
        await session.run_sync(_send_all)
        savepoint = await session.begin_nested()
        try:
            claim = await review.decide(session, principal, claim_id, decision, clock)
            status = claim.status
            await session.run_sync(_send_all)
        except DomainError as exc:
            await savepoint.rollback()
            await session.run_sync(discard_queued)
            items.append(BatchDecisionItem(claim_id=claim_id, outcome="refused", problem=problem_of(exc)))
            continue
        await savepoint.commit()
        items.append(BatchDecisionItem(claim_id=claim_id, outcome="decided", status=status))
    return BatchDecisionsPublic(items=items)
