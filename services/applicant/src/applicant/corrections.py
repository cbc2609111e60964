"""Identity corrections: an admin changes a talent's locked identity fields (name, identity type and number,
birth date) with a reason. The values replaced are kept only sealed (encrypted with the identity keyring),
so a later dispute can be settled without leaving names and numbers readable in the database or the audit log;
the audit entry names the fields, never their values."""

from __future__ import annotations

import json
import uuid

from contracts import TalentProfileUpdated
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import repository as repo
from applicant.events import outbox
from applicant.exceptions import IdentityNumberTaken, InvalidProfile, TalentNotFound
from applicant.identity import InvalidIdentity, mask, validate_identity
from applicant.models import IdentityCorrection
from applicant.schemas import IdentityCorrectionCreate, IdentityCorrectionPublic
from applicant.service import MINIMUM_AGE, Protector, profile_facts


async def correct_identity(
    session: AsyncSession, principal: Principal, talent_id: str, body: IdentityCorrectionCreate, protector: Protector
) -> IdentityCorrection:
    """Apply an admin's correction of identity fields; the old values are sealed, the change audited."""
    profile = await repo.get_profile(session, talent_id)
    if profile is None:
        raise TalentNotFound(talent_id)
    wanted = body.changes.model_dump(exclude_none=True)
    if not wanted:
        raise InvalidProfile("changes", "applicant.invalid.nothing_to_correct")
    id_type = wanted.get("id_type", profile.id_type)
    birth_date = wanted.get("birth_date", profile.birth_date)
    old_number = protector.cipher.decrypt(profile.id_number_ciphertext)
    try:
        number = validate_identity(id_type, wanted.get("id_number", old_number), birth_date)
    except InvalidIdentity as exc:
        raise InvalidProfile("changes.id_number", exc) from exc
    today = utcnow().date()
    if birth_date > today.replace(year=today.year - MINIMUM_AGE):
        raise InvalidProfile("changes.birth_date", "applicant.invalid.too_young", {"years": MINIMUM_AGE})
    id_hash = protector.identity_hash(id_type, number)
    holder = await repo.get_profile_by_id_hash(session, id_hash)
    if holder is not None and holder.talent_id != talent_id:
        raise IdentityNumberTaken()

    before = {
        "name": profile.name,
        "id_type": profile.id_type,
        "id_number": old_number,
        "birth_date": profile.birth_date.isoformat(),
    }
    after = {
        "name": wanted.get("name", profile.name),
        "id_type": id_type,
        "id_number": number,
        "birth_date": birth_date.isoformat(),
    }
    fields = [name for name in before if before[name] != after[name]]
    if not fields:
        raise InvalidProfile("changes", "applicant.invalid.identity_unchanged")
    now = utcnow()
    profile.name = after["name"]
    profile.id_type = id_type
    profile.birth_date = birth_date
    profile.id_number_hash = id_hash
    profile.id_number_masked = mask(number)
    profile.id_number_ciphertext = protector.cipher.encrypt(number)
    profile.updated_at = now
    correction = IdentityCorrection(
        id=str(uuid.uuid4()),
        talent_id=talent_id,
        fields=fields,
        before_sealed=protector.cipher.encrypt(json.dumps({f: before[f] for f in fields}, ensure_ascii=False)),
        reason=body.reason,
        corrected_by=principal.sub,
        corrected_at=now,
    )
    session.add(correction)
    await session.flush()
    await audit.record(
        session,
        principal,
        "talent.identity.corrected",
        subject_type="talent",
        subject_id=talent_id,
        after={"correction": correction.id, "fields": fields},
        reason=body.reason,
    )
    if "birth_date" in fields:  # the only identity field the other services keep (age limits)
        outbox.emit(
            session,
            TalentProfileUpdated(
                talent_id=talent_id,
                region_code=profile.region_code,
                locale=profile.locale,
                **await profile_facts(session, profile, protector.issuing_city),
            ),
            subject=talent_id,
        )
    return correction


def correction_public(correction: IdentityCorrection) -> IdentityCorrectionPublic:
    return IdentityCorrectionPublic(
        id=correction.id,
        talent_id=correction.talent_id,
        fields=correction.fields,
        reason=correction.reason,
        corrected_by=correction.corrected_by,
        corrected_at=correction.corrected_at,
    )
