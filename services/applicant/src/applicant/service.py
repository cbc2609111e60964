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

from applicant import catalogue, facts, points, reference
from applicant import repository as repo
from applicant.config import ApplicantSettings
from applicant.contact import InvalidContact, normalise_phone, validate_time_zone
from applicant.employer import attestations
from applicant.events import outbox
from applicant.exceptions import (
    FamilyConflict,
    FamilyMemberNotFound,
    IdentityNumberTaken,
    InvalidProfile,
    ProfileNotFound,
    ProfileRequired,
)
from applicant.identity import InvalidIdentity, mask, mask_name, validate_credit_code, validate_identity
from applicant.models import FamilyMember, Talent, TalentProfile
from applicant.schemas import Education, Employer, FamilyMemberCreate, FamilyMemberPublic, ProfilePublic, ProfileUpdate

# The fields whose change notify must learn about (ContactUpdated), besides the sealed phone.
CONTACT_FIELDS = ("email", "locale", "time_zone")

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
    # Seals the verified phone at rest: the identity keyring, bound to the "phone" field.
    phone_cipher: FieldCipher

    @classmethod
    def from_settings(cls, settings: ApplicantSettings) -> Protector:
        return cls(
            cipher=FieldCipher.from_spec(settings.id_encryption_keys.get_secret_value(), associated_data=b"id_number"),
            hash_key=derive_key(settings.id_hash_key.get_secret_value()),
            pseudonym_key=derive_key(settings.pseudonym_key.get_secret_value()),
            issuing_city=settings.issuing_city,
            contact_cipher=FieldCipher.from_spec(settings.contact_keys.get_secret_value(), associated_data=b"contact"),
            phone_cipher=FieldCipher.from_spec(
                settings.id_encryption_keys.get_secret_value(), associated_data=b"phone"
            ),
        )

    def seal_contact(self, value: str | None) -> str | None:
        return None if value is None else self.contact_cipher.encrypt(value)

    def open_phone(self, profile: TalentProfile | None) -> str | None:
        """The profile's verified phone in clear, for sealing it again for notify; never for a response."""
        if profile is None or profile.phone_ciphertext is None:
            return None
        return self.phone_cipher.decrypt(profile.phone_ciphertext)

    def identity_hash(self, id_type: str, number: str) -> str:
        return keyed_hash(self.hash_key, f"{id_type}:{number}")

    def pseudonym(self, talent_id: str) -> str:
        digest = hmac.new(self.pseudonym_key, talent_id.encode(), sha256).digest()
        return "tp_" + base64.b32encode(digest[:15]).decode().lower()


@dataclass(frozen=True)
class _CheckedProfile:
    id_number: str
    phone: str | None


def _check_profile(body: ProfileUpdate, today: date, verified_phone: str | None) -> _CheckedProfile:
    """Validate what pydantic cannot; returns the normalised identity number and the verified phone.

    The phone is the one the talent proved with a one-time code at sign-in (the gateway's claim); a phone
    in the body is only accepted when it is that one, so a number nobody proved never reaches an SMS."""
    try:
        number = validate_identity(body.id_type, body.id_number, body.birth_date)
    except InvalidIdentity as exc:
        raise InvalidProfile("id_number", exc) from exc
    phone = _verified(verified_phone)
    if body.phone:
        try:
            declared = normalise_phone(body.phone)
        except InvalidContact as exc:
            raise InvalidProfile("phone", exc) from exc
        if declared != phone:
            raise InvalidProfile("phone", "applicant.invalid.phone_unverified")
    try:
        validate_time_zone(body.time_zone)
    except InvalidContact as exc:
        raise InvalidProfile("time_zone", exc) from exc
    if body.birth_date > today.replace(year=today.year - MINIMUM_AGE):
        raise InvalidProfile("birth_date", "applicant.invalid.too_young", {"years": MINIMUM_AGE})
    facts.check_values(body.model_dump(mode="json", include=set(facts.FACTS)), body.birth_date, today)
    return _CheckedProfile(id_number=number, phone=phone)


def _verified(phone: str | None) -> str | None:
    try:
        return normalise_phone(phone) if phone else None
    except InvalidContact:
        return None


def mask_phone(phone: str) -> str:
    """+86138****0001: the country code and the first digits, four hidden, the last four."""
    return phone[:-8] + "****" + phone[-4:]


async def profile_facts(session: AsyncSession, profile: TalentProfile, issuing_city: str) -> dict[str, Any]:
    """The profile facts other services keep in their read models (no identity number, the name only masked
    for the 公示 list), with where each decision fact came from."""
    return {
        **_facts(profile, issuing_city),
        "provenance": await facts.sources_of(session, profile.talent_id),
    }


async def announce_profile_update(
    session: AsyncSession, talent: Talent, profile: TalentProfile, issuing_city: str
) -> None:
    """TalentProfileUpdated with the current facts and provenance, for the other services' read models (after
    a decision or an employer's attestation changed them)."""
    await session.flush()
    outbox.emit(
        session,
        TalentProfileUpdated(
            talent_id=talent.id,
            region_code=profile.region_code,
            locale=profile.locale,
            **await profile_facts(session, profile, issuing_city),
        ),
        subject=talent.id,
    )


