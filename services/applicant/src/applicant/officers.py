"""The named officer of a certification (首问负责制): the first reviewer who opens or decides it owns it.

The talent sees the owner's display name and office phone on the certification, so someone answers for
every case. Who the official is comes from their access token (the gateway carries `name` and `office_phone`
for officials). A city approver may hand a certification to another official; the body names the new owner
as their token would, since the services keep no directory of officials. A reassignment is audited; taking
an unowned case is not (the case row names its owner, and the decisions are audited themselves).
"""

from __future__ import annotations

from contracts import CertificationOfficerAssigned
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import repository as repo
from applicant.events import outbox
from applicant.exceptions import CertificationNotFound
from applicant.models import Certification
from applicant.schemas import OfficerAssign, OfficerPublic
from applicant.states import CITY_APPROVER, COUNTY_REVIEWER

OWNING_ROLES = (COUNTY_REVIEWER, CITY_APPROVER)


def _owner(certification: Certification) -> dict[str, str | None]:
    return {
        "officer_id": certification.officer_id,
        "display_name": certification.officer_name,
        "office_phone": certification.officer_phone,
    }


async def take_if_unowned(session: AsyncSession, principal: Principal, certification: Certification) -> None:
    """The first reviewer who opens or decides the certification becomes its owner (once; later ones do not)."""
    if certification.officer_id is not None or not principal.has_any(OWNING_ROLES):
        return
    certification.officer_id = principal.sub
    certification.officer_name = principal.claims.get("name")
    certification.officer_phone = principal.claims.get("office_phone")
    _announce(session, certification)
    await session.flush()


async def reassign(
    session: AsyncSession, principal: Principal, certification_id: str, body: OfficerAssign
) -> Certification:
    """A city approver (who sees every region) hands the certification to another official, audited."""
    certification = await repo.get_certification(session, certification_id)
    if certification is None:
        raise CertificationNotFound(certification_id)
    before = _owner(certification)
    certification.officer_id = body.officer_id
    certification.officer_name = body.display_name
    certification.officer_phone = body.office_phone or None
    await audit.record(
        session,
        principal,
        "certification.officer_reassigned",
        subject_type="certification",
        subject_id=certification.id,
        before=before,
        after=_owner(certification),
    )
    _announce(session, certification)
    await session.flush()
    return certification


def _announce(session: AsyncSession, certification: Certification) -> None:
    """Tell notify whose queue the certification is in now (the officials' inbox: deadlines near, digest)."""
    assert certification.officer_id is not None
    outbox.emit(
        session,
        CertificationOfficerAssigned(
            certification_id=certification.id,
            officer_id=certification.officer_id,
            status=certification.status,
            stage_due_at=certification.stage_due_at,
            assigned_at=utcnow(),
        ),
        subject=certification.talent_id,
    )


def officer_of(certification: Certification) -> OfficerPublic | None:
    """What the talent sees of the owner: a name and an office number, never the official's account id."""
    if certification.officer_id is None:
        return None
    return OfficerPublic(display_name=certification.officer_name, office_phone=certification.officer_phone)
