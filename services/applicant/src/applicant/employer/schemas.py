"""Request and response bodies of the employer side (XCreate / XPublic)."""

from __future__ import annotations

from datetime import date, datetime

from contracts import AttestationOutcome, Degree, Tier
from pydantic import BaseModel, ConfigDict, Field

from applicant.states import DemandStatus, TalentStatus

# --- staff and attestations ----------------------------------------------------------------------------------
# (An attestation's public shape, AttestationPublic, is in applicant.schemas: the reviewers' case views show it.)


class AttestationCreate(BaseModel):
    """What an employer attests of a talent on its staff."""

    # Unknown fields are refused, as everywhere a caller writes.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    talent_id: str = Field(min_length=1, max_length=64)
    employed_since: date = Field(description="not in the future, not before the talent's 16th birthday")
    position: str | None = Field(default=None, max_length=100)
    social_insurance_months: int = Field(ge=0, le=600, description="months of social insurance paid by the employer")
    outcome: AttestationOutcome
    note: str | None = Field(default=None, max_length=2000)


class AttestationSummary(BaseModel):
    """This employer's standing attestation of a staff member, as the staff list shows it."""

    id: str
    outcome: AttestationOutcome
    blocking: bool
    mismatched_facts: list[str]
    attested_at: datetime


class StaffMember(BaseModel):
    """A talent on the employer's staff: only what the employer needs (no contact details, no full identity
    number, no education or family)."""

    talent_id: str
    name: str
    id_number_masked: str
    tier: Tier | None
    status: TalentStatus
    certified_until: date | None
    points: int
    attestation: AttestationSummary | None


# --- recommendations and demands -----------------------------------------------------------------------------


class RecommendationCreate(BaseModel):
    """An employer's 举荐 of a talent on its staff for the employer_recommendation route."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    talent_id: str = Field(min_length=1, max_length=36)
    claimed_tier: Tier = Field(description="the best tier the talent's certification on this route may claim")
    reason: str = Field(min_length=1, max_length=2000, description="why the employer recommends the talent")


class DemandCreate(BaseModel):
    """Open posts an employer declares (人才需求申报); the region is the employer's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=100, description="the post, e.g. 芯片设计工程师")
    count: int = Field(ge=1, le=10000, description="how many people the employer seeks")
    shortage_category: str = Field(
        min_length=1, max_length=40, description="a key industry of the shortage catalogue (/api/v1/demands/options)"
    )
    degree: Degree | None = Field(default=None, description="the least degree the posts need")
    salary_band: str | None = Field(
        default=None, max_length=20, description="a monthly salary band's code (GET /api/v1/demands/options)"
    )


class DemandPublic(BaseModel):
    id: str
    employer_credit_code: str
    employer_name: str
    region_code: str
    title: str
    count: int
    shortage_category: str
    degree: Degree | None
    salary_band: str | None
    status: DemandStatus
    declared_at: datetime
    closed_at: datetime | None


class DemandFilter(BaseModel):
    """The public demand list's filters (each optional; together they all apply)."""

    region_code: str | None = Field(default=None, min_length=6, max_length=12, description="the posts' region")
    shortage_category: str | None = Field(default=None, max_length=40)
    degree: Degree | None = None


class SalaryBandPublic(BaseModel):
    code: str
    label_zh: str
    label_en: str


class DemandOptions(BaseModel):
    """What a demand declaration may name: the shortage categories and the salary bands."""

    shortage_categories: list[str]
    salary_bands: list[SalaryBandPublic]