def _facts(profile: TalentProfile, issuing_city: str) -> dict[str, Any]:
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
        # For the public 公示 list of benefits: masked here, so the full name never leaves this service.
        "name_masked": mask_name(profile.name),
        "employer_name": profile.employer_name,
    }


def _contact(profile: TalentProfile | None) -> tuple[Any, ...] | None:
    return None if profile is None else tuple(getattr(profile, f) for f in CONTACT_FIELDS)


async def put_profile(
    session: AsyncSession, talent_id: str, body: ProfileUpdate, protector: Protector, verified_phone: str | None = None
) -> TalentProfile:
    """Create or replace the caller's profile; the first one registers the talent. `verified_phone` is the
    sign-in phone the gateway vouches for; without one the profile keeps the phone it had."""
    now = utcnow()
    checked = _check_profile(body, now.date(), verified_phone)
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
    phone_before = protector.open_phone(profile)
    phone = checked.phone or phone_before
    values: dict[str, Any] = {
        "name": body.name,
        "id_type": body.id_type,
        "id_number_hash": id_hash,
        "id_number_masked": mask(number),
        "birth_date": body.birth_date,
        "email": str(body.email) if body.email else None,
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
        await _check_locks(session, talent, profile, values)
        identity_same = profile.id_number_hash == id_hash
        for field, value in values.items():
            setattr(profile, field, value)
        if not identity_same:
            profile.id_number_ciphertext = protector.cipher.encrypt(number)
    # A new phone, or one sealed with a key the keyring has since put behind a newer one, is sealed again.
    if phone != phone_before or (
        profile.phone_ciphertext and protector.phone_cipher.needs_rotation(profile.phone_ciphertext)
    ):
        profile.phone_ciphertext = protector.phone_cipher.encrypt(phone) if phone else None
        profile.phone_masked = mask_phone(phone) if phone else None
    await session.flush()
    # A talent who names another employer no longer stands on the old one's attestation.
    await attestations.lapse_other_employers(session, talent_id, profile.employer_credit_code)

    facts_now = await profile_facts(session, profile, protector.issuing_city)
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
                **facts_now,
            ),
            subject=talent_id,
        )
    else:
        outbox.emit(
            session,
            TalentProfileUpdated(talent_id=talent_id, region_code=body.region_code, locale=body.locale, **facts_now),
            subject=talent_id,
        )
    if _contact(profile) != contact_before or phone != phone_before:
        outbox.emit(
            session,
            ContactUpdated(
                talent_id=talent_id,
                email_sealed=protector.seal_contact(profile.email),
                phone_sealed=protector.seal_contact(phone),
                locale=body.locale,
                time_zone=profile.time_zone,
            ),
            subject=talent_id,
        )
    points.refresh(session, talent, profile)
    talent.updated_at = now
    return profile


async def _check_locks(session: AsyncSession, talent: Talent, profile: TalentProfile, values: dict[str, Any]) -> None:
    """Refuse (409) an update of locked fields; facts that change lose their confirmation, and a locked fact
    changed at once (it can only remove benefits) is audited."""
    locks = await facts.locks_of(session, talent)
    identity_changed = [
        field for field, column in IDENTITY_COLUMNS.items() if values[column] != getattr(profile, column)
    ]
    before, after = facts.values_of(profile), {name: fact.value_of(values) for name, fact in facts.FACTS.items()}
    at_once = facts.refuse_locked_changes(locks, identity_changed, before, after)
    await facts.declare(session, talent.id, facts.changed(before, after))
    if at_once:
        await audit.record(
            session,
            talent.id,
            "profile.facts.declared",
            subject_type="talent",
            subject_id=talent.id,
            before={name: before[name] for name in at_once},
            after={name: after[name] for name in at_once},
            reason="a change that can only remove benefits applies without review",
        )


# The identity fields, by the profile column that tells whether they changed (the number by its keyed hash).
IDENTITY_COLUMNS = {"name": "name", "id_type": "id_type", "id_number": "id_number_hash", "birth_date": "birth_date"}


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


async def profile_public(session: AsyncSession, profile: TalentProfile) -> ProfilePublic:
    """The profile with what is locked and where each decision fact came from."""
    public = to_public(profile)
    public.locked_fields = (await facts.locks_of(session, await repo.get_talent(session, profile.talent_id))).fields()
    public.provenance = await facts.provenance_of(session, profile.talent_id)
    return public


def to_public(profile: TalentProfile) -> ProfilePublic:
    return ProfilePublic(
        talent_id=profile.talent_id,
        name=profile.name,
        id_type=profile.id_type,
        id_number_masked=profile.id_number_masked,
        birth_date=profile.birth_date,
        email=profile.email,
        phone=profile.phone_masked,
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
        raise InvalidProfile("id_number", exc) from exc
    if body.birth_date > utcnow().date():
        raise InvalidProfile("birth_date", "applicant.invalid.in_the_future")
    id_hash = protector.identity_hash(body.id_type, number)
    if id_hash == profile.id_number_hash:
        raise InvalidProfile("id_number", "applicant.invalid.own_identity_number")
    members = await repo.list_family(session, talent_id)
    if any(m.id_number_hash == id_hash for m in members):
        raise FamilyConflict()
    limit = catalogue.family_limits().get(body.relation, 0)
    if Counter(m.relation for m in members)[body.relation] >= limit:
        raise FamilyConflict(key="applicant.error.family_limit", params={"limit": limit, "relation": body.relation})
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
