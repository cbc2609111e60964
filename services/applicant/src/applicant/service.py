"""Applicant rules: profiles with checked and protected identity numbers, contact details, family members."""

from __future__ import annotations

import base64
import hmac
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from hashlib import sha256
from typing import Any

from contracts import ContactUpdated, TalentProfileUpdated, TalentRegistered
from servicekit import audit
from servicekit.auth import Principal
from servicekit.crypto import FieldCipher, derive_key, keyed_hash
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import catalogue, points, reference
from applicant import repository as repo
from applicant.config import ApplicantSettings
from applicant.contact import InvalidContact, normalise_phone, validate_time_zone
from applicant.events import outbox
from applicant.exceptions import (
    FamilyConflict,
    FamilyMemberNotFound,
    IdentityNumberTaken,
    InvalidProfile,
    ProfileNotFound,
    ProfileRequired,
)
from applicant.identity import InvalidIdentity, mask, validate_credit_code, validate_identity
from applicant.models import FamilyMember, Talent, TalentProfile
from applicant.schemas import Education, Employer, FamilyMemberCreate, FamilyMemberPublic, ProfilePublic, ProfileUpdate

# The fields whose change notify must learn about (ContactUpdated).
CONTACT_FIELDS = ("email", "phone", "locale", "time_zone")

MINIMUM_AGE = 16


@dataclass(frozen=True)
class Protector:
    """The keys that protect personal data: built once per process from the settings."""

    cipher: FieldCipher
    hash_key: bytes
    pseudonym_key: bytes
    issuing_city: str
    # Seals contact details for notify (same keyring there, as NOTIFY_CONTACT_KEYS).
    contact_cipher: FieldCipher

    @classmethod
    def from_settings(cls, settings: ApplicantSettings) -> Protector:
        return cls(
            cipher=FieldCipher.from_spec(settings.id_encryption_keys.get_secret_value(), associated_data=b"id_number"),
            hash_key=derive_key(settings.id_hash_key.get_secret_value()),
            pseudonym_key=derive_key(settings.pseudonym_key.get_secret_value()),
            issuing_city=settings.issuing_city,
            contact_cipher=FieldCipher.from_spec(settings.contact_keys.get_secret_value(), associated_data=b"contact"),
        )

    def seal_contact(self, value: str | None) -> str | None:
        return None if value is None else self.contact_cipher.encrypt(value)

    def identity_hash(self, id_type: str, number: str) -> str:
        return keyed_hash(self.hash_key, f"{id_type}:{number}")

    def pseudonym(self, talent_id: str) -> str:
        digest = hmac.new(self.pseudonym_key, talent_id.encode(), sha256).digest()
        return "tp_" + base64.b32encode(digest[:15]).decode().lower()


@dataclass(frozen=True)
class _CheckedProfile:
    id_number: str
    phone: str | None


def _check_profile(body: ProfileUpdate, today: date) -> _CheckedProfile:
    """Validate what pydantic cannot; returns the normalised identity number and phone."""
    try:
        number = validate_identity(body.id_type, body.id_number, body.birth_date)
    except InvalidIdentity as exc:
        raise InvalidProfile("id_number", str(exc)) from exc
    try:
        phone = normalise_phone(body.phone) if body.phone else None
    except InvalidContact as exc:
        raise InvalidProfile("phone", str(exc)) from exc
    try:
        validate_time_zone(body.time_zone)
    except InvalidContact as exc:
        raise InvalidProfile("time_zone", str(exc)) from exc
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
    return _CheckedProfile(id_number=number, phone=phone)


def _facts(profile: TalentProfile, issuing_city: str) -> dict[str, Any]:
    """The profile facts other services keep in their read models (no name, no identity number)."""
    return {
        "degree": profile.degree,
        "graduated_on": profile.graduated_on,
        "birth_date": profile.birth_date,
        "title": profile.title,
        "employer_region_code": profile.employer_region_code,
        "employer_in_shortage_catalogue": points.in_shortage_catalogue(profile),
        "social_insurance_months": profile.social_insurance_months,
        "owns_home_in_city": profile.owns_home_in_city,
        "works_in_city": reference.city_of(profile.employer_region_code) == issuing_city,
    }


def _contact(profile: TalentProfile | None) -> tuple[Any, ...] | None:
    return None if profile is None else tuple(getattr(profile, f) for f in CONTACT_FIELDS)


