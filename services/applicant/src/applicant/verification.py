"""Issuing a certified talent's code, and answering a partner's verify with only what its scene may see."""

from __future__ import annotations

import io
from datetime import datetime

import segno
from servicekit.auth import Principal
from servicekit.db import Database, utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import access_log, catalogue
from applicant import repository as repo
from applicant.clock import end_of_local_day, local_today
from applicant.codes import CodeClaims, CodeKeyRing, CodeRejected, IssuedCode
from applicant.exceptions import ProfileRequired, SceneNotAllowed, TalentCodeUnavailable
from applicant.models import Talent
from applicant.scan_log import ScanRecorder
from applicant.schemas import VerifyRequest, VerifyResult
from applicant.states import TalentStatus

# Why a talent has no code, by status (a certified one whose date has passed counts as expired).
_NO_CODE = {
    TalentStatus.REGISTERED: "You have a code once you are certified; apply with POST /api/v1/me/certifications.",
    TalentStatus.EXPIRED: "Your certification has expired; apply again to get a code.",
    TalentStatus.REVOKED: "Your talent status was revoked; no code can be issued.",
}


def _is_current(talent: Talent | repo.Standing, now: datetime) -> bool:
    return talent.certified_until is not None and talent.certified_until >= local_today(now)


async def issue_code(session: AsyncSession, keyring: CodeKeyRing, talent_id: str, issuing_city: str) -> IssuedCode:
    """A fresh short-lived code for a certified talent; 409 otherwise."""
    talent = await repo.get_talent(session, talent_id)
    if talent is None:
        raise ProfileRequired()
    now = utcnow()
    status = TalentStatus(talent.status)
    if status == TalentStatus.CERTIFIED and not _is_current(talent, now):
        status = TalentStatus.EXPIRED
    if status != TalentStatus.CERTIFIED or talent.tier is None or talent.certified_until is None:
        raise TalentCodeUnavailable(_NO_CODE.get(status, _NO_CODE[TalentStatus.REGISTERED]))
    return keyring.issue(
        pseudonym=talent.pseudonym,
        tier=talent.tier,
        city=issuing_city,
        not_after=end_of_local_day(talent.certified_until),
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
) -> VerifyResult:
    """Signature, lifetime, key, then the talent's current status; the answer carries only the scene's share.

    A verification whose code names a talent (valid, or refused for the talent's standing) goes to the
    talent's read log through `recorder`, which writes it later in a batch: the verify itself writes nothing."""
    privileges = catalogue.privileges()
    if not privileges.may_verify(principal.partner_kind, body.scene):
        raise SceneNotAllowed(principal.partner_kind, body.scene)
    now = utcnow()
    talent = None
    try:
        # The code first (a forged or expired one costs no database read), then the holder's standing now.
        claims = await keyring.verify(database, body.code, now)
        talent = await repo.get_standing_by_pseudonym(database, claims.pseudonym)
        _check_standing(talent, claims, now)
    except CodeRejected as rejected:
        if talent is not None and recorder is not None:
            recorder.record(_scan_entry(talent.talent_id, principal, body.scene, rejected.reason, now))
        return VerifyResult(valid=False, reason=rejected.reason)
    assert talent is not None and talent.certified_until is not None  # _check_standing made sure
    if recorder is not None:
        recorder.record(_scan_entry(talent.talent_id, principal, body.scene, "valid", now))
    scene = privileges.scenes[body.scene]
    return VerifyResult(
        valid=True,
        tier=claims.tier if "tier" in scene.discloses else None,
        privileges=list(scene.privileges_by_tier.get(claims.tier, ())),
        expires_at=claims.expires_at,
        certified_until=talent.certified_until if "certified_until" in scene.discloses else None,
    )


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
