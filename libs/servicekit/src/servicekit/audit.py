"""The append-only, hash-chained audit log: who did what, when, why, before → after.

Each entry's hash covers its content and the previous entry's hash, so changing or deleting any
entry breaks every hash after it, which `verify_chain` finds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Integer, Table, Text, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.auth import Principal, require_roles
from servicekit.bulk import queue_insert, send_queued
from servicekit.context import current_request_id
from servicekit.db import SessionDep, UTCDateTime, utcnow
from servicekit.pagination import Page, PageDep, cursor_int, keyset_page

GENESIS = "0" * 64
_AUDIT_LOCK_KEY = 0x7A1E_A0D1
# session.info key: (root transaction, hash of the last entry it appended), to chain without a query.
_TIP = "servicekit.audit.tip"
_SeqId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(SQLModel, table=True):
    """One decision or officer action; never updated, never deleted."""

    __tablename__ = "audit_log"

    seq: int | None = Field(default=None, sa_column=Column(_SeqId, primary_key=True, autoincrement=True))
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    actor_roles: str = Field(max_length=200)
    action: str = Field(max_length=80, index=True)
    subject_type: str = Field(max_length=40)
    subject_id: str = Field(max_length=64, index=True)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str | None = Field(default=None, max_length=2000)
    request_id: str | None = Field(default=None, max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


def _canonical(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(jsonable_encoder(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_HASHED = ("actor", "actor_roles", "action", "subject_type", "subject_id", "before", "after", "reason", "request_id")


def _hash_of(prev_hash: str, occurred_at: datetime, fields: Mapping[str, Any]) -> str:
    content = {"occurred_at": occurred_at.isoformat(), **{name: fields[name] for name in _HASHED}}
    payload = prev_hash + json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _entry_hash(entry: AuditEntry) -> str:
    return _hash_of(entry.prev_hash, entry.occurred_at, {name: getattr(entry, name) for name in _HASHED})


async def record(
    session: AsyncSession,
    actor: Principal | str,
    action: str,
    *,
    subject_type: str,
    subject_id: str,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> None:
    """Append an entry to the chain, inside the caller's transaction (sent with its other queued rows)."""
    sync = session.sync_session
    root, nested = sync.get_transaction(), sync.get_nested_transaction()
    tip: tuple[Any, str] | None = session.info.get(_TIP)
    if tip is not None and nested is None and root is not None and tip[0] is root:
        # The chain's end as this transaction left it: the lock taken below (PostgreSQL) or SQLite's single
        # writer is held until the transaction ends, so nobody else can have appended since.
        last: str | None = tip[1]
    else:
        if session.get_bind().dialect.name == "postgresql":
            # Appends are serialised so two transactions never chain onto the same predecessor.
            await session.exec(select(func.pg_advisory_xact_lock(_AUDIT_LOCK_KEY)))
        last = (await session.exec(select(AuditEntry.hash).order_by(col(AuditEntry.seq).desc()).limit(1))).first()
        root, nested = sync.get_transaction(), sync.get_nested_transaction()  # the query may have begun it
    occurred_at = utcnow()
    row: dict[str, Any] = {
        "occurred_at": occurred_at,
        "actor": actor.sub if isinstance(actor, Principal) else actor,
        "actor_roles": ",".join(sorted(actor.roles)) if isinstance(actor, Principal) else "system",
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "before": _canonical(before),
        "after": _canonical(after),
        "reason": reason,
        "request_id": current_request_id(),
        "prev_hash": last or GENESIS,
    }
    row["hash"] = _hash_of(row["prev_hash"], occurred_at, row)
    # Queued rows of a table are inserted in the order queued, so `seq` follows the chain (servicekit.bulk).
    queue_insert(session, _AUDIT_TABLE, row)
    if nested is None and root is not None:
        session.info[_TIP] = (root, row["hash"])
    else:
        # Inside a savepoint the tip is not remembered (a rollback to it would leave a tip never stored).
        session.info.pop(_TIP, None)
        await session.run_sync(send_queued)


_AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[attr-defined]


class ChainVerification(BaseModel):
    valid: bool
    entries: int
    first_broken_seq: int | None = None


async def verify_chain(session: AsyncSession) -> ChainVerification:
    """Recompute every hash in order; report the first entry that does not match."""
    previous = GENESIS
    count = 0
    result = await session.stream(select(AuditEntry).order_by(col(AuditEntry.seq)))
    async for (entry,) in result:
        count += 1
        if entry.prev_hash != previous or _entry_hash(entry) != entry.hash:
            return ChainVerification(valid=False, entries=count, first_broken_seq=entry.seq)
        previous = entry.hash
    return ChainVerification(valid=True, entries=count)


class AuditEntryPublic(BaseModel):
    seq: int
    occurred_at: datetime
    actor: str
    actor_roles: str
    action: str
    subject_type: str
    subject_id: str
    before: Any = None
    after: Any = None
    reason: str | None
    request_id: str | None
    prev_hash: str
    hash: str


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic(
        seq=entry.seq or 0,
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        actor_roles=entry.actor_roles,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        before=json.loads(entry.before) if entry.before else None,
        after=json.loads(entry.after) if entry.after else None,
        reason=entry.reason,
        request_id=entry.request_id,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


# Module level: with postponed annotations FastAPI resolves the alias from the module's globals.
Auditor = Annotated[Principal, Depends(require_roles("auditor"))]


def audit_router(service: str) -> APIRouter:
    """`GET /api/v1/audit/<service>` and `…/verify`, for auditors only (admins act; they do not audit themselves)."""
    router = APIRouter(prefix=f"/api/v1/audit/{service}", tags=["audit"])

    @router.get("", response_model=Page[AuditEntryPublic])
    async def list_audit(
        session: SessionDep,
        _: Auditor,
        page: PageDep,
        subject_id: Annotated[str | None, Query(max_length=64)] = None,
        action: Annotated[str | None, Query(max_length=80)] = None,
    ) -> Page[AuditEntryPublic]:
        """The audit log, newest first, optionally for one subject or action."""
        query = select(AuditEntry)
        if subject_id:
            query = query.where(AuditEntry.subject_id == subject_id)
        if action:
            query = query.where(AuditEntry.action == action)
        after = page.position(cursor_int)
        if after:
            query = query.where(col(AuditEntry.seq) < after[0])
        rows = list((await session.exec(query.order_by(col(AuditEntry.seq).desc()).limit(page.limit + 1))).all())
        found = keyset_page(rows, page.limit, lambda row: [row.seq])
        return Page(items=[_public(r) for r in found.items], next_cursor=found.next_cursor)

    @router.get("/verify", response_model=ChainVerification)
    async def verify(session: SessionDep, _: Auditor) -> ChainVerification:
        """Recompute the hash chain and say whether any entry was changed or removed."""
        return await verify_chain(session)

    return router
