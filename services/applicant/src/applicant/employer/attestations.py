"""Employment attestations: an employer confirms or disputes, at the source, that a talent on its staff works
there and how many months of social insurance it paid.

- A confirmation whose months equal the profile's makes `employer` and `social_insurance_months`
  employer-attested (provenance); with other months it attests `employer` only and lists
  `social_insurance_months` in `mismatched_facts`. A dispute attests nothing. It is `blocking` (claims are not
  approved straight through) when disputed or when any fact mismatched.
- An employer has at most one standing attestation per talent: a new one supersedes it. A fact this employer
  attested before and the new one no longer confirms is self-declared again, unless someone else (an officer)
  confirmed it since — only provenance whose basis is one of this employer's attestations is touched.
- The employer may revoke its standing attestation; when the talent's profile comes to name another employer,
  the other employers' standing attestations lapse (`lapse_other_employers`). Either way what they attested is
  self-declared again.

`transition()` is the one function that moves an attestation: status, audit entry and event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from contracts import AttestationOutcome, EmploymentAttestationWithdrawn, EmploymentAttested
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_after, keyset_page
from servicekit.problems import NotFound
from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import facts, service
from applicant import repository as repo
from applicant.clock import add_years, local_today
from applicant.employer.dependencies import EmployerCaller
from applicant.employer.models import EmploymentAttestation
from applicant.employer.schemas import AttestationCreate
from applicant.employer.staff_scope import staff_profile
from applicant.events import outbox
from applicant.exceptions import InvalidProfile
from applicant.models import FactProvenance, TalentProfile
from applicant.schemas import AttestationPublic
from applicant.states import ATTESTATION_FLOW, AttestationAction, AttestationStatus, FactSource

# The facts an employer can attest at the source.
EMPLOYER = "employer"
MONTHS = "social_insurance_months"

# A person may be employed from their 16th birthday on (劳动法 第十五条).
MINIMUM_WORKING_AGE = 16

# The provenance basis of a fact an attestation confirmed.
_BASIS = "attestation:"


class AttestationNotFound(NotFound):
    key = "applicant.error.attestation_not_found"

    def __init__(self, attestation_id: str) -> None:
        super().__init__(params={"attestation_id": attestation_id})


# --- the employer's side -------------------------------------------------------------------------------------


async def attest(
    session: AsyncSession, caller: EmployerCaller, body: AttestationCreate, issuing_city: str
) -> AttestationPublic:
    """Attest a talent on the caller's staff: the facts confirmed become employer-attested, the employer's
    previous attestation of them is superseded, and the other services learn it."""
    profile = await staff_profile(session, caller.credit_code, body.talent_id)
    _check_dates(body, profile)
    attested, mismatched = _matching(body, profile)
    now = utcnow()
    attestation = EmploymentAttestation(
        id=str(uuid.uuid4()),
        talent_id=profile.talent_id,
        employer_credit_code=caller.credit_code,
        employer_name=caller.name,
        employed_since=body.employed_since,
        position=body.position,
        social_insurance_months=body.social_insurance_months,
        outcome=body.outcome,
        note=body.note,
        attested_facts=attested,
        mismatched_facts=mismatched,
        blocking=body.outcome is AttestationOutcome.DISPUTED or bool(mismatched),
        attested_by=caller.user,
        attested_at=now,
    )
    # What this employer attested before and the new attestation no longer confirms is the talent's word again.
    mine = await _ids_of_employer(session, profile.talent_id, caller.credit_code)
    await _declare_attested_by(session, profile.talent_id, mine, keep=attested)
    for previous in await _standing(session, profile.talent_id, employer=caller.credit_code):
        await transition(session, previous, AttestationAction.SUPERSEDE, actor=caller.as_principal(), at=now)
    await session.flush()  # the old one stops standing before the new one stands (one standing per employer)
    session.add(attestation)
    await session.flush()
    await transition(session, attestation, AttestationAction.ATTEST, actor=caller.as_principal(), at=now)
    await facts.confirm(
        session,
        profile.talent_id,
        attested,
        source=FactSource.EMPLOYER_ATTESTED,
        by=caller.user,
        at=now,
        basis=f"{_BASIS}{attestation.id}",
    )
    await _announce(session, profile, issuing_city)
    return to_public(attestation)


def _check_dates(body: AttestationCreate, profile: TalentProfile) -> None:
    if body.employed_since > local_today():
        raise InvalidProfile("employed_since", "applicant.invalid.in_the_future")
    if body.employed_since < add_years(profile.birth_date, MINIMUM_WORKING_AGE):
        raise InvalidProfile("employed_since", "applicant.invalid.before_working_age", {"age": MINIMUM_WORKING_AGE})


def _matching(body: AttestationCreate, profile: TalentProfile) -> tuple[list[str], list[str]]:
    """(the facts the attestation confirms, the facts it gives other values for than the profile)."""
    if body.outcome is AttestationOutcome.DISPUTED:
        return [], []
    if body.social_insurance_months == profile.social_insurance_months:
        return [EMPLOYER, MONTHS], []
    return [EMPLOYER], [MONTHS]


async def revoke(session: AsyncSession, caller: EmployerCaller, attestation_id: str, issuing_city: str) -> None:
    """Withdraw the caller's standing attestation; one that no longer stands is left as it is."""
    attestation = await session.get(EmploymentAttestation, attestation_id)
    if attestation is None or attestation.employer_credit_code != caller.credit_code:
        raise AttestationNotFound(attestation_id)
    if not ATTESTATION_FLOW.can(attestation.status, AttestationAction.REVOKE):
        return  # already superseded, revoked or lapsed: nothing stands to withdraw
    await transition(session, attestation, AttestationAction.REVOKE, actor=caller.as_principal(), at=utcnow())
    mine = await _ids_of_employer(session, attestation.talent_id, caller.credit_code)
    await _declare_attested_by(session, attestation.talent_id, mine)
    profile = await repo.get_profile(session, attestation.talent_id)
    if profile is not None:
        await _announce(session, profile, issuing_city)


