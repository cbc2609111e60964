"""The employer side's tables (all prefixed ``talent_``, in the applicant's database)."""

from __future__ import annotations

from datetime import date, datetime

from contracts import AttestationOutcome
from servicekit.db import UTCDateTime, utcnow
from servicekit.sql import StrEnumText
from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from applicant.states import AttestationStatus, DemandStatus, RecommendationStatus

# --- attestations (employment and social insurance at the source) ------------------------------------------


_STANDING = text("status = 'standing'")


class EmploymentAttestation(SQLModel, table=True):
    """An employer's word on a talent's employment and social-insurance months (applicant.employer.attestations).

    Never changed but for its status: a newer attestation supersedes it, the employer revokes it, or it lapses
    when the talent's profile names another employer. What it attested is kept as the employer said it."""

    __tablename__ = "talent_employment_attestation"
    __table_args__ = (
        # A talent's attestations (their own list, the standing one of each employer), newest first.
        Index("ix_talent_employment_attestation_talent", "talent_id", "attested_at", "id"),
        # An employer's attestations, newest first.
        Index("ix_talent_employment_attestation_employer", "employer_credit_code", "attested_at", "id"),
        # One standing attestation per talent and employer, even when two attest at once (the second: a 409).
        Index(
            "uq_talent_employment_attestation_standing",
            "talent_id",
            "employer_credit_code",
            unique=True,
            sqlite_where=_STANDING,
            postgresql_where=_STANDING,
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", max_length=36)
    employer_credit_code: str = Field(max_length=18)
    employer_name: str = Field(max_length=200)
    employed_since: date
    position: str | None = Field(default=None, max_length=100)
    social_insurance_months: int
    outcome: AttestationOutcome = Field(sa_type=StrEnumText(AttestationOutcome, 10))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: AttestationStatus = Field(default=AttestationStatus.STANDING, sa_type=StrEnumText(AttestationStatus, 12))
    # The decision facts (names) it made employer-attested, and those it gave other values for than the profile.
    attested_facts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    mismatched_facts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    blocking: bool = False
    # The employer user who signed it (the gateway's account id).
    attested_by: str = Field(max_length=64)
    attested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When it stopped standing (revoked, lapsed or superseded).
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- recommendations (举荐) and demand declarations (人才需求申报) ------------------------------------------------

# A talent holds at most one filed recommendation per employer (a second one is a 409; this index keeps two
# concurrent filings from both landing). Partial: withdrawn and cited ones stay as history.
_ONE_FILED = text("status = 'filed'")


class Recommendation(SQLModel, table=True):
    """An employer's 举荐 of a talent on its staff, which the talent's certification on the
    employer_recommendation route cites; the claimed tier caps the tier that certification may claim."""

    __tablename__ = "talent_recommendation"
    __table_args__ = (
        Index("ix_talent_recommendation_employer", "employer_credit_code", "filed_at", "id"),
        Index(
            "uq_talent_recommendation_filed",
            "talent_id",
            "employer_credit_code",
            unique=True,
            sqlite_where=_ONE_FILED,
            postgresql_where=_ONE_FILED,
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", index=True, max_length=36)
    employer_credit_code: str = Field(max_length=18)
    # The employer's name as its token gave it when filing (the gateway owns the employer).
    employer_name: str = Field(max_length=200)
    claimed_tier: str = Field(max_length=1)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    status: RecommendationStatus = Field(
        default=RecommendationStatus.FILED, sa_type=StrEnumText(RecommendationStatus, 20)
    )
    # The certification that cites it (status cited).
    certification_id: str | None = Field(default=None, max_length=36)
    filed_by: str = Field(max_length=64)
    filed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Demand(SQLModel, table=True):
    """An employer's declaration of open posts (人才需求申报), listed publicly while open."""

    __tablename__ = "talent_demand"
    __table_args__ = (
        Index("ix_talent_demand_employer", "employer_credit_code", "declared_at", "id"),
        Index("ix_talent_demand_public", "status", "declared_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    employer_credit_code: str = Field(max_length=18)
    employer_name: str = Field(max_length=200)
    # The employer's region (from its token): where the posts are.
    region_code: str = Field(max_length=12)
    title: str = Field(max_length=100)
    count: int
    shortage_category: str = Field(max_length=40)
    degree: str | None = Field(default=None, max_length=20)
    salary_band: str | None = Field(default=None, max_length=20)
    status: DemandStatus = Field(default=DemandStatus.OPEN, sa_type=StrEnumText(DemandStatus, 20))
    declared_by: str = Field(max_length=64)
    declared_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
