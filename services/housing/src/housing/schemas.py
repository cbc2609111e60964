"""Request and response bodies of the housing API (docs/api.md, Housing)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from contracts import AttestationOutcome
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from housing.states import (
    ApplicationStatus,
    LeaseStatus,
    OfferStatus,
    RoundStatus,
    TalentStatus,
    UnitMarketStatus,
    UnitStatus,
)

Tier = Literal["A", "B", "C", "D", "E"]
SupplyModel = Literal["government", "park", "enterprise"]
UnitType = Literal["studio", "1BR", "2BR", "3BR"]
Id = Annotated[str, Field(min_length=1, max_length=36)]
RegionCode = Annotated[str, Field(pattern=r"^[0-9]{6,12}$", description="an administrative region code")]
MAX_UNITS_PER_ROUND = 20_000


class _Strict(BaseModel):
    # Unknown fields are refused, so a typo (or a smuggled status) is a 422 instead of being ignored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- inventory -----------------------------------------------------------------------------------


class ProjectCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    region_code: RegionCode
    supply_model: SupplyModel
    address: str = Field(min_length=1, max_length=300)


class ProjectPublic(BaseModel):
    id: str
    name: str
    region_code: str
    supply_model: SupplyModel
    address: str
    available_units: int
    available_by_type: dict[str, int]
    created_at: datetime


class UnitCreate(_Strict):
    number: str = Field(min_length=1, max_length=40)
    unit_type: UnitType
    area_m2: float = Field(gt=0, le=1000)
    monthly_rent_fen: int = Field(ge=0, le=100_000_000)


class UnitsCreate(_Strict):
    units: list[UnitCreate] = Field(min_length=1, max_length=1000)


class UnitUpdate(_Strict):
    """What an officer may change on a unit that is in no round and no lease."""

    status: UnitMarketStatus | None = None
    monthly_rent_fen: int | None = Field(default=None, ge=0, le=100_000_000)


class UnitPublic(BaseModel):
    id: str
    project_id: str
    number: str
    unit_type: UnitType
    area_m2: float
    monthly_rent_fen: int
    status: UnitStatus
    round_id: str | None


class UnitsPublic(BaseModel):
    items: list[UnitPublic]


# --- rounds --------------------------------------------------------------------------------------


class RoundCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    unit_ids: list[Id] = Field(min_length=1, max_length=MAX_UNITS_PER_ROUND)
    closes_at: AwareDatetime
    tier_quotas: dict[Tier, Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="units reserved for each tier; seats a tier does not use go to the others"
    )


class RoundPublic(BaseModel):
    id: str
    name: str
    status: RoundStatus
    closes_at: datetime
    unit_count: int
    unit_ids: list[str]
    tier_quotas: dict[str, int]
    application_count: int
    seed_commitment: str | None = Field(description="hex SHA-256 of the seed's bytes, published when the round closes")
    seed: str | None = Field(description="the seed (hex), revealed at the draw")
    created_at: datetime
    closed_at: datetime | None
    drawn_at: datetime | None
    completed_at: datetime | None


class ApplicationCreate(_Strict):
    preferred_project_ids: list[Id] = Field(
        default_factory=list, max_length=20, description="in order of preference; empty means any project"
    )
    household_size: int = Field(ge=1, le=12)


class ApplicationPublic(BaseModel):
    id: str
    round_id: str
    application_pseudonym: str
    household_size: int
    preferred_project_ids: list[str]
    tier: Tier
    points: int
    status: ApplicationStatus
    status_reason: str | None
    rank: int | None
    created_at: datetime


class ApplicantFacts(BaseModel):
    """What housing knows of an applicant now, for the housing officer (never on the public results)."""

    status: TalentStatus
    works_in_city: bool | None
    owns_home_in_city: bool | None
    voucher_used: bool
    employment_attestation: AttestationOutcome | None = Field(
        description="the employer's standing attestation of the talent's employment: confirmed, disputed or none"
    )
    employment_blocking: bool = Field(
        description="the employer disputes the employment or gave other facts than the profile holds"
    )
    employment_mismatched_facts: list[str]


class ApplicationCase(ApplicationPublic):
    """An application as the housing officer sees it: with the applicant's current facts."""

    talent: ApplicantFacts


class ResultRow(BaseModel):
    rank: int
    application_pseudonym: str
    tier: Tier
    points: int
    lottery_number: str = Field(description="64 hex digits: HMAC-SHA256(key=seed, msg=application_pseudonym)")
    selected: bool = Field(description="within the round's units (after tier quotas)")
    status: ApplicationStatus


class RoundResults(BaseModel):
    """One page of a drawn round's ranked list, with everything needed to recompute it."""

    round_id: str
    seed: str
    seed_commitment: str
    unit_count: int
    tier_quotas: dict[str, int]
    application_count: int
    items: list[ResultRow]
    next_cursor: str | None = None


# --- offers and leases -----------------------------------------------------------------------------


class OfferPublic(BaseModel):
    id: str
    round_id: str
    unit_id: str
    project_id: str
    unit_number: str
    unit_type: UnitType
    list_rent_fen: int
    monthly_rent_fen: int = Field(description="what you would pay: your tier's share of the list rent")
    status: OfferStatus
    made_at: datetime
    expires_at: datetime


class LeasePublic(BaseModel):
    id: str
    unit_id: str
    round_id: str
    tier: Tier
    list_rent_fen: int
    monthly_rent_fen: int
    starts_on: date
    ends_on: date
    status: LeaseStatus
    renewals: int
    renewable: bool
    ended_on: date | None
    end_reason: str | None


class MyHousing(BaseModel):
    applications: list[ApplicationPublic]
    offers: list[OfferPublic]
    lease: LeasePublic | None


class MoveOut(_Strict):
    ended_on: date | None = Field(default=None, description="default: today (city date); not in the future")


class LeaseEnd(_Strict):
    reason: str = Field(min_length=1, max_length=300)
    ended_on: date | None = None
