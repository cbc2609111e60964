"""Housing endpoints (thin: the rules live in inventory, rounds, drawing, offers and leases)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from servicekit.auth import TalentPrincipal
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep

from housing import drawing, inventory, leases, offers, rounds, views
from housing.dependencies import HousingOfficer, ResultsPageDep
from housing.schemas import (
    ApplicationCase,
    ApplicationCreate,
    ApplicationPublic,
    LeaseEnd,
    LeasePublic,
    MoveOut,
    MyHousing,
    OfferPublic,
    ProjectCreate,
    ProjectPublic,
    RoundCreate,
    RoundPublic,
    RoundResults,
    UnitPublic,
    UnitsCreate,
    UnitsPublic,
    UnitUpdate,
)
from housing.states import RoundStatus, UnitStatus

router = APIRouter(prefix="/api/v1", tags=["housing"])


# --- inventory -------------------------------------------------------------------------------------


@router.get("/housing/projects", response_model=Page[ProjectPublic])
async def list_projects(session: SessionDep, page: PageDep) -> Page[ProjectPublic]:
    """Projects that have units available now (public)."""
    return await inventory.list_projects(session, page)


@router.post("/housing/projects", response_model=ProjectPublic, status_code=201)
async def create_project(
    body: ProjectCreate, session: SessionDep, officer: HousingOfficer, idempotency_key: IdempotencyKey = None
) -> Any:
    """Create a project (housing officer)."""
    return await run_idempotent(
        session, officer, idempotency_key, operation="POST /api/v1/housing/projects", body=body,
        create=lambda: inventory.create_project(session, officer, body),
    )  # fmt: skip


@router.get("/housing/projects/{project_id}", response_model=ProjectPublic)
async def get_project(project_id: str, session: SessionDep) -> ProjectPublic:
    """One project with its available units by type (public)."""
    return await inventory.get_project(session, project_id)


@router.post("/housing/projects/{project_id}/units", response_model=UnitsPublic, status_code=201)
async def add_units(
    project_id: str,
    body: UnitsCreate,
    session: SessionDep,
    officer: HousingOfficer,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Add units to a project (housing officer)."""

    async def create() -> UnitsPublic:
        return UnitsPublic(items=await inventory.add_units(session, officer, project_id, body))

    return await run_idempotent(
        session,
        officer,
        idempotency_key,
        operation=f"POST /api/v1/housing/projects/{project_id}/units",
        body=body,
        create=create,
    )


@router.get("/housing/projects/{project_id}/units", response_model=Page[UnitPublic])
async def list_units(
    project_id: str, session: SessionDep, page: PageDep, status: UnitStatus | None = None
) -> Page[UnitPublic]:
    """A project's units, by number, optionally of one status (public)."""
    return await inventory.list_units(session, project_id, page, status=status)


@router.patch("/housing/units/{unit_id}", response_model=UnitPublic)
async def update_unit(unit_id: str, body: UnitUpdate, session: SessionDep, officer: HousingOfficer) -> UnitPublic:
    """Withdraw or return a unit, or change its list rent (housing officer; not while in a round or lease)."""
    return await inventory.update_unit(session, officer, unit_id, body)


# --- rounds ----------------------------------------------------------------------------------------


@router.post("/housing/rounds", response_model=RoundPublic, status_code=201)
async def create_round(
    body: RoundCreate, session: SessionDep, officer: HousingOfficer, idempotency_key: IdempotencyKey = None
) -> Any:
    """Open an allocation round over available units (housing officer)."""
    return await run_idempotent(
        session, officer, idempotency_key, operation="POST /api/v1/housing/rounds", body=body,
        create=lambda: rounds.create_round(session, officer, body),
    )  # fmt: skip


@router.get("/housing/rounds", response_model=Page[RoundPublic])
async def list_rounds(session: SessionDep, page: PageDep, status: RoundStatus | None = None) -> Page[RoundPublic]:
    """Rounds, newest first, optionally of one status (public; unit ids only on the round itself)."""
    return await rounds.list_rounds(session, page, status=status)


@router.get("/housing/rounds/{round_id}", response_model=RoundPublic)
async def get_round(round_id: str, session: SessionDep) -> RoundPublic:
    """A round: status, units, the seed commitment once closed and the seed once drawn (public)."""
    return await rounds.get_round(session, round_id)


