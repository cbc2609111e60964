"""Applicant rules: profiles with checked and protected identity numbers."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from datetime import date
from hashlib import sha256
from typing import Any

from contracts import TalentProfileUpdated, TalentRegistered
from servicekit.crypto import FieldCipher, derive_key, keyed_hash
from servicekit.db import utcnow
from servicekit.outbox import Outbox
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import reference
from applicant import repository as repo
from applicant.config import ApplicantSettings
from applicant.exceptions import IdentityNumberTaken, InvalidProfile, ProfileNotFound
from applicant.identity import InvalidIdentity, mask, validate_credit_code, validate_identity
from applicant.models import Talent, TalentProfile
from applicant.schemas import Education, Employer, ProfilePublic, ProfileUpdate

outbox = Outbox("applicant")

MINIMUM_AGE = 16


@dataclass(frozen=True)
class Protector:
    """The keys that protect personal data: built once per process from the settings."""

    cipher: FieldCipher
    hash_key: bytes
    pseudonym_key: bytes
    issuing_city: str

    @classmethod
    def from_settings(cls, settings: ApplicantSettings) -> Protector:
        return cls(
            cipher=FieldCipher.from_spec(settings.id_encryption_keys.get_secret_value(), associated_data=b"id_number"),
            hash_key=derive_key(settings.id_hash_key.get_secret_value()),
            pseudonym_key=derive_key(settings.pseudonym_key.get_secret_value()),
            issuing_city=settings.issuing_city,
        )

    def identity_hash(self, id_type: str, number: str) -> str:
        return keyed_hash(self.hash_key, f"{id_type}:{number}")

    def pseudonym(self, talent_id: str) -> str:
        digest = hmac.new(self.pseudonym_key, talent_id.encode(), sha256).digest()
        return "tp_" + base64.b32encode(digest[:15]).decode().lower()


def _check_profile(body: ProfileUpdate, today: date) -> str:
    """Validate what pydantic cannot; returns the normalised identity number."""
    try:
        number = validate_identity(body.id_type, body.id_number, body.birth_date)
    except InvalidIdentity as exc:
        raise InvalidProfile("id_number", str(exc)) from exc
    try:
        validate_credit_code(body.employer.credit_code)
    except InvalidIdentity as exc:
        raise InvalidProfile("employer.credit_code", str(exc)) from exc
    if not reference.is_known_region(body.region_code):
        raise InvalidProfile("region_code", f"{body.region_code} is not a region this platform serves")
    if not reference.is_known_region(body.employer.region_code):
        raise InvalidProfile(
            "employer.region_code", f"{body.employer.region_code} is not a region this platform serves"
        )
    if body.birth_date > today.replace(year=today.year - MINIMUM_AGE):
        raise InvalidProfile("birth_date", f"a talent must be at least {MINIMUM_AGE} years old")
    if body.education.graduated_on > today:
        raise InvalidProfile("education.graduated_on", "cannot be in the future")
    if body.education.graduated_on <= body.birth_date:
        raise InvalidProfile("education.graduated_on", "must be after birth_date")
    return number


def _facts(body: ProfileUpdate, issuing_city: str) -> dict[str, Any]:
    """The profile facts other services keep in their read models (no name, no identity number)."""
    return {
        "degree": body.education.degree,
        "graduated_on": body.education.graduated_on,
        "birth_date": body.birth_date,
        "title": body.title,
        "employer_region_code": body.employer.region_code,
        "social_insurance_months": body.social_insurance_months,
        "owns_home_in_city": body.owns_home_in_city,
        "works_in_city": reference.city_of(body.employer.region_code) == issuing_city,
    }


async def put_profile(
    session: AsyncSession, talent_id: str, body: ProfileUpdate, protector: Protector
) -> TalentProfile:
    """Create or replace the caller's profile; the first one registers the talent."""
    now = utcnow()
    number = _check_profile(body, now.date())
    id_hash = protector.identity_hash(body.id_type, number)
    holder = await repo.get_profile_by_id_hash(session, id_hash)
    if holder is not None and holder.talent_id != talent_id:
        raise IdentityNumberTaken()

    talent = await repo.get_talent(session, talent_id)
    registering = talent is None
    if talent is None:
        talent = Talent(id=talent_id, pseudonym=protector.pseudonym(talent_id), created_at=now, updated_at=now)
        session.add(talent)
    profile = await repo.get_profile(session, talent_id)
    values: dict[str, Any] = {
        "name": body.name,
        "id_type": body.id_type,
        "id_number_hash": id_hash,
        "id_number_masked": mask(number),
        "birth_date": body.birth_date,
        "email": str(body.email) if body.email else None,
        "locale": body.locale,
        "region_code": body.region_code,
        "degree": body.education.degree,
        "school": body.education.school,
        "graduated_on": body.education.graduated_on,
        "title": body.title,
        "employer_name": body.employer.name,
        "employer_credit_code": validate_credit_code(body.employer.credit_code),
        "employer_region_code": body.employer.region_code,
        "social_insurance_months": body.social_insurance_months,
        "owns_home_in_city": body.owns_home_in_city,
        "updated_at": now,
    }
    if profile is None:
        profile = TalentProfile(
            talent_id=talent_id, id_number_ciphertext=protector.cipher.encrypt(number), created_at=now, **values
        )
        session.add(profile)
    else:
        for field, value in values.items():
            setattr(profile, field, value)
        profile.id_number_ciphertext = protector.cipher.encrypt(number)
    await session.flush()

    facts = _facts(body, protector.issuing_city)
    if registering:
        outbox.emit(
            session,
            TalentRegistered(
                talent_id=talent_id,
                pseudonym=talent.pseudonym,
                region_code=body.region_code,
                locale=body.locale,
                registered_at=now,
                **facts,
            ),
            subject=talent_id,
        )
    else:
        outbox.emit(
            session,
            TalentProfileUpdated(talent_id=talent_id, region_code=body.region_code, locale=body.locale, **facts),
            subject=talent_id,
        )
    return profile


async def get_profile(session: AsyncSession, talent_id: str) -> TalentProfile:
    profile = await repo.get_profile(session, talent_id)
    if profile is None:
        raise ProfileNotFound()
    return profile


async def get_talent(session: AsyncSession, talent_id: str) -> Talent:
    talent = await repo.get_talent(session, talent_id)
    if talent is None:
        raise ProfileNotFound()
    return talent


def to_public(profile: TalentProfile) -> ProfilePublic:
    return ProfilePublic(
        talent_id=profile.talent_id,
        name=profile.name,
        id_type=profile.id_type,
        id_number_masked=profile.id_number_masked,
        birth_date=profile.birth_date,
        email=profile.email,
        locale=profile.locale,
        region_code=profile.region_code,
        education=Education(degree=profile.degree, school=profile.school, graduated_on=profile.graduated_on),
        title=profile.title,
        employer=Employer(
            name=profile.employer_name,
            credit_code=profile.employer_credit_code,
            region_code=profile.employer_region_code,
        ),
        social_insurance_months=profile.social_insurance_months,
        owns_home_in_city=profile.owns_home_in_city,
    )