async def list_of_employer(session: AsyncSession, caller: EmployerCaller, page: PageParams) -> Page[AttestationPublic]:
    """The caller's attestations (every status), newest first."""
    return await _page(session, col(EmploymentAttestation.employer_credit_code) == caller.credit_code, page)


async def list_of_talent(session: AsyncSession, talent_id: str, page: PageParams) -> Page[AttestationPublic]:
    """A talent's attestations by any employer (every status), newest first."""
    return await _page(session, col(EmploymentAttestation.talent_id) == talent_id, page)


# --- when the talent's employer changes ---------------------------------------------------------------------


async def lapse_other_employers(session: AsyncSession, talent_id: str, credit_code: str) -> None:
    """The profile now names `credit_code`: the standing attestations of other employers lapse, and what they
    attested is self-declared again — except a fact confirmed since by someone else (e.g. the same approved
    change request: call this after its confirmation). Call it before the profile event of the change is built,
    so that its provenance is right."""
    lapsing = [a for a in await _standing(session, talent_id) if a.employer_credit_code != credit_code]
    if not lapsing:
        return
    now = utcnow()
    for attestation in lapsing:
        await transition(session, attestation, AttestationAction.LAPSE, actor="system", at=now)
    await _declare_attested_by(session, talent_id, [a.id for a in lapsing])


# --- the reviewers' case views ------------------------------------------------------------------------------


async def standing_of_talent(session: AsyncSession, talent_id: str) -> AttestationPublic | None:
    """The talent's standing attestation (of the employer the profile names; others lapsed), or None."""
    standing = await _standing(session, talent_id)
    return to_public(standing[0]) if standing else None


# --- the one transition --------------------------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    attestation: EmploymentAttestation,
    action: AttestationAction,
    *,
    actor: Principal | str,
    at: datetime,
) -> None:
    """Move the attestation by `action`: its status, the audit entry (no personal data: fact names, outcome)
    and its event — EmploymentAttested when it is made, EmploymentAttestationWithdrawn when it stops standing
    by revocation or lapse (a superseded one is replaced by the newer one's EmploymentAttested)."""
    move = ATTESTATION_FLOW[action]
    before = None if not move.sources else AttestationStatus(attestation.status)
    if before is not None:
        ATTESTATION_FLOW.check(before, action)
        attestation.withdrawn_at = at
    assert move.target is not None
    attestation.status = move.target
    await audit.record(
        session,
        actor,
        f"attestation.{action}",
        subject_type="talent",
        subject_id=attestation.talent_id,
        before=None if before is None else {"attestation": attestation.id, "status": str(before)},
        after={
            "attestation": attestation.id,
            "status": str(attestation.status),
            "employer_credit_code": attestation.employer_credit_code,
            "outcome": str(attestation.outcome),
            "attested_facts": attestation.attested_facts,
            "mismatched_facts": attestation.mismatched_facts,
        },
    )
    if action is AttestationAction.ATTEST:
        outbox.emit(
            session,
            EmploymentAttested(
                attestation_id=attestation.id,
                talent_id=attestation.talent_id,
                employer_credit_code=attestation.employer_credit_code,
                outcome=attestation.outcome,
                attested_facts=attestation.attested_facts,
                mismatched_facts=attestation.mismatched_facts,
                blocking=attestation.blocking,
                attested_at=attestation.attested_at,
            ),
            subject=attestation.talent_id,
        )
    elif move.withdrawn_reason is not None:
        outbox.emit(
            session,
            EmploymentAttestationWithdrawn(
                attestation_id=attestation.id,
                talent_id=attestation.talent_id,
                employer_credit_code=attestation.employer_credit_code,
                reason=move.withdrawn_reason,
                withdrawn_at=at,
            ),
            subject=attestation.talent_id,
        )