@router.post("/housing/rounds/{round_id}/applications", response_model=ApplicationPublic, status_code=201)
async def apply(
    round_id: str,
    body: ApplicationCreate,
    session: SessionDep,
    principal: TalentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Apply to an open round (talent); 422 lists every reason you are not eligible."""
    return await run_idempotent(
        session, principal, idempotency_key, body=body,
        operation=f"POST /api/v1/housing/rounds/{round_id}/applications",
        create=lambda: rounds.apply(session, principal.sub, round_id, body),
    )  # fmt: skip


@router.get("/housing/rounds/{round_id}/applications", response_model=Page[ApplicationCase])
async def round_applications(
    round_id: str, session: SessionDep, page: PageDep, officer: HousingOfficer
) -> Page[ApplicationCase]:
    """A round's applications in the order they came, with each applicant's facts now (housing officer)."""
    return await rounds.round_applications(session, round_id, page)


@router.post("/housing/rounds/{round_id}/close", response_model=RoundPublic)
async def close_round(round_id: str, session: SessionDep, officer: HousingOfficer) -> RoundPublic:
    """Close applications and publish the seed commitment (housing officer; also automatic at closes_at)."""
    return await views.round_public(session, await rounds.close_round(session, officer, round_id))


@router.post("/housing/rounds/{round_id}/draw", response_model=RoundPublic)
async def draw_round(round_id: str, session: SessionDep, officer: HousingOfficer) -> RoundPublic:
    """Reveal the seed, rank the applications and make the first offers (housing officer; 409 unless closed)."""
    return await drawing.draw_round(session, officer, round_id)


@router.get("/housing/rounds/{round_id}/results", response_model=RoundResults)
async def round_results(round_id: str, session: SessionDep, page: ResultsPageDep) -> RoundResults:
    """The ranked list with pseudonymous ids, tier, points and lottery numbers (public, once drawn)."""
    return await drawing.results_page(session, round_id, page)


# --- the talent's housing --------------------------------------------------------------------------


@router.get("/me/housing", response_model=MyHousing)
async def my_housing(session: SessionDep, principal: TalentPrincipal) -> MyHousing:
    """Your applications, offers and lease."""
    return await views.my_housing(session, principal.sub)


@router.post("/me/housing/offers/{offer_id}/accept", response_model=LeasePublic)
async def accept_offer(offer_id: str, session: SessionDep, principal: TalentPrincipal) -> LeasePublic:
    """Accept your open offer: the lease starts today at your tier's rent."""
    return await offers.accept_offer(session, principal.sub, offer_id)


@router.post("/me/housing/offers/{offer_id}/decline", response_model=OfferPublic)
async def decline_offer(offer_id: str, session: SessionDep, principal: TalentPrincipal) -> OfferPublic:
    """Decline your open offer; the unit passes to the next applicant (two declines bar you for a year)."""
    return await offers.decline_offer(session, principal.sub, offer_id)


@router.post("/me/housing/lease/renew", response_model=LeasePublic)
async def renew_lease(session: SessionDep, principal: TalentPrincipal) -> LeasePublic:
    """Renew your lease for one more term (tiers the catalogue allows; default once, tier E)."""
    return await leases.renew_lease(session, principal.sub)


@router.post("/me/housing/lease/move-out", response_model=LeasePublic)
async def move_out(
    session: SessionDep, principal: TalentPrincipal, body: Annotated[MoveOut | None, Body()] = None
) -> LeasePublic:
    """End your lease (default today); the rent subsidy may be claimed again afterwards."""
    return await leases.move_out(session, principal.sub, body.ended_on if body else None)


@router.post("/housing/leases/{lease_id}/end", response_model=LeasePublic)
async def end_lease(lease_id: str, body: LeaseEnd, session: SessionDep, officer: HousingOfficer) -> LeasePublic:
    """End a lease with a reason (housing officer; audited)."""
    return await leases.end_lease(session, officer, lease_id, body.reason, body.ended_on)


@router.get("/housing/catalogue", response_model=dict[str, Any])
async def catalogue() -> dict[str, Any]:
    """The housing rules in force: rent share by tier, lease term, renewals, unit sizes, offer clock (public)."""
    return views.rules_public()
