"""An employer's staff (在职人才): the talents whose profile names the employer's 统一社会信用代码.

Naming the employer in the profile is the talent's consent: the employer sees only those talents, and of them
only what it needs to attest and recommend them — name, masked identity number, tier, status, validity, points
and its own standing attestation (no contact details, no education, no family). Any other talent is a 404,
as if it did not exist. Every staff read is in the talent's read log (actor kind `employer`).
"""

from __future__ import annotations

from collections.abc import Sequence

from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_after, keyset_page
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import access_log
from applicant.employer.dependencies import EmployerCaller
from applicant.employer.models import EmploymentAttestation
from applicant.employer.schemas import AttestationSummary, StaffMember
from applicant.employer.staff_scope import staff_profile
from applicant.models import Talent, TalentProfile
from applicant.states import AttestationStatus

# What an employer read (the read log's action).
STAFF_LIST = "staff.list"  # the talent was on a page of the employer's staff list
STAFF_READ = "staff.read"  # the employer opened the talent's staff entry


# The staff list is ordered by (profile created_at, talent id): the order talents registered, stable across pages.
_ORDER = (col(TalentProfile.created_at), col(TalentProfile.talent_id))


def _position(profile: TalentProfile) -> list[str]:
    return [profile.created_at.isoformat(), profile.talent_id]


async def list_staff(session: AsyncSession, caller: EmployerCaller, page: PageParams) -> Page[StaffMember]:
    """The caller's staff, a page at a time; each talent shown is a read in their log."""
    query = select(TalentProfile).where(TalentProfile.employer_credit_code == caller.credit_code)
    after = page.position(cursor_time, cursor_key)
    if after is not None:
        query = query.where(keyset_after(_ORDER, after))
    query = query.order_by(*_ORDER).limit(page.limit + 1)
    found = keyset_page(list((await session.exec(query)).all()), page.limit, _position)
    items = await _members(session, caller, found.items)
    await _record_reads(session, caller, [m.talent_id for m in items], STAFF_LIST)
    return Page(items=items, next_cursor=found.next_cursor)


async def get_member(session: AsyncSession, caller: EmployerCaller, talent_id: str) -> StaffMember:
    """One talent on the caller's staff (404 for anyone else)."""
    profile = await staff_profile(session, caller.credit_code, talent_id)
    [member] = await _members(session, caller, [profile])
    await _record_reads(session, caller, [member.talent_id], STAFF_READ)
    return member


async def _record_reads(session: AsyncSession, caller: EmployerCaller, talent_ids: Sequence[str], action: str) -> None:
    # The log names the employer by its credit code (the actor's role) and the user by account id, never a person.
    await access_log.record_employer_read(session, caller.as_principal(), talent_ids, action, caller.credit_code)


async def _members(session: AsyncSession, caller: EmployerCaller, profiles: list[TalentProfile]) -> list[StaffMember]:
    """The staff entries of these profiles: their talents and this employer's standing attestations, each read
    in one query for the whole page."""
    ids = [p.talent_id for p in profiles]
    talents = {t.id: t for t in await session.exec(select(Talent).where(col(Talent.id).in_(ids)))} if ids else {}
    standing = await standing_of_employer(session, caller.credit_code, ids)
    members = []
    for profile in profiles:
        talent = talents[profile.talent_id]  # a profile always has its talent (foreign key)
        attestation = standing.get(profile.talent_id)
        members.append(
            StaffMember(
                talent_id=profile.talent_id,
                name=profile.name,
                id_number_masked=profile.id_number_masked,
                tier=talent.tier,
                status=talent.status,
                certified_until=talent.certified_until,
                points=talent.points,
                attestation=None
                if attestation is None
                else AttestationSummary(
                    id=attestation.id,
                    outcome=attestation.outcome,
                    blocking=attestation.blocking,
                    mismatched_facts=attestation.mismatched_facts,
                    attested_at=attestation.attested_at,
                ),
            )
        )
    return members


async def standing_of_employer(
    session: AsyncSession, credit_code: str, talent_ids: Sequence[str]
) -> dict[str, EmploymentAttestation]:
    """This employer's standing attestation of each of these talents (at most one each), in one query."""
    if not talent_ids:
        return {}
    rows = await session.exec(
        select(EmploymentAttestation).where(
            col(EmploymentAttestation.talent_id).in_(list(talent_ids)),
            EmploymentAttestation.employer_credit_code == credit_code,
            EmploymentAttestation.status == AttestationStatus.STANDING,
        )
    )
    return {row.talent_id: row for row in rows}
