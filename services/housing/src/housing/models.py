"""Housing tables: the talent read model, inventory (projects, units), rounds, applications, offers, leases;
the rule versions (housing.rules) are in the kit's table `rule_version`.

Every table is prefixed `housing_`: the whole repository shares one SQLModel metadata.
"""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime

from contracts import AttestationOutcome
from servicekit.db import UTCDateTime, partial_index, utcnow

# The kit's table of housing's rule versions: imported so that it is part of housing's tables (the metadata the
# migrations build and the drift check compares).
from servicekit.rulebook import RuleVersion as RuleVersion
from servicekit.sql import StrEnumText
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from housing.states import (
    ApplicationStatus,
    LeaseStatus,
    OfferStatus,
    RoundStatus,
    TalentStatus,
    UnitStatus,
)


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """`count` new ids like `new_id`'s (random UUIDs, version 4), with one call for all their random bytes
    (uuid4 makes one system call each: the draw's 15,000 offers spent a second on them on a busy machine)."""
    random = os.urandom(16 * count)
    return [str(uuid.UUID(bytes=random[start : start + 16], version=4)) for start in range(0, 16 * count, 16)]


class HousingTalent(SQLModel, table=True):
    """What housing knows of a talent, built only from events (applicant, benefits) and its own history.

    Events may arrive in any order: each group of facts remembers the time of the event that last set it,
    and an older event does not overwrite a newer one.
    """

    __tablename__ = "housing_talent"

    talent_id: str = Field(primary_key=True, max_length=36)
    pseudonym: str | None = Field(default=None, max_length=40)
    status: TalentStatus = Field(default=TalentStatus.UNKNOWN, sa_type=StrEnumText(TalentStatus, 20))
    tier: str | None = Field(default=None, max_length=1)
    points: int = 0
    certified_until: date | None = None
    region_code: str | None = Field(default=None, max_length=12)
    works_in_city: bool | None = None
    owns_home_in_city: bool | None = None
    voucher_used: bool = False
    decline_count: int = 0
    barred_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    points_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    profile_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The employer's standing attestation (用人单位核验), if any: officers see whether it disputes the talent's
    # employment or differs from the profile (`attestation_blocking`).
    attestation_id: str | None = Field(default=None, max_length=36)
    attestation_outcome: AttestationOutcome | None = Field(default=None, sa_type=StrEnumText(AttestationOutcome, 12))
    attestation_blocking: bool = False
    attestation_mismatched_facts: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    attested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The time of the newest attestation event taken (attested or withdrawn): an older one changes nothing.
    attestation_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HousingProject(SQLModel, table=True):
    """A talent-apartment project (人才公寓) and who supplies it."""

    __tablename__ = "housing_project"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    region_code: str = Field(max_length=12)
    supply_model: str = Field(max_length=20)  # government, park, enterprise
    address: str = Field(max_length=300)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HousingUnit(SQLModel, table=True):
    """One apartment; `round_id` is the round holding it while it is `reserved`."""

    __tablename__ = "housing_unit"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    project_id: str = Field(foreign_key="housing_project.id", index=True, max_length=36)
    number: str = Field(max_length=40)
    unit_type: str = Field(max_length=10)  # studio, 1BR, 2BR, 3BR
    area_m2: float
    monthly_rent_fen: int
    status: UnitStatus = Field(default=UnitStatus.AVAILABLE, sa_type=StrEnumText(UnitStatus, 12))
    round_id: str | None = Field(default=None, index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HousingRound(SQLModel, table=True):
    """An allocation round (批次): open → closed (seed committed) → drawn (seed revealed) → completed (states.ROUND)."""

    __tablename__ = "housing_round"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    status: RoundStatus = Field(default=RoundStatus.OPEN, sa_type=StrEnumText(RoundStatus, 12))
    closes_at: datetime = Field(sa_type=UTCDateTime)
    tier_quotas: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON {tier: units}
    unit_count: int = 0
    application_count: int = 0
    # Secret until the draw: only its commitment is shown while the round is closed.
    seed_hex: str | None = Field(default=None, max_length=64)
    seed_commitment: str | None = Field(default=None, max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    drawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HousingRoundUnit(SQLModel, table=True):
    """A unit offered in a round (kept after the round, for its history)."""

    __tablename__ = "housing_round_unit"

    round_id: str = Field(foreign_key="housing_round.id", primary_key=True, max_length=36)
    unit_id: str = Field(foreign_key="housing_unit.id", primary_key=True, max_length=36)


class HousingApplication(SQLModel, table=True):
    """A talent's application to a round; `pseudonym` is what the public results show.

    Status (states.APPLICATION): submitted → (draw) offered | waitlisted | ineligible; offered → housed |
    declined | lapsed; waitlisted → offered when a unit is passed on.
    """

    __tablename__ = "housing_application"
    __table_args__ = (
        UniqueConstraint("round_id", "talent_id"),
        Index("ix_housing_application_queue", "round_id", "status", "rank"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    round_id: str = Field(foreign_key="housing_round.id", max_length=36)
    talent_id: str = Field(index=True, max_length=36)
    pseudonym: str = Field(unique=True, max_length=40)
    household_size: int
    preferred_project_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list, in order
    tier: str = Field(max_length=1)
    points: int
    status: ApplicationStatus = Field(default=ApplicationStatus.SUBMITTED, sa_type=StrEnumText(ApplicationStatus, 12))
    status_reason: str | None = Field(default=None, max_length=300)
    rank: int | None = None
    lottery_number: str | None = Field(default=None, max_length=64)
    selected: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class HousingOffer(SQLModel, table=True):
    """One unit offered to one applicant until `expires_at`."""

    __tablename__ = "housing_offer"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    round_id: str = Field(foreign_key="housing_round.id", index=True, max_length=36)
    unit_id: str = Field(foreign_key="housing_unit.id", index=True, max_length=36)
    application_id: str = Field(foreign_key="housing_application.id", index=True, max_length=36)
    talent_id: str = Field(index=True, max_length=36)
    status: OfferStatus = Field(default=OfferStatus.OPEN, sa_type=StrEnumText(OfferStatus, 12))
    made_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_ACTIVE_LEASE = f"status = '{LeaseStatus.ACTIVE}'"


class HousingLease(SQLModel, table=True):
    """A lease from an accepted offer; at most one active lease per unit and per talent (the database says so)."""

    __tablename__ = "housing_lease"
    __table_args__ = (
        partial_index("uq_housing_lease_active_unit", "unit_id", unique=True, where=_ACTIVE_LEASE),
        partial_index("uq_housing_lease_active_talent", "talent_id", unique=True, where=_ACTIVE_LEASE),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    unit_id: str = Field(foreign_key="housing_unit.id", index=True, max_length=36)
    talent_id: str = Field(index=True, max_length=36)
    offer_id: str = Field(foreign_key="housing_offer.id", unique=True, max_length=36)
    round_id: str = Field(max_length=36)
    tier: str = Field(max_length=1)
    list_rent_fen: int
    monthly_rent_fen: int
    starts_on: date
    ends_on: date
    status: LeaseStatus = Field(default=LeaseStatus.ACTIVE, sa_type=StrEnumText(LeaseStatus, 12))
    renewals: int = 0
    ended_on: date | None = None
    end_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
