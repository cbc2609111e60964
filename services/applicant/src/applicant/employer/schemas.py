"""Request and response bodies of the employer side (XCreate / XPublic)."""

from __future__ import annotations

from datetime import date, datetime

from contracts import AttestationOutcome, Tier
from pydantic import BaseModel, ConfigDict, Field

from applicant.states import TalentStatus

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