async def put_profile(
    session: AsyncSession, talent_id: str, body: ProfileUpdate, protector: Protector
) -> TalentProfile:
    """Create or replace the caller's profile; the first one registers the talent."""
    now = utcnow()
    checked = _check_profile(body, now.date())
    number = checked.id_number
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
    contact_before = _contact(profile)
    values: dict[str, Any] = {
        "name": body.name,
        "id_type": body.id_type,
        "id_number_hash": id_hash,
        "id_number_masked": mask(number),
        "birth_date": body.birth_date,
        "email": str(body.email) if body.email else None,
        "phone": checked.phone,
        "locale": body.locale,
        "time_zone": body.time_zone,
        "region_code": body.region_code,
        "degree": body.education.degree,
        "school": body.education.school,
        "graduated_on": body.education.graduated_on,
        "title": body.title,
        "employer_name": body.employer.name,
        "employer_credit_code": validate_credit_code(body.employer.credit_code),
        "employer_region_code": body.employer.region_code,
        "employer_industry": body.employer.industry,
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

    facts = _facts(profile, protector.issuing_city)
    if registering:
        # The first points travel in the registration event; TalentPointsChanged announces later changes.
        talent.points = points.points_of(talent, profile)
        outbox.emit(
            session,
            TalentRegistered(
                talent_id=talent_id,
                pseudonym=talent.pseudonym,
                region_code=body.region_code,
                locale=body.locale,
                registered_at=now,
                points=talent.points,
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
    if _contact(profile) != contact_before:
        outbox.emit(
            session,
            ContactUpdated(
                talent_id=talent_id,
                email_sealed=protector.seal_contact(profile.email),
                phone_sealed=protector.seal_contact(profile.phone),
                locale=body.locale,
                time_zone=profile.time_zone,
            ),
            subject=talent_id,
        )
    points.refresh(session, talent, profile)
    talent.updated_at = now
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
        phone=profile.phone,
        locale=profile.locale,
        time_zone=profile.time_zone,
        region_code=profile.region_code,
        education=Education(degree=profile.degree, school=profile.school, graduated_on=profile.graduated_on),
        title=profile.title,
        employer=Employer(
            name=profile.employer_name,
            credit_code=profile.employer_credit_code,
            region_code=profile.employer_region_code,
            industry=profile.employer_industry,
        ),
        social_insurance_months=profile.social_insurance_months,
        owns_home_in_city=profile.owns_home_in_city,
    )


# --- family members ------------------------------------------------------------------------------------


async def list_family(session: AsyncSession, talent_id: str) -> list[FamilyMember]:
    return await repo.list_family(session, talent_id)


async def add_family_member(
    session: AsyncSession, talent_id: str, body: FamilyMemberCreate, protector: Protector
) -> FamilyMember:
    """Register a spouse, child or parent; the identity number is checked, encrypted and masked."""
    profile = await repo.get_profile(session, talent_id)
    if profile is None:
        raise ProfileRequired()
    try:
        number = validate_identity(body.id_type, body.id_number, body.birth_date)
    except InvalidIdentity as exc:
        raise InvalidProfile("id_number", str(exc)) from exc
    if body.birth_date > utcnow().date():
        raise InvalidProfile("birth_date", "cannot be in the future")
    id_hash = protector.identity_hash(body.id_type, number)
    if id_hash == profile.id_number_hash:
        raise InvalidProfile("id_number", "this is your own identity number, not a family member's")
    members = await repo.list_family(session, talent_id)
    if any(m.id_number_hash == id_hash for m in members):
        raise FamilyConflict("This person is already one of your family members.")
    limit = catalogue.family_limits().get(body.relation, 0)
    if Counter(m.relation for m in members)[body.relation] >= limit:
        raise FamilyConflict(f"You can register at most {limit} family member(s) as {body.relation}.")
    member = FamilyMember(
        id=str(uuid.uuid4()),
        talent_id=talent_id,
        relation=body.relation,
        name=body.name,
        id_type=body.id_type,
        id_number_ciphertext=protector.cipher.encrypt(number),
        id_number_hash=id_hash,
        id_number_masked=mask(number),
        birth_date=body.birth_date,
    )
    session.add(member)
    await session.flush()
    return member


async def remove_family_member(session: AsyncSession, talent_id: str, member_id: str) -> None:
    member = await repo.get_family_member(session, member_id)
    if member is None or member.talent_id != talent_id:
        raise FamilyMemberNotFound(member_id)
    await session.delete(member)
    await session.flush()


def family_member_public(member: FamilyMember) -> FamilyMemberPublic:
    return FamilyMemberPublic(
        id=member.id,
        relation=member.relation,
        name=member.name,
        id_type=member.id_type,
        id_number_masked=member.id_number_masked,
        birth_date=member.birth_date,
        created_at=member.created_at,
    )


async def record_key_rotation(session: AsyncSession, principal: Principal, kid: str, retire_after: timedelta) -> None:
    """An admin rotated the talent-code key: an action the auditors must be able to see."""
    await audit.record(
        session,
        principal,
        "code_key.rotate",
        subject_type="code_key",
        subject_id=kid,
        after={"kid": kid, "previous_keys_retire_after_s": int(retire_after.total_seconds())},
    )
