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

from servicekit.auth import Principal
from servicekit.bulk import queue_insert
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.models import AccessLogEntry

TABLE = AccessLogEntry.__table__  # type: ignore[attr-defined]


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
