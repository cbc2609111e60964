"""Queries of the applicant tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from servicekit.db import Database
from servicekit.pagination import keyset_after
from sqlalchemy import ColumnElement, bindparam, exists, or_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.models import (
    AccessLogEntry,
    Certification,
    CertificationDecision,
    CertificationEvidence,
    ChangeRequest,
    ChangeRequestEvidence,
    Document,
    FamilyMember,
    Talent,
    TalentProfile,
    TalentStatusIndex,
)
from applicant.states import OPEN_STATUSES, CertificationStatus, ChangeRequestStatus


async def get_talent(session: AsyncSession, talent_id: str) -> Talent | None:
    return await session.get(Talent, talent_id)


async def get_talent_by_pseudonym(session: AsyncSession, pseudonym: str) -> Talent | None:
    return (await session.exec(select(Talent).where(Talent.pseudonym == pseudonym))).first()


@dataclass(frozen=True)
class Standing:
    """What a verify needs to know of a talent now: read fresh for every verify, never cached, so a
    revocation takes effect on the next scan."""

    status: str
    tier: str | None
    certified_until: date | None
    # Whose standing it is: the read log's entry of the verification names the talent by id.
    talent_id: str


# One indexed lookup (the pseudonym is unique) of four columns: built once, compiled once by SQLAlchemy.
_STANDING = core_select(col(Talent.status), col(Talent.tier), col(Talent.certified_until), col(Talent.id)).where(
    col(Talent.pseudonym) == bindparam("pseudonym")
)


async def get_standing_by_pseudonym(database: Database, pseudonym: str) -> Standing | None:
    """The talent's current standing, in one SELECT that takes no write lock, in one round trip (fetch_first)."""
    row = await database.fetch_first(_STANDING, {"pseudonym": pseudonym})
    return None if row is None else Standing(row.status, row.tier, row.certified_until, row.id)


@dataclass(frozen=True)
class CodeStanding:
    """What issuing a code needs to know of a talent now, with its status-list entry (None before its first code)."""

    pseudonym: str
    status: str
    tier: str | None
    certified_until: date | None
    # When the talent's row last changed (a certification, a revocation, a reinstatement…): a code signed for
    # an older row is never handed out again (CodeKeyRing.issue's reuse).
    updated_at: datetime
    status_idx: int | None


_CODE_STANDING = (
    core_select(
        col(Talent.pseudonym),
        col(Talent.status),
        col(Talent.tier),
        col(Talent.certified_until),
        col(Talent.updated_at),
        col(TalentStatusIndex.idx),
    )
    .select_from(Talent)
    .outerjoin(TalentStatusIndex, col(TalentStatusIndex.talent_id) == col(Talent.id))
    .where(col(Talent.id) == bindparam("talent_id"))
)


async def get_code_standing(database: Database, talent_id: str) -> CodeStanding | None:
    """The talent's standing and status-list entry: one indexed SELECT, no write lock, one round trip."""
    row = await database.fetch_first(_CODE_STANDING, {"talent_id": talent_id})
    if row is None:
        return None
    return CodeStanding(row.pseudonym, row.status, row.tier, row.certified_until, row.updated_at, row.idx)


async def has_certification(session: AsyncSession, talent_id: str) -> bool:
    """Whether the talent ever submitted a certification (their identity is locked from then on)."""
    found = await session.exec(select(Certification.id).where(Certification.talent_id == talent_id).limit(1))
    return found.first() is not None


async def get_profile(session: AsyncSession, talent_id: str) -> TalentProfile | None:
    return await session.get(TalentProfile, talent_id)


async def get_profile_by_id_hash(session: AsyncSession, id_number_hash: str) -> TalentProfile | None:
    result = await session.exec(select(TalentProfile).where(TalentProfile.id_number_hash == id_number_hash))
    return result.first()


