"""Request and response bodies of the applicant API."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

IdType = Literal["resident_id", "foreign_permanent_id", "passport"]
Degree = Literal["bachelor", "master", "doctor"]
Title = Literal["senior", "deputy_senior", "intermediate"]
Locale = Literal["zh-CN", "en"]
TalentStatus = Literal["registered", "certified", "expired", "revoked"]


class _Strict(BaseModel):
    # Unknown fields are refused so a talent cannot slip in tier, status or points.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Education(_Strict):
    degree: Degree
    school: str = Field(min_length=1, max_length=200)
    graduated_on: date


class Employer(_Strict):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=18, max_length=18, description="统一社会信用代码 (GB 32100)")
    region_code: str = Field(min_length=6, max_length=12)


class ProfileUpdate(_Strict):
    """Everything PUT /api/v1/me/profile takes; the whole profile is replaced."""

    name: str = Field(min_length=1, max_length=100)
    id_type: IdType
    id_number: str = Field(min_length=5, max_length=30)
    birth_date: date
    email: EmailStr | None = None
    locale: Locale = "zh-CN"
    region_code: str = Field(min_length=6, max_length=12, description="where the talent lives or works")
    education: Education
    title: Title | None = None
    employer: Employer
    social_insurance_months: int = Field(ge=0, le=600)
    owns_home_in_city: bool = False


class ProfilePublic(BaseModel):
    """The profile as the talent sees it: the identity number masked."""

    talent_id: str
    name: str
    id_type: IdType
    id_number_masked: str
    birth_date: date
    email: str | None
    locale: Locale
    region_code: str
    education: Education
    title: Title | None
    employer: Employer
    social_insurance_months: int
    owns_home_in_city: bool


class TalentPublic(BaseModel):
    talent_id: str
    tier: Literal["A", "B", "C", "D", "E"] | None
    points: int
    status: TalentStatus
    certified_until: date | None