# --- queries and views ---------------------------------------------------------------------------------------


async def _standing(
    session: AsyncSession, talent_id: str, *, employer: str | None = None
) -> list[EmploymentAttestation]:
    """The talent's standing attestations (of one employer, or of all), newest first."""
    query = select(EmploymentAttestation).where(
        EmploymentAttestation.talent_id == talent_id, EmploymentAttestation.status == AttestationStatus.STANDING
    )
    if employer is not None:
        query = query.where(EmploymentAttestation.employer_credit_code == employer)
    return list((await session.exec(query.order_by(*_NEWEST_FIRST))).all())


async def _ids_of_employer(session: AsyncSession, talent_id: str, credit_code: str) -> list[str]:
    """Every attestation this employer made of the talent, whatever its status."""
    query = select(EmploymentAttestation.id).where(
        EmploymentAttestation.talent_id == talent_id, EmploymentAttestation.employer_credit_code == credit_code
    )
    return list((await session.exec(query)).all())


async def _declare_attested_by(
    session: AsyncSession, talent_id: str, attestation_ids: Iterable[str], *, keep: Iterable[str] = ()
) -> None:
    """The facts whose provenance is one of these attestations (but those in `keep`) are self-declared again;
    a fact someone else confirmed since has another basis and stays as it is."""
    bases = [f"{_BASIS}{i}" for i in attestation_ids]
    if not bases:
        return
    rows = await session.exec(
        select(FactProvenance.fact).where(FactProvenance.talent_id == talent_id, col(FactProvenance.basis).in_(bases))
    )
    kept = set(keep)
    await facts.declare(session, talent_id, [fact for fact in rows if fact not in kept])


async def _announce(session: AsyncSession, profile: TalentProfile, issuing_city: str) -> None:
    """The provenance changed: the other services' read models learn it (TalentProfileUpdated)."""
    talent = await repo.get_talent(session, profile.talent_id)
    if talent is not None:
        await service.announce_profile_update(session, talent, profile, issuing_city)


# Every list of attestations is ordered by (attested_at, id), newest first.
_ORDER = (col(EmploymentAttestation.attested_at), col(EmploymentAttestation.id))
_NEWEST_FIRST = (col(EmploymentAttestation.attested_at).desc(), col(EmploymentAttestation.id).desc())


def _position(attestation: EmploymentAttestation) -> list[str]:
    return [attestation.attested_at.isoformat(), attestation.id]


async def _page(session: AsyncSession, where: ColumnElement[bool], page: PageParams) -> Page[AttestationPublic]:
    query = select(EmploymentAttestation).where(where)
    after = page.position(cursor_time, cursor_key)
    if after is not None:
        query = query.where(keyset_after(_ORDER, after, descending=True))
    query = query.order_by(*_NEWEST_FIRST).limit(page.limit + 1)
    found = keyset_page(list((await session.exec(query)).all()), page.limit, _position)
    return Page(items=[to_public(a) for a in found.items], next_cursor=found.next_cursor)


def to_public(attestation: EmploymentAttestation) -> AttestationPublic:
    return AttestationPublic(
        id=attestation.id,
        talent_id=attestation.talent_id,
        employer_credit_code=attestation.employer_credit_code,
        employer_name=attestation.employer_name,
        employed_since=attestation.employed_since,
        position=attestation.position,
        social_insurance_months=attestation.social_insurance_months,
        outcome=attestation.outcome,
        note=attestation.note,
        status=attestation.status,
        attested_facts=attestation.attested_facts,
        mismatched_facts=attestation.mismatched_facts,
        blocking=attestation.blocking,
        attested_by=attestation.attested_by,
        attested_at=attestation.attested_at,
        withdrawn_at=attestation.withdrawn_at,
    )
