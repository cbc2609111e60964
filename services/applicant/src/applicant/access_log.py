"""The read log (访问记录): who outside the talent read their personal data or documents, and which partner
verified their code.

Officials' and employers' reads are recorded in the reader's own transaction (`record_official_read`,
`record_reads`): the entry commits with the request that showed the data, or not at all. Partners' code
verifications are a pure read (no unit of work, see verification.py); they hand their entries to the
process's `ScanRecorder` (applicant.scan_log), which writes them in batches in a transaction of its own.

What counts as a read is in docs/domain.md ("The read log").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field
from servicekit.auth import Principal
from servicekit.bulk import queue_insert
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_time, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import repository as repo
from applicant.models import AccessLogEntry
from applicant.schemas import AccessLogAuditEntry, AccessLogEntryPublic

TABLE = AccessLogEntry.__table__  # type: ignore[attr-defined]

# What was read (the entry's action).
CERTIFICATION_READ = "certification.read"  # an official opened a certification: the applicant's summary
CERTIFICATION_LIST = "certification.list"  # the talent was on a page of a review queue (name, birth date, ...)
CERTIFICATION_DECIDE = "certification.decide"  # the answer to an official's decision shows the summary again
DOCUMENT_READ = "document.read"  # an official opened one of the talent's documents
CHANGE_REQUEST_READ = "change_request.read"  # an official opened a change request of the talent
CODE_VERIFY = "code.verify"  # a partner verified the talent's code (scene, result)


class ActorKind(StrEnum):
    OFFICIAL = "official"
    PARTNER = "partner"
    EMPLOYER = "employer"


# The roles an official reads in, most specific first: the one named in the log when a token carries several.
OFFICIAL_ROLES = ("county_reviewer", "city_approver", "finance_officer", "housing_officer", "auditor", "admin")


def official_role(principal: Principal) -> str:
    """The role in which an official read (the first of OFFICIAL_ROLES they hold; else their first role)."""
    for role in OFFICIAL_ROLES:
        if role in principal.roles:
            return role
    return min(principal.roles, default="official")


def entry_values(
    talent_id: str,
    *,
    actor_kind: ActorKind,
    actor: str,
    actor_role: str,
    action: str,
    actor_region: str | None = None,
    scene: str | None = None,
    result: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One row of talent_access_log, every column named (so rows of a batch share one INSERT)."""
    return {
        "talent_id": talent_id,
        "at": at or utcnow(),
        "actor_kind": str(actor_kind),
        "actor": actor[:64],
        "actor_role": actor_role[:40],
        "actor_region": actor_region,
        "action": action,
        "scene": scene,
        "result": result,
    }


def record_reads(
    session: AsyncSession,
    talent_ids: Iterable[str],
    *,
    actor_kind: ActorKind,
    actor: str,
    actor_role: str,
    action: str,
    actor_region: str | None = None,
    scene: str | None = None,
) -> None:
    """One entry per talent (each once, however often it appears), written with the caller's transaction as
    one multi-row INSERT (servicekit.bulk): a list of 50 talents is one statement, not 50."""
    at = utcnow()
    for talent_id in dict.fromkeys(talent_ids):
        queue_insert(
            session,
            TABLE,
            entry_values(
                talent_id,
                actor_kind=actor_kind,
                actor=actor,
                actor_role=actor_role,
                actor_region=actor_region,
                action=action,
                scene=scene,
                at=at,
            ),
        )


def record_official_reads(session: AsyncSession, principal: Principal, talent_ids: Sequence[str], action: str) -> None:
    """An official saw these talents' personal data (a queue page: one entry per talent shown)."""
    record_reads(
        session,
        talent_ids,
        actor_kind=ActorKind.OFFICIAL,
        actor=principal.sub,
        actor_role=official_role(principal),
        actor_region=principal.region,
        action=action,
    )


async def record_official_read(session: AsyncSession, principal: Principal, talent_id: str, action: str) -> None:
    """An official read one talent's personal data or documents (`action`: "certification.read",
    "document.read", "change_request.read", ...): an entry in the caller's transaction, committed with it."""
    record_official_reads(session, principal, [talent_id], action)


async def record_employer_read(
    session: AsyncSession, principal: Principal, talent_ids: Sequence[str], action: str, employer: str
) -> None:
    """An employer's user read their staff's data; `employer` names the employer (its credit code), never a person."""
    record_reads(
        session, talent_ids, actor_kind=ActorKind.EMPLOYER, actor=principal.sub, actor_role=employer, action=action
    )


# --- reading the log -------------------------------------------------------------------------------------

_LARGEST_ID = 2**63 - 1


def cursor_id(value: Any) -> int:
    """The read log's BIGINT id in a cursor (servicekit's cursor_int stops at an INTEGER's range)."""
    if type(value) is not int or not 0 <= value <= _LARGEST_ID:
        raise ValueError("not a position of this list")
    return value


def _position(entry: AccessLogEntry) -> list[Any]:
    return [entry.at.isoformat(), entry.id]


def render_actor(entry: AccessLogEntry) -> str:
    """Who read, as the talent sees it: the role (and an official's region) and the account, never a name:
    "county_reviewer 330402 (official-7)", "hospital (partner.hospital)"."""
    role = f"{entry.actor_role} {entry.actor_region}" if entry.actor_region else entry.actor_role
    return f"{role} ({entry.actor})"


def _public(entry: AccessLogEntry) -> AccessLogEntryPublic:
    return AccessLogEntryPublic(
        at=entry.at,
        actor_kind=entry.actor_kind,  # one of ActorKind, as written
        actor=render_actor(entry),
        action=entry.action,
        scene=entry.scene,
        result=entry.result,
    )


def _audit(entry: AccessLogEntry) -> AccessLogAuditEntry:
    assert entry.id is not None
    return AccessLogAuditEntry(
        **_public(entry).model_dump(),
        id=entry.id,
        talent_id=entry.talent_id,
        actor_id=entry.actor,
        actor_role=entry.actor_role,
        actor_region=entry.actor_region,
    )


async def list_mine(session: AsyncSession, talent_id: str, page: PageParams) -> Page[AccessLogEntryPublic]:
    """The talent's own read log, newest first."""
    rows = await repo.list_access_log(
        session, talent_id=talent_id, limit=page.limit + 1, before=page.position(cursor_time, cursor_id)
    )
    found = keyset_page(rows, page.limit, _position)
    return Page(items=[_public(entry) for entry in found.items], next_cursor=found.next_cursor)


class AccessLogFilter(BaseModel):
    """What auditors may filter the read log by (every filter given must match)."""

    talent_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64, description="the account or partner client id")
    actor_kind: ActorKind | None = None
    action: str | None = Field(default=None, max_length=40)
    since: AwareDatetime | None = Field(default=None, description="entries at or after this time")
    until: AwareDatetime | None = Field(default=None, description="entries before this time")


async def search(session: AsyncSession, where: AccessLogFilter, page: PageParams) -> Page[AccessLogAuditEntry]:
    """Auditors' view across talents, newest first."""
    rows = await repo.list_access_log(
        session,
        limit=page.limit + 1,
        before=page.position(cursor_time, cursor_id),
        talent_id=where.talent_id,
        actor=where.actor,
        actor_kind=where.actor_kind,
        action=where.action,
        since=where.since,
        until=where.until,
    )
    found = keyset_page(rows, page.limit, _position)
    return Page(items=[_audit(entry) for entry in found.items], next_cursor=found.next_cursor)
