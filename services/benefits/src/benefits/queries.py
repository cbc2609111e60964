"""Reading claims: the talent's own, each officer role's review queue, the public 公示 list, and the views."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from servicekit.auth import Principal
from servicekit.messages import Message
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from servicekit.problems import Forbidden
from servicekit.workflow import queue_statuses
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.exceptions import NoReviewQueue
from benefits.flow import owned_claim
from benefits.models import Claim, ClaimHistory
from benefits.officers import officer_of
from benefits.repository import BenefitsRepository
from benefits.rules import reason_text
from benefits.schemas import ClaimCase, ClaimPublic, HistoryEntry, PublicNotice, ReasonPublic
from benefits.signals import straight_through_blockers
from benefits.states import CITY_APPROVER, COUNTY_REVIEWER, FINANCE_OFFICER, REVIEW_STAGES, ClaimStatus


@dataclass(frozen=True)
class Queue:
    """What a role's review queue holds by default and may filter to."""

    statuses: tuple[ClaimStatus, ...]
    allowed: tuple[ClaimStatus, ...] | None
    region_scoped: bool
    publicity_ended_only: bool


ROLE_QUEUES: Mapping[str, Queue] = {
    COUNTY_REVIEWER: Queue(queue_statuses(REVIEW_STAGES, COUNTY_REVIEWER), None, True, False),
    CITY_APPROVER: Queue(queue_statuses(REVIEW_STAGES, CITY_APPROVER), None, False, False),
    # Finance pays claims whose 公示 ended, and looks back at what it paid.
    FINANCE_OFFICER: Queue(
        (ClaimStatus.PUBLICIZED,), (ClaimStatus.PUBLICIZED, ClaimStatus.DISBURSED), False, publicity_ended_only=True
    ),
}


def queue_for(principal: Principal) -> Queue:
    for role, queue in ROLE_QUEUES.items():
        if principal.has_any((role,)):
            return queue
    raise NoReviewQueue(tuple(ROLE_QUEUES))


def _position(claim: Claim) -> list[str]:
    return [claim.submitted_at.isoformat(), claim.id]


def _after(page: PageParams) -> list[Any] | None:
    return page.position(cursor_time, cursor_key)


async def review_queue(
    session: AsyncSession, principal: Principal, status: ClaimStatus | None, policy_code: str | None, page: PageParams
) -> Page[Claim]:
    """The caller's queue: a county reviewer's region, a city approver's second reviews, finance's payable claims."""
    queue = queue_for(principal)
    if status is not None and queue.allowed is not None and status not in queue.allowed:
        raise Forbidden(f"This queue shows only claims that are {' or '.join(queue.allowed)}.")
    claims = await BenefitsRepository.of(session).review_queue(
        statuses=(status,) if status else queue.statuses,
        region_code=principal.region or "" if queue.region_scoped else None,
        publicity_ended_only=queue.publicity_ended_only,
        policy_code=policy_code,
        limit=page.limit + 1,
        after=_after(page),
    )
    return keyset_page(claims, page.limit, _position)


async def my_claims(
    session: AsyncSession, principal: Principal, status: ClaimStatus | None, page: PageParams
) -> Page[Claim]:
    claims = await BenefitsRepository.of(session).claims_of_talent(
        principal.sub, limit=page.limit + 1, after=_after(page), status=status
    )
    return keyset_page(claims, page.limit, _position)


async def my_claim(session: AsyncSession, principal: Principal, claim_id: str) -> Claim:
    return await owned_claim(session, principal, claim_id)


async def public_notices(session: AsyncSession, page: PageParams) -> Page[Claim]:
    claims = await BenefitsRepository.of(session).publicized_claims(limit=page.limit + 1, after=_after(page))
    return keyset_page(claims, page.limit, _position)


def _history_text(entry: ClaimHistory) -> str:
    """The line's reason in the reader's language: a system text renders from its key (times in city time);
    an official's own words, and lines stored before messages had keys, read as written."""
    note = Message.from_stored(entry.reason_message)
    return note.render() if note is not None else entry.reason


async def to_public(session: AsyncSession, claims: Sequence[Claim]) -> list[ClaimPublic]:
    """Claims with their history, in one query for the history of all of them."""
    histories = await BenefitsRepository.of(session).history_of([c.id for c in claims])
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
            reasons=[ReasonPublic(**reason_text(r)) for r in c.reasons],
            straight_through=c.straight_through,
            sampled=c.sampled,
            manual_review_reasons=list(c.manual_review_reasons),
            officer=officer_of(c),
            history=[
                HistoryEntry(
                    at=h.at,
                    action=h.action,
                    stage=h.stage,
                    from_status=h.from_status,
                    to_status=h.to_status,
                    actor=h.actor,
                    reason=_history_text(h),
                    reasons=[ReasonPublic(**reason_text(r)) for r in h.reasons],
                )
                for h in histories[c.id]
            ],
        )
        for c in claims
    ]


async def to_case(session: AsyncSession, claims: Sequence[Claim]) -> list[ClaimCase]:
    """Claims as officials see them: the public view plus the straight-through blockers of each talent."""
    facts = await BenefitsRepository.of(session).facts_of(c.talent_id for c in claims)
    cases = []
    for public in await to_public(session, claims):
        known = facts.get(public.talent_id)
        cases.append(
            ClaimCase(
                **public.model_dump(),
                employment_attestation=known.attestation_outcome if known else None,
                straight_through_blockers=straight_through_blockers(known),
            )
        )
    return cases


def to_notice(claim: Claim) -> PublicNotice:
    return PublicNotice(
        claim_id=claim.id,
        talent_pseudonym=claim.talent_pseudonym,
        policy_code=claim.policy_code,
        amount_fen=claim.amount_fen,
        publicized_until=claim.publicized_until,
    )
