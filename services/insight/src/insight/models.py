"""Insight tables: one state row per entity another service reports on, never a payload.

Each row keeps, per group of facts, the event time of the fact it holds (`*_at`): a fact is applied only when
its event is not older than the one already applied (last writer wins by event time), so any arrival order and
any replay leave the same rows. Aggregates are computed from these rows at query time (insight.queries).

Privacy by construction: a talent is a pseudonym (HMAC of the talent id with insight's own key); no table has a
column for a name, an identity number, a phone, an e-mail or a talent id. Claim, round, offer, lease, demand and
certification ids are case numbers, not personal data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from servicekit.db import UTCDateTime
from servicekit.rulebook import RuleVersion as RuleVersion
from servicekit.sql import StrEnumText
from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from insight.states import DemandStatus, LeaseStatus, OfferStatus, RoundStatus


class InsightTalent(SQLModel, table=True):
    """What the statistics need of one talent: profile facts, certification route, standing."""

    __tablename__ = "insight_talent"
    __table_args__ = (Index("ix_insight_talent_status_tier", "status", "tier"),)

    pseudonym: str = Field(primary_key=True, max_length=64)
    # The region of the latest profile event that named one (an update may leave it out), else of the latest
    # certification while no profile event is known.
    region_code: str | None = Field(default=None, max_length=12)
    region_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Profile facts (TalentRegistered / TalentProfileUpdated).
    degree: str | None = Field(default=None, max_length=12)
    shortage: bool = False
    registered_on: date | None = None
    profile_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The route of the talent's latest certification application.
    route: str | None = Field(default=None, max_length=30)
    route_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Standing: the status of the latest of certified, revoked, expired, reinstated.
    status: str = Field(default="registered", max_length=20)
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The tier of the latest event that named one (certified, reinstated with a tier): a revocation that is
    # newer than the certification keeps it, whichever of the two arrives first.
    tier: str | None = Field(default=None, max_length=2)
    tier_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The day of the latest certification.
    certified_on: date | None = None
    certified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightCertification(SQLModel, table=True):
    """A certification case's review: when it was submitted, when each stage decided, whether it escalated."""

    __tablename__ = "insight_certification"

    certification_id: str = Field(primary_key=True, max_length=36)
    region_code: str | None = Field(default=None, max_length=12)
    route: str | None = Field(default=None, max_length=30)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    county_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    city_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    county_escalated: bool = False
    city_escalated: bool = False
    # Whole hours each stage took (submitted -> county decision -> city decision), set once both ends are known.
    county_hours: int | None = None
    city_hours: int | None = None
    status: str | None = Field(default=None, max_length=20)
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightClaim(SQLModel, table=True):
    """A benefit claim: policy, status, amount, whether a reviewer decided it, its review times."""

    __tablename__ = "insight_claim"
    __table_args__ = (Index("ix_insight_claim_policy_year", "policy_code", "year"),)

    claim_id: str = Field(primary_key=True, max_length=36)
    pseudonym: str | None = Field(default=None, max_length=64)
    policy_code: str | None = Field(default=None, max_length=40)
    year: int | None = None
    submitted_on: date | None = None
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str | None = Field(default=None, max_length=20)
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    amount_fen: int | None = Field(default=None, sa_type=BigInteger)
    amount_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_fen: int | None = Field(default=None, sa_type=BigInteger)
    # True once any reviewer (county or city) decided it: the claim did not go straight through.
    manual: bool = False
    county_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    city_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    county_escalated: bool = False
    city_escalated: bool = False
    county_hours: int | None = None
    city_hours: int | None = None


class InsightPolicyBudget(SQLModel, table=True):
    """A policy's yearly budget as last published by benefits (null: no limit)."""

    __tablename__ = "insight_policy_budget"

    policy_code: str = Field(primary_key=True, max_length=40)
    yearly_budget_fen: int | None = Field(default=None, sa_type=BigInteger)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightRound(SQLModel, table=True):
    """A housing allocation round: its units, its applications, where it stands."""

    __tablename__ = "insight_round"

    round_id: str = Field(primary_key=True, max_length=36)
    opened_on: date | None = None
    unit_count: int = 0
    application_count: int = 0
    status: RoundStatus = Field(default=RoundStatus.OPEN, sa_type=StrEnumText(RoundStatus, 10))
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightOffer(SQLModel, table=True):
    """A housing offer of a round (the talent it was made to is not kept)."""

    __tablename__ = "insight_offer"

    offer_id: str = Field(primary_key=True, max_length=36)
    round_id: str = Field(max_length=36)
    status: OfferStatus = Field(default=OfferStatus.MADE, sa_type=StrEnumText(OfferStatus, 10))
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightLease(SQLModel, table=True):
    """A lease of a talent apartment (the tenant is not kept)."""

    __tablename__ = "insight_lease"

    lease_id: str = Field(primary_key=True, max_length=36)
    starts_on: date | None = None
    ends_on: date | None = None
    status: LeaseStatus = Field(default=LeaseStatus.ACTIVE, sa_type=StrEnumText(LeaseStatus, 10))
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightVerification(SQLModel, table=True):
    """One code verification by a partner: scene, kind of partner, outcome. Nothing names the talent."""

    __tablename__ = "insight_verification"
    __table_args__ = (Index("ix_insight_verification_day", "day"),)

    verification_id: str = Field(primary_key=True, max_length=64)
    day: date
    scene: str = Field(max_length=40)
    partner_kind: str = Field(max_length=20)
    valid: bool
    reason: str | None = Field(default=None, max_length=40)
    tier: str | None = Field(default=None, max_length=2)
    issuing_city: str = Field(default="", max_length=12)


class InsightDemand(SQLModel, table=True):
    """An employer's declared demand for talent (posts by shortage category)."""

    __tablename__ = "insight_demand"

    demand_id: str = Field(primary_key=True, max_length=36)
    region_code: str | None = Field(default=None, max_length=12)
    shortage_category: str | None = Field(default=None, max_length=40)
    posts: int = 0
    declared_on: date | None = None
    status: DemandStatus = Field(default=DemandStatus.OPEN, sa_type=StrEnumText(DemandStatus, 10))
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InsightSnapshot(SQLModel, table=True):
    """An answer computed ahead by the worker (the city-wide summary), so a read costs one row at any city size.

    It holds only what a reader would be shown (published cells, totals, the index), never a state row.
    """

    __tablename__ = "insight_snapshot"

    name: str = Field(primary_key=True, max_length=40)
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    as_of: datetime = Field(sa_type=UTCDateTime)
