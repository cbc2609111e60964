"""Straight-through approval (免申即享 without a reviewer) and the sampled review that keeps it honest.

Right after a claim is accepted (受理), a policy with `straight_through` rules decides whether a reviewer must
see it. In order:

1. blocking signals: the talent's certification revoked, the employer disputing or contradicting the
   employment, a pending change request of locked facts (benefits.signals), an objection in the claim's past,
   a claim that came back after an officer returned it;
2. the facts' provenance: every fact the rules name was confirmed by a source they accept;
3. the amount: at most `max_amount_fen`;
4. the sampling draw: a clean claim is still drawn for the normal two-stage review with the policy's
   `sample_share` (default 5%).

A clean claim not drawn moves accepted → publicized by `ClaimAction.APPROVE_STRAIGHT_THROUGH` in the same
transaction, its budget committed by the same conditional UPDATE as a city approval (benefits.budget) and its
公示 period started as after one. Every other claim stays `accepted` with its `manual_review_reasons`.

The draw is reproducible and auditable like housing's lottery: one secret seed per policy and day (the city's
calendar day of the claim's acceptance), whose SHA-256 is published before the day's first draw (the seed of a
day is made with the day before's; after a day with no draw at all, at the day's first draw) and the seed itself
once the day is over (GET /api/v1/publicity/sampling). A claim is drawn iff HMAC-SHA256(seed, claim id) read as
a big-endian number is below ⌊share × 2^256⌋, the share taken as the decimal written in the policy;
docs/domain.md shows an auditor how to recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import weakref
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from contracts import FactSource
from servicekit.db import utcnow
from servicekit.messages import Message
from servicekit.pagination import Page, PageParams, cursor_key, keyset_page
from servicekit.sql import insert_ignoring_conflicts
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import budget, flow, signals
from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.exceptions import BudgetExhausted
from benefits.models import Claim, SamplingSeed, TalentFacts
from benefits.policies import policy_of_claim
from benefits.repository import BenefitsRepository
from benefits.schemas import SamplingCommitment, StraightThroughRules
from benefits.states import CLAIM_FLOW, ClaimAction, TalentFactsStatus

# Reason codes that keep a claim for the two-stage review (besides the signals' own, e.g. employment_disputed).
SAMPLED = "sampled"
OBJECTION = "objection"
RESUBMITTED = "resubmitted"
AMOUNT_ABOVE_LIMIT = "amount_above_limit"
BUDGET_EXHAUSTED = "budget_exhausted"
FACT_NOT_CONFIRMED = "fact_not_confirmed:"  # + the fact's name


# --- the draw (pure: what an auditor recomputes) -------------------------------------------------------------


def commitment_of(seed: str) -> str:
    """The published commitment to a seed: hex SHA-256 of the seed's 32 bytes."""
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def draw_value(seed: str, claim_id: str) -> int:
    """HMAC-SHA256(key = the seed's bytes, message = the claim id in UTF-8), as a 256-bit big-endian number."""
    digest = hmac.new(bytes.fromhex(seed), claim_id.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def threshold(share: float) -> int:
    """⌊share × 2^256⌋, exact: the share is read as the decimal the policy writes (0.05 is 1/20, not a float)."""
    exact = Fraction(str(share))
    return (exact.numerator << 256) // exact.denominator


def is_sampled(seed: str, claim_id: str, share: float) -> bool:
    return draw_value(seed, claim_id) < threshold(share)


# --- the seeds ---------------------------------------------------------------------------------------------


# Per database engine: (policy, day) -> the day's seed, once it and the next day's were read as committed rows.
# A seed never changes once stored, so every later claim of that policy and day draws without a query.
_known_seeds: weakref.WeakKeyDictionary[Any, dict[tuple[str, date], str]] = weakref.WeakKeyDictionary()


async def seed_of(session: AsyncSession, policy_code: str, day: date) -> str:
    """The day's seed of the policy, made (with the next day's, so its commitment is public before that day's
    first draw) unless it exists; a concurrent transaction making the same one leaves exactly one."""
    engine = session.get_bind()
    known = _known_seeds.setdefault(engine, {})
    cached = known.get((policy_code, day))
    if cached is not None:
        return cached
    repo = BenefitsRepository.of(session)
    this_transaction = repo.seeds.get((policy_code, day))
    if this_transaction is not None:
        return this_transaction
    found = []
    made_here = False
    for when in (day, day + timedelta(days=1)):
        row = await repo.sampling_seed(policy_code, when)
        if row is None:
            seed = secrets.token_bytes(32).hex()
            values = {"policy_code": policy_code, "day": when, "seed": seed, "commitment": commitment_of(seed)}
            await insert_ignoring_conflicts(
                session, SamplingSeed, values | {"created_at": utcnow()}, conflict_columns=("policy_code", "day")
            )
            repo.seeds_made.add((policy_code, when))
            row = await repo.sampling_seed(policy_code, when)
            assert row is not None  # inserted just now, or by a transaction that committed first
        made_here = made_here or (policy_code, when) in repo.seeds_made
        found.append(row)
    if not made_here:
        # Both rows were there before this transaction (a rollback cannot take them): kept for the process.
        known[(policy_code, day)] = found[0].seed
    repo.seeds[(policy_code, day)] = found[0].seed
    return found[0].seed


def _cursor_day(value: Any) -> date:
    return date.fromisoformat(value)  # TypeError / ValueError for anything else: a 422


async def commitments(session: AsyncSession, clock: Clock, page: PageParams) -> Page[SamplingCommitment]:
    """Every policy's daily draw, newest day first: the commitment always, the seed once the day is over."""
    today = clock.today(utcnow())
    after = page.position(_cursor_day, cursor_key)
    rows = await BenefitsRepository.of(session).sampling_seeds(limit=page.limit + 1, after=after)
    found = keyset_page(rows, page.limit, lambda r: [r.day.isoformat(), r.policy_code])
    items = [
        SamplingCommitment(
            policy_code=r.policy_code,
            day=r.day,
            commitment=r.commitment,
            seed=r.seed if r.day < today else None,
        )
        for r in found.items
    ]
    return Page(items=items, next_cursor=found.next_cursor)


# --- the decision after acceptance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Why a reviewer must see the claim (empty: approved straight through) and whether it was drawn."""

    reasons: list[str]
    sampled: bool
    draw_day: date | None


def unconfirmed_facts(rules: StraightThroughRules, facts: TalentFacts) -> list[str]:
    return [
        fact
        for fact, sources in rules.requires.items()
        if facts.provenance.get(fact, FactSource.SELF_DECLARED) not in sources
    ]


async def _blocking_reasons(
    session: AsyncSession, claim: Claim, rules: StraightThroughRules, facts: TalentFacts | None, *, resubmitted: bool
) -> list[str]:
    reasons: list[str] = []
    if facts is None or facts.status == TalentFactsStatus.REVOKED:
        reasons.append(signals.REVOKED)
    reasons += [r for r in signals.straight_through_blockers(facts) if r not in reasons]
    if resubmitted:
        # An officer asked for corrections: an officer looks at them. Only a claim that was reviewed before
        # can have been objected to (a new claim has no past to read).
        reasons.append(RESUBMITTED)
        history = (await BenefitsRepository.of(session).history_of([claim.id]))[claim.id]
        if any(h.action == CLAIM_FLOW[ClaimAction.OBJECT].word for h in history):
            reasons.append(OBJECTION)
    if facts is not None:
        reasons += [f"{FACT_NOT_CONFIRMED}{fact}" for fact in unconfirmed_facts(rules, facts)]
    if claim.amount_fen is None or claim.amount_fen > rules.max_amount_fen:
        reasons.append(AMOUNT_ABOVE_LIMIT)
    return reasons


async def assess(
    session: AsyncSession, claim: Claim, policy: Policy, clock: Clock, *, resubmitted: bool = False
) -> Verdict | None:
    """The verdict on an accepted claim; None when its policy has no straight-through rules."""
    rules = policy.rules.straight_through
    if rules is None:
        return None
    facts = await BenefitsRepository.of(session).get_facts(claim.talent_id)
    reasons = await _blocking_reasons(session, claim, rules, facts, resubmitted=resubmitted)
    if reasons:
        return Verdict(reasons, sampled=False, draw_day=None)
    day = clock.today(claim.updated_at)  # the city's date of the claim's "accepted" history entry
    seed = await seed_of(session, claim.policy_code, day)
    if is_sampled(seed, claim.id, rules.sample_share):
        return Verdict([SAMPLED], sampled=True, draw_day=day)
    return Verdict([], sampled=False, draw_day=day)


async def after_acceptance(session: AsyncSession, claim: Claim, clock: Clock, *, resubmitted: bool = False) -> None:
    """Approve the accepted claim straight through when its policy's rules allow, or record why a reviewer
    must see it (`manual_review_reasons`, shown to the talent and the officials)."""
    policy = await _policy_of(session, claim)
    verdict = await assess(session, claim, policy, clock, resubmitted=resubmitted)
    claim.straight_through, claim.sampled = False, verdict is not None and verdict.sampled
    claim.manual_review_reasons = list(verdict.reasons) if verdict is not None else []
    if verdict is None or verdict.reasons:
        return
    try:
        await budget.commit(session, claim)
    except BudgetExhausted:
        # Taken by a concurrent approval since the automatic checks: a reviewer decides (and may return it).
        claim.manual_review_reasons = [BUDGET_EXHAUSTED]
        return
    assert verdict.draw_day is not None
    claim.straight_through = True
    claim.publicized_until = utcnow() + clock.publicity_period
    claim.publicity_ended_at = None
    await flow.transition(
        session,
        claim,
        ClaimAction.APPROVE_STRAIGHT_THROUGH,
        actor=flow.SYSTEM,
        clock=clock,
        reason=_approval_note(policy, verdict.draw_day, claim),
    )


def _approval_note(policy: Policy, day: date, claim: Claim) -> Message:
    rules = policy.rules.straight_through
    assert rules is not None
    confirmed = ", ".join(f"{fact} {'/'.join(sources)}" for fact, sources in rules.requires.items()) or "-"
    assert claim.publicized_until is not None
    params = {
        "policy": policy.code,
        "version": policy.version,
        "confirmed": confirmed,
        "amount": claim.amount_fen,
        "max_amount": rules.max_amount_fen,
        "day": day.isoformat(),
        "share": rules.sample_share,
        "until": claim.publicized_until.isoformat(),
    }
    return Message("benefits.history.straight_through", params)


async def _policy_of(session: AsyncSession, claim: Claim) -> Policy:
    return await policy_of_claim(session, claim.policy_code, claim.policy_version)
