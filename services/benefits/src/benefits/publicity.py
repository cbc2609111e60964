"""The public 公示 list a citizen can read: who (name masked), where they work, which policy, how much, and
until when objections are taken — as real 公示 lists show, never an identity number or a phone.

Benefits never holds names: the applicant service masks the name (张*伟) and sends it with the employer's name
in its profile events, kept in the talents' read model (benefits.handlers).
"""

from __future__ import annotations

from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.models import Claim, TalentFacts
from benefits.repository import BenefitsRepository
from benefits.schemas import PublicityEntry


async def publicity(session: AsyncSession, page: PageParams) -> Page[PublicityEntry]:
    """Claims on public notice now, oldest first, each with the talent's masked name and employer."""
    repo = BenefitsRepository.of(session)
    claims = await repo.publicized_claims(limit=page.limit + 1, after=page.position(cursor_time, cursor_key))
    found = keyset_page(claims, page.limit, lambda c: [c.submitted_at.isoformat(), c.id])
    facts = await repo.facts_of(c.talent_id for c in found.items)
    return Page(items=[_entry(c, facts.get(c.talent_id)) for c in found.items], next_cursor=found.next_cursor)


def _entry(claim: Claim, facts: TalentFacts | None) -> PublicityEntry:
    return PublicityEntry(
        claim_id=claim.id,
        name_masked=facts.name_masked if facts else None,
        employer=facts.employer_name if facts else None,
        policy_code=claim.policy_code,
        amount_fen=claim.amount_fen,
        objections_until=claim.publicized_until,
    )