async def get_profiles(session: AsyncSession, talent_ids: Sequence[str]) -> dict[str, TalentProfile]:
    if not talent_ids:
        return {}
    rows = await session.exec(select(TalentProfile).where(col(TalentProfile.talent_id).in_(list(talent_ids))))
    return {p.talent_id: p for p in rows.all()}


async def list_family(session: AsyncSession, talent_id: str) -> list[FamilyMember]:
    query = select(FamilyMember).where(FamilyMember.talent_id == talent_id).order_by(col(FamilyMember.created_at))
    return list((await session.exec(query)).all())


async def get_family_member(session: AsyncSession, member_id: str) -> FamilyMember | None:
    return await session.get(FamilyMember, member_id)


async def get_certification(session: AsyncSession, certification_id: str) -> Certification | None:
    return await session.get(Certification, certification_id)


async def open_certification_of(session: AsyncSession, talent_id: str) -> Certification | None:
    query = select(Certification).where(
        Certification.talent_id == talent_id, col(Certification.status).in_(OPEN_STATUSES)
    )
    return (await session.exec(query)).first()


async def list_certifications_of(
    session: AsyncSession, talent_id: str, *, limit: int, before: list[Any] | None
) -> list[Certification]:
    """The talent's certifications, newest first (keyset: `before` is the (submitted_at, id) of the last one shown)."""
    query = select(Certification).where(Certification.talent_id == talent_id)
    if before is not None:
        query = query.where(_before(before))
    query = query.order_by(col(Certification.submitted_at).desc(), col(Certification.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def list_for_review(
    session: AsyncSession,
    *,
    statuses: Sequence[CertificationStatus],
    region_code: str | None,
    limit: int,
    after: list[Any] | None,
    not_decided_by: tuple[str, str] | None = None,
    escalated_only: bool = False,
) -> list[Certification]:
    """Certifications in these states (of one region when given), oldest first: first come, first reviewed
    (keyset: `after` is the (submitted_at, id) of the last one shown).

    `not_decided_by=(officer, stage)` leaves out what that officer may not decide now: certifications they
    already decided in the current round, or at another stage (one officer, one stage). `escalated_only` keeps
    the certifications escalated at the stage they wait in (its deadline passed).
    """
    query = select(Certification).where(col(Certification.status).in_(list(statuses)))
    if escalated_only:
        query = query.where(col(Certification.escalated_at).is_not(None))
    if region_code is not None:
        query = query.where(Certification.region_code == region_code)
    if not_decided_by is not None:
        officer, stage = not_decided_by
        query = query.where(
            ~exists().where(
                col(CertificationDecision.certification_id) == col(Certification.id),
                col(CertificationDecision.decided_by) == officer,
                or_(
                    col(CertificationDecision.round) == col(Certification.round),
                    col(CertificationDecision.stage) != stage,
                ),
            )
        )
    if after is not None:
        moment, last_id = after
        query = query.where(
            (col(Certification.submitted_at) > moment)
            | ((col(Certification.submitted_at) == moment) & (col(Certification.id) > last_id))
        )
    query = query.order_by(col(Certification.submitted_at), col(Certification.id)).limit(limit)
    return list((await session.exec(query)).all())


def _before(position: list[Any]) -> ColumnElement[bool]:
    moment: datetime = position[0]
    last_id: str = position[1]
    return (col(Certification.submitted_at) < moment) | (
        (col(Certification.submitted_at) == moment) & (col(Certification.id) < last_id)
    )


async def evidence_of(session: AsyncSession, certification_ids: Sequence[str]) -> list[CertificationEvidence]:
    if not certification_ids:
        return []
    query = (
        select(CertificationEvidence)
        .where(col(CertificationEvidence.certification_id).in_(list(certification_ids)))
        .order_by(col(CertificationEvidence.id))
    )
    return list((await session.exec(query)).all())


async def decisions_of(session: AsyncSession, certification_ids: Sequence[str]) -> list[CertificationDecision]:
    if not certification_ids:
        return []
    query = (
        select(CertificationDecision)
        .where(col(CertificationDecision.certification_id).in_(list(certification_ids)))
        .order_by(col(CertificationDecision.id))
    )
    return list((await session.exec(query)).all())


# --- the read log ----------------------------------------------------------------------------------------


async def list_access_log(
    session: AsyncSession,
    *,
    limit: int,
    before: list[Any] | None,
    talent_id: str | None = None,
    actor: str | None = None,
    actor_kind: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AccessLogEntry]:
    """Read-log entries, newest first, matching every filter given (keyset: `before` is the (at, id) of the
    last one shown). One talent's entries, or one actor's, come from their own index."""
    query = select(AccessLogEntry)
    if talent_id is not None:
        query = query.where(AccessLogEntry.talent_id == talent_id)
    if actor is not None:
        query = query.where(AccessLogEntry.actor == actor)
    if actor_kind is not None:
        query = query.where(AccessLogEntry.actor_kind == actor_kind)
    if action is not None:
        query = query.where(AccessLogEntry.action == action)
    if since is not None:
        query = query.where(col(AccessLogEntry.at) >= since)
    if until is not None:
        query = query.where(col(AccessLogEntry.at) < until)
    if before is not None:
        query = query.where(keyset_after((col(AccessLogEntry.at), col(AccessLogEntry.id)), before, descending=True))
    query = query.order_by(col(AccessLogEntry.at).desc(), col(AccessLogEntry.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


# --- documents ---


async def get_document(session: AsyncSession, document_id: str) -> Document | None:
    return await session.get(Document, document_id)


async def documents_of(session: AsyncSession, talent_id: str, document_ids: Sequence[str]) -> list[Document]:
    """The talent's own documents among these ids."""
    if not document_ids:
        return []
    query = select(Document).where(Document.talent_id == talent_id, col(Document.id).in_(list(document_ids)))
    return list((await session.exec(query)).all())


async def documents_by_id(session: AsyncSession, document_ids: Sequence[str]) -> dict[str, Document]:
    if not document_ids:
        return {}
    rows = await session.exec(select(Document).where(col(Document.id).in_(list(document_ids))))
    return {d.id: d for d in rows.all()}


async def list_documents_of(
    session: AsyncSession, talent_id: str, *, limit: int, after: list[Any] | None
) -> list[Document]:
    """The talent's documents, newest first (keyset: `after` is the (created_at, id) of the last one shown)."""
    query = select(Document).where(Document.talent_id == talent_id)
    if after is not None:
        query = query.where(keyset_after((col(Document.created_at), col(Document.id)), after, descending=True))
    query = query.order_by(col(Document.created_at).desc(), col(Document.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def certifications_citing(session: AsyncSession, document_id: str) -> list[Certification]:
    """The certifications whose evidence (of any round) cites the document."""
    cited = select(CertificationEvidence.certification_id).where(CertificationEvidence.document_id == document_id)
    query = select(Certification).where(col(Certification.id).in_(cited)).order_by(col(Certification.submitted_at))
    return list((await session.exec(query)).all())


async def submitted_change_requests_citing(session: AsyncSession, document_id: str) -> list[ChangeRequest]:
    """The change requests still waiting for a decision that cite the document."""
    cited = select(ChangeRequestEvidence.change_request_id).where(ChangeRequestEvidence.document_id == document_id)
    query = select(ChangeRequest).where(
        col(ChangeRequest.id).in_(cited), ChangeRequest.status == ChangeRequestStatus.SUBMITTED
    )
    return list((await session.exec(query)).all())


async def detach_document(session: AsyncSession, document_id: str) -> None:
    """Decided certifications keep the evidence's reference and hash of a deleted document, not its id."""
    await session.exec(
        update(CertificationEvidence)
        .where(col(CertificationEvidence.document_id) == document_id)
        .values(document_id=None)
    )
