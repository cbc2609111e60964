"""Issuing a certified talent's code, and answering a partner's verify with only what its scene may see."""

from __future__ import annotations

import io
import uuid
from datetime import datetime

import segno
from contracts.events import CodeVerified
from servicekit.auth import Principal
from servicekit.db import Database, utcnow

from applicant import access_log, catalogue, status_list
from applicant import repository as repo
from applicant.clock import end_of_local_day, local_today
from applicant.codes import CodeClaims, CodeKeyRing, CodeRejected, IssuedCode
from applicant.events import outbox
from applicant.exceptions import ProfileRequired, SceneNotAllowed, TalentCodeUnavailable
from applicant.models import Talent
from applicant.scan_log import ScanRecorder
from applicant.schemas import VerifyRequest, VerifyResult
from applicant.states import TalentStatus
from applicant.status_list import StatusListCache
from applicant.trust.recognition import PartnerKeys, claimed_city

# Why a talent has no code, by status (a certified one whose date has passed counts as expired).
_NO_CODE = {
    TalentStatus.REGISTERED: "applicant.error.no_code_registered",
    TalentStatus.EXPIRED: "applicant.error.no_code_expired",
    TalentStatus.REVOKED: "applicant.error.no_code_revoked",
}


def _is_current(talent: Talent | repo.Standing | repo.CodeStanding, now: datetime) -> bool:
    return talent.certified_until is not None and talent.certified_until >= local_today(now)


async def issue_code(
    database: Database,
    keyring: CodeKeyRing,
    talent_id: str,
    issuing_city: str,
    status_lists: StatusListCache | None = None,
) -> IssuedCode:
    """A fresh short-lived code for a certified talent, naming its entry in `status_lists`' list; 409 otherwise.

    A read: one SELECT outside any unit of work (on SQLite a unit of work takes the write lock, and every code
    refresh queued behind every other), but for a talent's first code, whose status-list entry is allocated in a
    transaction of its own. The talent's standing is read afresh each time, so a revoked talent gets no code; a
    code signed moments ago for the same row is handed out again (CodeKeyRing.issue_reusing)."""
    talent = await repo.get_code_standing(database, talent_id)
    if talent is None:
        raise ProfileRequired()
    now = utcnow()
    status = TalentStatus(talent.status)
    if status == TalentStatus.CERTIFIED and not _is_current(talent, now):
        status = TalentStatus.EXPIRED
    if status != TalentStatus.CERTIFIED or talent.tier is None or talent.certified_until is None:
        keyring.forget(talent_id)
        raise TalentCodeUnavailable(key=_NO_CODE.get(status, _NO_CODE[TalentStatus.REGISTERED]))
    entry = None
    if status_lists is not None:
        idx = talent.status_idx
        if idx is None:
            async with database.transaction() as session:
                idx = await status_list.entry_of(session, talent_id, status_lists.min_bits)
        entry = status_list.status_claim(idx, status_lists.uri)
    return keyring.issue_reusing(
        talent_id,
        talent.updated_at,
        pseudonym=talent.pseudonym,
        tier=talent.tier,
        city=issuing_city,
        not_after=end_of_local_day(talent.certified_until),
        status=entry,
    )


def qr_image(code: str, kind: str) -> bytes:
    """The QR code of a talent code as PNG or SVG (segno; error correction M survives a scuffed screen)."""
    qr = segno.make_qr(code, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind=kind, scale=4 if kind == "png" else 1, border=4)
    return buffer.getvalue()


