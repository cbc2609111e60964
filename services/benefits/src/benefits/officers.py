"""The named officer of a claim (首问负责制): the first reviewing official who opens or decides it owns it.

The talent sees the owner's display name and office phone on the claim, so someone answers for every case.
Who the official is comes from their access token (the gateway carries `name` and `office_phone` for
officials), so the service records them without calling the gateway. A city approver may hand a claim to
another official; the body names the new owner as their token would, since the services keep no directory
of officials. A reassignment is audited; taking an unowned case is not (the case row names its
owner, and the decisions are audited themselves).
"""

from __future__ import annotations

from contracts import ClaimOfficerAssigned
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits import review
from benefits.events import outbox
from benefits.models import Claim
from benefits.schemas import OfficerAssign, OfficerPublic
from benefits.states import CITY_APPROVER, COUNTY_REVIEWER

# The roles that work a claim: auditors, administrators and finance read or pay it without owning it.
OWNING_ROLES = (COUNTY_REVIEWER, CITY_APPROVER)


def _owner(claim: Claim) -> dict[str, str | None]:
    return {"officer_id": claim.officer_id, "display_name": claim.officer_name, "office_phone": claim.officer_phone}


async def take_if_unowned(session: AsyncSession, principal: Principal, claim: Claim) -> None:
    """The first reviewing official who opens or decides the claim becomes its owner (once; later ones do not)."""
    if claim.officer_id is not None or not principal.has_any(OWNING_ROLES):
        return
    claim.officer_id = principal.sub
    claim.officer_name = principal.claims.get("name")
    claim.officer_phone = principal.claims.get("office_phone")
    _announce(session, claim)
    await session.flush()


async def open_case(session: AsyncSession, principal: Principal, claim_id: str) -> Claim:
    """An official opens a claim (county: own region only); a reviewer opening it first becomes its owner."""
    # Locked only when the caller may take it, so two reviewers opening it at once leave one owner.
    claim = await review.visible_claim(session, principal, claim_id, lock=principal.has_any(OWNING_ROLES))
    await take_if_unowned(session, principal, claim)
    return claim


async def reassign(session: AsyncSession, principal: Principal, claim_id: str, body: OfficerAssign) -> Claim:
    """A city approver hands the claim to another official (audited, with the owner before and after)."""
    claim = await review.visible_claim(session, principal, claim_id, lock=True)
    before = _owner(claim)
    claim.officer_id = body.officer_id
    claim.officer_name = body.display_name
    claim.officer_phone = body.office_phone or None
    await audit.record(
        session,
        principal,
        "claim.officer_reassigned",
        subject_type="claim",
        subject_id=claim.id,
        before=before,
        after=_owner(claim),
    )
    _announce(session, claim)
    await session.flush()
    return claim


def _announce(session: AsyncSession, claim: Claim) -> None:
    """Tell notify whose queue the claim is in now (the officials' inbox: deadlines near, daily digest)."""
    assert claim.officer_id is not None
    outbox.emit(
        session,
        ClaimOfficerAssigned(
            claim_id=claim.id,
            officer_id=claim.officer_id,
            status=claim.status,
            stage_due_at=claim.stage_due_at,
            assigned_at=utcnow(),
        ),
        subject=claim.talent_id,
    )


def officer_of(claim: Claim) -> OfficerPublic | None:
    """What the talent sees of the owner: a name and an office number, never the official's account id."""
    if claim.officer_id is None:
        return None
    return OfficerPublic(display_name=claim.officer_name, office_phone=claim.officer_phone)
