"""Employer endpoints: staff and attestations (thin: the rules live in staff.py and attestations.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from servicekit.auth import TalentPrincipal
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep

from applicant.dependencies import SettingsDep, TalentId
from applicant.employer import attestations, staff
from applicant.employer.dependencies import EmployerDep
from applicant.employer.schemas import AttestationCreate, StaffMember
from applicant.schemas import AttestationPublic

router = APIRouter(prefix="/api/v1", tags=["employer"])

AttestationId = Annotated[str, Path(min_length=1, max_length=64, description="an attestation id")]


# --- staff ---------------------------------------------------------------------------------------------------


@router.get("/employer/staff", response_model=Page[StaffMember])
async def list_staff(session: SessionDep, employer: EmployerDep, page: PageDep) -> Page[StaffMember]:
    """The talents whose profile names your employer (name, masked id, tier, status, points, your attestation)."""
    return await staff.list_staff(session, employer, page)


@router.get("/employer/staff/{talent_id}", response_model=StaffMember)
async def get_staff_member(talent_id: TalentId, session: SessionDep, employer: EmployerDep) -> StaffMember:
    """One talent on your staff."""
    return await staff.get_member(session, employer, talent_id)


# --- attestations --------------------------------------------------------------------------------------------


@router.post("/employer/attestations", response_model=AttestationPublic, status_code=201)
async def attest(
    body: AttestationCreate,
    session: SessionDep,
    employer: EmployerDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Confirm or dispute a staff member's employment and social-insurance months (supersedes your previous one)."""

    async def create() -> AttestationPublic:
        return await attestations.attest(session, employer, body, settings.issuing_city)

    return await run_idempotent(
        session,
        employer.as_principal(),
        idempotency_key,
        operation="POST /api/v1/employer/attestations",
        body=body,
        create=create,
    )


@router.get("/employer/attestations", response_model=Page[AttestationPublic])
async def list_attestations(session: SessionDep, employer: EmployerDep, page: PageDep) -> Page[AttestationPublic]:
    """Your attestations, newest first."""
    return await attestations.list_of_employer(session, employer, page)


@router.delete("/employer/attestations/{attestation_id}", status_code=204)
async def revoke_attestation(
    attestation_id: AttestationId, session: SessionDep, employer: EmployerDep, settings: SettingsDep
) -> Response:
    """Revoke your standing attestation (its facts are self-declared again); one no longer standing stays as is."""
    await attestations.revoke(session, employer, attestation_id, settings.issuing_city)
    return Response(status_code=204)


@router.get("/me/attestations", response_model=Page[AttestationPublic])
async def my_attestations(session: SessionDep, principal: TalentPrincipal, page: PageDep) -> Page[AttestationPublic]:
    """What employers attested of your employment, newest first."""
    return await attestations.list_of_talent(session, principal.sub, page)
