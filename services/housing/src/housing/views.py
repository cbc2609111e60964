"""What the API shows of housing's rows (the *Public bodies), and the talent's own page of it."""

from __future__ import annotations

import json
from typing import Any

from servicekit.pagination import Page
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import repository as repo
from housing.models import (
    HousingApplication,
    HousingLease,
    HousingOffer,
    HousingProject,
    HousingRound,
    HousingTalent,
    HousingUnit,
)
from housing.rules import HOUSING_RULES, RULES, HousingRules
from housing.schemas import (
    ApplicantFacts,
    ApplicationCase,
    ApplicationPublic,
    LeasePublic,
    MyHousing,
    OfferPublic,
    ProjectPublic,
    ResultRow,
    RoundPublic,
    RoundResults,
    UnitPublic,
)
from housing.states import LEASE, RESULTS_PUBLISHED, LeaseAction, RoundStatus


def project_public(project: HousingProject, by_type: dict[str, int]) -> ProjectPublic:
    return ProjectPublic(
        id=project.id,
        name=project.name,
        region_code=project.region_code,
        supply_model=project.supply_model,
        address=project.address,
        available_units=sum(by_type.values()),
        available_by_type=by_type,
        created_at=project.created_at,
    )


def unit_public(unit: HousingUnit) -> UnitPublic:
    return UnitPublic.model_validate(unit, from_attributes=True)


def quotas_of(round_: HousingRound) -> dict[str, int]:
    quotas: dict[str, int] = json.loads(round_.tier_quotas)
    return quotas


async def round_public(session: AsyncSession, round_: HousingRound, *, with_units: bool = True) -> RoundPublic:
    count = (
        round_.application_count
        if round_.status != RoundStatus.OPEN
        else await repo.count_applications(session, round_.id)
    )
    return RoundPublic(
        id=round_.id,
        name=round_.name,
        status=round_.status,
        closes_at=round_.closes_at,
        unit_count=round_.unit_count,
        unit_ids=await repo.round_unit_ids(session, round_.id) if with_units else [],
        tier_quotas=quotas_of(round_),
        application_count=count,
        seed_commitment=round_.seed_commitment,
        # The seed stays secret until the draw, or anyone could compute the lottery before it.
        seed=round_.seed_hex if round_.status in RESULTS_PUBLISHED else None,
        created_at=round_.created_at,
        closed_at=round_.closed_at,
        drawn_at=round_.drawn_at,
        completed_at=round_.completed_at,
    )


def round_results(round_: HousingRound, ranked: Page[HousingApplication]) -> RoundResults:
    """A page of a drawn round's ranked list: pseudonyms only, with the seed, units and quotas it was drawn with."""
    assert round_.seed_hex is not None and round_.seed_commitment is not None
    return RoundResults(
        round_id=round_.id,
        seed=round_.seed_hex,
        seed_commitment=round_.seed_commitment,
        unit_count=round_.unit_count,
        tier_quotas=quotas_of(round_),
        application_count=round_.application_count,
        items=[result_row(a) for a in ranked.items],
        next_cursor=ranked.next_cursor,
    )


def result_row(application: HousingApplication) -> ResultRow:
    return ResultRow(
        rank=application.rank or 0,
        application_pseudonym=application.pseudonym,
        tier=application.tier,
        points=application.points,
        lottery_number=application.lottery_number or "",
        selected=application.selected,
        status=application.status,
    )


def application_public(application: HousingApplication) -> ApplicationPublic:
    return ApplicationPublic(
        id=application.id,
        round_id=application.round_id,
        application_pseudonym=application.pseudonym,
        household_size=application.household_size,
        preferred_project_ids=json.loads(application.preferred_project_ids),
        tier=application.tier,
        points=application.points,
        status=application.status,
        status_reason=application.status_reason,
        rank=application.rank,
        created_at=application.created_at,
    )


def application_case(application: HousingApplication, talent: HousingTalent | None) -> ApplicationCase:
    """An application with what housing knows of its applicant now (a talent with no row yet: nothing known)."""
    known = talent or HousingTalent(talent_id=application.talent_id)
    facts = ApplicantFacts(
        status=known.status,
        works_in_city=known.works_in_city,
        owns_home_in_city=known.owns_home_in_city,
        voucher_used=known.voucher_used,
        employment_attestation=known.attestation_outcome,
        employment_blocking=known.attestation_blocking,
        employment_mismatched_facts=list(known.attestation_mismatched_facts),
    )
    return ApplicationCase(**application_public(application).model_dump(), talent=facts)


def offer_public(offer: HousingOffer, unit: HousingUnit, tier: str, catalogue: HousingRules) -> OfferPublic:
    return OfferPublic(
        id=offer.id,
        round_id=offer.round_id,
        unit_id=unit.id,
        project_id=unit.project_id,
        unit_number=unit.number,
        unit_type=unit.unit_type,
        list_rent_fen=unit.monthly_rent_fen,
        monthly_rent_fen=catalogue.rent_for(tier, unit.monthly_rent_fen),
        status=offer.status,
        made_at=offer.made_at,
        expires_at=offer.expires_at,
    )


def lease_public(lease: HousingLease, catalogue: HousingRules) -> LeasePublic:
    return LeasePublic(
        id=lease.id,
        unit_id=lease.unit_id,
        round_id=lease.round_id,
        tier=lease.tier,
        list_rent_fen=lease.list_rent_fen,
        monthly_rent_fen=lease.monthly_rent_fen,
        starts_on=lease.starts_on,
        ends_on=lease.ends_on,
        status=lease.status,
        renewals=lease.renewals,
        renewable=LEASE.can(lease.status, LeaseAction.RENEW)
        and lease.renewals < catalogue.renewals_allowed.get(lease.tier, 0),
        ended_on=lease.ended_on,
        end_reason=lease.end_reason,
    )


async def my_housing(session: AsyncSession, talent_id: str) -> MyHousing:
    """The talent's applications, offers and active lease."""
    catalogue = RULES.get(HOUSING_RULES).value
    applications = await repo.applications_of(session, talent_id)
    tiers = {a.id: a.tier for a in applications}
    offers = await repo.offers_of(session, talent_id)
    lease = await repo.active_lease_of(session, talent_id)
    return MyHousing(
        applications=[application_public(a) for a in applications],
        offers=[offer_public(o, u, tiers.get(o.application_id, "E"), catalogue) for o, u in offers],
        lease=lease_public(lease, catalogue) if lease else None,
    )


def rules_public() -> dict[str, Any]:
    """The housing rules in force, as the public catalogue shows them."""
    current = RULES.get(HOUSING_RULES).value
    return {
        "tier_order": list(current.tier_order),
        "rent_percent_of_list": current.rent_percent_of_list,
        "lease_term_years": current.lease_term_years,
        "renewals_allowed": current.renewals_allowed,
        "unit_capacity": current.unit_capacity,
        "offer_valid_hours": current.offer_valid_hours,
        "declines_before_bar": current.declines_before_bar,
        "bar_days": current.bar_days,
    }