async def verify(
    database: Database,
    keyring: CodeKeyRing,
    principal: Principal,
    body: VerifyRequest,
    recorder: ScanRecorder | None = None,
    issuing_city: str = "",
    partner_keys: PartnerKeys | None = None,
) -> VerifyResult:
    """Signature, lifetime, key, then the talent's current status; the answer carries only the scene's share.

    A verification whose code names a talent (valid, or refused for the talent's standing) goes to the
    talent's read log through `recorder`, which writes it later in a batch: the verify itself writes nothing.
    Every verification also brings the recorder its `talent.applicant.code.verified.v1` event for the city's
    statistics (scene, partner kind, outcome; never the talent), written in the same batch."""
    privileges = catalogue.privileges()
    if not privileges.may_verify(principal.partner_kind, body.scene):
        raise SceneNotAllowed(principal.partner_kind, body.scene)
    now = utcnow()
    city = claimed_city(body.code)
    if partner_keys is not None and city is not None and city != issuing_city:
        return await _verify_foreign(database, partner_keys, principal, body, recorder, city, now)
    talent = None
    try:
        # The code first (a forged or expired one costs no database read), then the holder's standing now.
        claims = await keyring.verify(database, body.code, now)
        talent = await repo.get_standing_by_pseudonym(database, claims.pseudonym)
        _check_standing(talent, claims, now)
    except CodeRejected as rejected:
        if recorder is not None:
            entry = None
            if talent is not None:
                entry = _scan_entry(talent.talent_id, principal, body.scene, rejected.reason, now)
            recorder.record(entry, _verified_event(principal, body.scene, issuing_city, reason=rejected.reason))
        return VerifyResult(valid=False, reason=rejected.reason)
    assert talent is not None and talent.certified_until is not None  # _check_standing made sure
    scene = privileges.scenes[body.scene]
    granted = list(scene.privileges_by_tier.get(claims.tier, ()))
    if recorder is not None:
        recorder.record(
            _scan_entry(talent.talent_id, principal, body.scene, "valid", now),
            _verified_event(principal, body.scene, issuing_city, tier=claims.tier, privileges=granted),
        )
    return VerifyResult(
        valid=True,
        tier=claims.tier if "tier" in scene.discloses else None,
        privileges=granted,
        expires_at=claims.expires_at,
        certified_until=talent.certified_until if "certified_until" in scene.discloses else None,
        issuing_city=issuing_city or None,
        mapped_tier=claims.tier if "tier" in scene.discloses else None,
    )


async def _verify_foreign(
    database: Database,
    partner_keys: PartnerKeys,
    principal: Principal,
    body: VerifyRequest,
    recorder: ScanRecorder | None,
    city: str,
    now: datetime,
) -> VerifyResult:
    """A partner city's code: recognised through the trust list, granted the scene's privileges of the mapped tier.

    It never tells more than a local code would (the same fields, by the same scene rules); it names no talent of
    ours, so no read-log entry is written, but its statistics event goes out with the code's issuing city and the
    mapped tier (what the city's cost settlement counts)."""
    scene = catalogue.privileges().scenes[body.scene]
    try:
        foreign = await partner_keys.verify(database, body.code, now)
    except CodeRejected as rejected:
        if recorder is not None:
            named = city if city.isdigit() and len(city) == 6 else ""
            recorder.record(None, _verified_event(principal, body.scene, named, reason=rejected.reason))
        return VerifyResult(valid=False, reason=rejected.reason)
    granted = list(scene.privileges_by_tier.get(foreign.mapped_tier, ()))
    if recorder is not None:
        recorder.record(
            None, _verified_event(principal, body.scene, city, tier=foreign.mapped_tier, privileges=granted)
        )
    disclosed = foreign.mapped_tier if "tier" in scene.discloses else None
    return VerifyResult(
        valid=True,
        tier=disclosed,
        privileges=granted,
        expires_at=foreign.claims.expires_at,
        issuing_city=city,
        mapped_tier=disclosed,
    )


def _verified_event(
    partner: Principal,
    scene: str,
    issuing_city: str,
    *,
    reason: str | None = None,
    tier: str | None = None,
    privileges: list[str] | None = None,
) -> dict[str, object]:
    """The outbox row of one verification's statistics event; its subject is a fresh id, never the talent."""
    data = CodeVerified(
        scene=scene,
        partner_kind=partner.partner_kind or "partner",
        partner=partner.sub,
        valid=reason is None,
        reason=reason,
        tier=tier,
        privileges=privileges or [],
        issuing_city=issuing_city,
    )
    _, row = outbox.row(data, subject=str(uuid.uuid4()))
    return row


def _scan_entry(talent_id: str, partner: Principal, scene: str, result: str, at: datetime) -> dict[str, object]:
    """The read-log entry of one verification: the partner (its client id and kind), the scene, the outcome."""
    return access_log.entry_values(
        talent_id,
        actor_kind=access_log.ActorKind.PARTNER,
        actor=partner.sub,
        actor_role=partner.partner_kind or "partner",
        action=access_log.CODE_VERIFY,
        scene=scene,
        result=result,
        at=at,
    )


def _check_standing(talent: repo.Standing | None, claims: CodeClaims, now: datetime) -> None:
    """A well-signed code still fails when its holder was revoked, expired, or re-tiered since it was issued."""
    if talent is None:
        raise CodeRejected("unknown_talent")
    if talent.status == TalentStatus.REVOKED:
        raise CodeRejected("revoked")
    if talent.status == TalentStatus.EXPIRED or (
        talent.status == TalentStatus.CERTIFIED and not _is_current(talent, now)
    ):
        raise CodeRejected("certification_expired")
    if talent.status != TalentStatus.CERTIFIED:
        raise CodeRejected("not_certified")
    if talent.tier != claims.tier:
        raise CodeRejected("tier_changed")
