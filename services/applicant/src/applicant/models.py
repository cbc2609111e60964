"""Applicant tables: the talent (status, tier, points) and their profile."""

from __future__ import annotations

from datetime import date, datetime

from servicekit.db import UTCDateTime, utcnow
from sqlmodel import Field, SQLModel


class Talent(SQLModel, table=True):
    """A person known to the platform; the id is the gateway's subject, the pseudonym what partners see."""

    __tablename__ = "talent"

    id: str = Field(primary_key=True, max_length=36)
    pseudonym: str = Field(unique=True, max_length=40)
    status: str = Field(default="registered", max_length=20)
    tier: str | None = Field(default=None, max_length=1)
    points: int = 0
    certified_until: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TalentProfile(SQLModel, table=True):
    """What the talent told us; the identity number only encrypted, with a keyed hash for duplicates."""

    __tablename__ = "talent_profile"

    talent_id: str = Field(primary_key=True, foreign_key="talent.id", max_length=36)
    name: str = Field(max_length=100)
    id_type: str = Field(max_length=30)
    id_number_ciphertext: str = Field(max_length=200)
    id_number_hash: str = Field(unique=True, max_length=64)
    id_number_masked: str = Field(max_length=40)
    birth_date: date
    email: str | None = Field(default=None, max_length=254)
    locale: str = Field(default="zh-CN", max_length=10)
    region_code: str = Field(max_length=12)
    degree: str = Field(max_length=20)
    school: str = Field(max_length=200)
    graduated_on: date
    title: str | None = Field(default=None, max_length=20)
    employer_name: str = Field(max_length=200)
    employer_credit_code: str = Field(max_length=18)
    employer_region_code: str = Field(max_length=12)
    social_insurance_months: int = 0
    owns_home_in_city: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
