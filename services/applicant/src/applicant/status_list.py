"""The revocation status list for offline verifiers (IETF OAuth Token Status List, draft-ietf-oauth-status-list).

Each talent gets an entry (`idx`) in one list on its first code; every code carries it in its `status` claim,
`{"status_list": {"idx": n, "uri": "<public URL of the list>"}}`. The list is a signed Status List Token: a JWT
(`typ: statuslist+jwt`, ES256 under the talent-code keys, so `kid` resolves in the talent-code JWKS) whose
`status_list` is `{"bits": 1, "lst": base64url(zlib(bitstring))}`, bit `idx` (least significant bit of byte
idx // 8 first) being 1 when the talent's code must be refused: revoked, expired, or no longer certified.

Entries are drawn at random from the list's size, which is at least `status_list_min_bits` and doubles so that
at least half of it stays unassigned: the list's length tells the talent count only to a factor of two, and an
index tells nothing of when its talent registered (sequential ones would: a partner seeing two codes could tell
which talent came first, and count registrations between them). The price: a little more space than a dense
list, still a few hundred bytes compressed; and an entry is kept for good (a talent reinstated keeps its entry).

Served lists are cached per process for `status_list_cache_s` at most, and rebuilt at once after a talent's
status changed in this process (the transition's commit bumps `changes`); a change made by another replica
reaches the list within `status_list_cache_s`, so a revocation is published within a minute either way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import time
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from servicekit.db import Database, utcnow
from sqlalchemy import event, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.clock import local_today
from applicant.codes import CodeKeyRing
from applicant.models import Talent, TalentStatusIndex
from applicant.states import TalentStatus

logger = logging.getLogger("applicant.status_list")

TOKEN_TYPE = "statuslist+jwt"  # noqa: S105  (the JWT "typ" header of a Status List Token, not a secret)
MEDIA_TYPE = "application/statuslist+jwt"
PATH = "/api/v1/codes/status-list"
VALID, INVALID = 0, 1  # the draft's status values for 1-bit lists
_ALLOCATION_ATTEMPTS = 8


class _Changes:
    """How many talent status changes this process has committed: a served list built before the last one is
    stale. A counter, not a flag, so that every cache (one per app in a test run) sees it."""

    def __init__(self) -> None:
        self.count = 0

    def bump(self, _session: Any = None) -> None:
        self.count += 1

    def after_commit(self, session: AsyncSession) -> None:
        """Count the change once the session's transaction commits (not before: a list rebuilt in between
        would read the old status and be served as fresh)."""
        event.listen(session.sync_session, "after_commit", self.bump, once=True)


changes = _Changes()


def list_uri(public_base_url: str) -> str:
    return public_base_url.rstrip("/") + PATH


def list_size(assigned: int, min_bits: int) -> int:
    """The list's length for `assigned` entries: a power of two times the minimum, at least twice `assigned`."""
    size = min_bits
    while size < 2 * assigned:
        size *= 2
    return size


async def entry_of(session: AsyncSession, talent_id: str, min_bits: int) -> int:
    """The talent's index in the list, allocated (at random among the free ones) on its first code."""
    existing = await session.get(TalentStatusIndex, talent_id)
    if existing is not None:
        return existing.idx
    for _ in range(_ALLOCATION_ATTEMPTS):
        assigned = (await session.exec(select(func.count()).select_from(TalentStatusIndex))).one()
        idx = secrets.randbelow(list_size(assigned + 1, min_bits))
        try:
            # A savepoint: a clash (the index taken, or this talent's entry made by a concurrent request) undoes
            # only this insert, not the request's work.
            async with session.begin_nested():
                session.add(TalentStatusIndex(talent_id=talent_id, idx=idx, created_at=utcnow()))
                await session.flush()
            return idx
        except IntegrityError:
            raced = await session.get(TalentStatusIndex, talent_id, populate_existing=True)
            if raced is not None:
                return raced.idx
    raise RuntimeError("no free status-list index after several draws")  # with half the list free: ~1/256


def status_claim(idx: int, uri: str) -> dict[str, Any]:
    """The code's `status` claim."""
    return {"status_list": {"idx": idx, "uri": uri}}


def is_refused(status: str, certified_until: Any, today: Any) -> bool:
    """The bit of one talent: only a certified talent within its validity has a code that may be accepted."""
    return not (status == TalentStatus.CERTIFIED and certified_until is not None and certified_until >= today)


async def bitstring(database: Database, min_bits: int, now: datetime) -> bytes:
    """The list's bytes: bit idx set (least significant bit first in each byte) for every refused talent."""
    query = select(col(TalentStatusIndex.idx), col(Talent.status), col(Talent.certified_until)).join(
        Talent, col(Talent.id) == col(TalentStatusIndex.talent_id)
    )
    async with database.read() as conn:
        rows = (await conn.execute(query)).all()
    size = list_size(len(rows), min_bits)
    size = max(size, max((row[0] + 1 for row in rows), default=0))
    bits = bytearray((size + 7) // 8)
    today = local_today(now)
    for idx, status, certified_until in rows:
        if is_refused(status, certified_until, today):
            bits[idx // 8] |= 1 << (idx % 8)
    return bytes(bits)


def encode(bits: bytes) -> str:
    """`lst`: the bitstring compressed with DEFLATE in the ZLIB format, base64url without padding."""
    return base64.urlsafe_b64encode(zlib.compress(bits, 9)).rstrip(b"=").decode()


def decode(lst: str) -> bytes:
    return zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))


def bit_at(bits: bytes, idx: int) -> int:
    return (bits[idx // 8] >> (idx % 8)) & 1


@dataclass(frozen=True)
class ServedList:
    token: str
    etag: str
    built_at: float  # monotonic
    changes: int


class StatusListCache:
    """The signed list this process serves: rebuilt when older than `cache_s` or after a status change here."""

    def __init__(self, *, uri: str, cache_s: float, ttl_s: int, valid_s: int, min_bits: int) -> None:
        self.uri = uri
        self.cache_s = cache_s
        self.ttl_s = ttl_s
        self.valid_s = valid_s
        self.min_bits = min_bits
        self._served: ServedList | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> ServedList | None:
        served = self._served
        if served is None or served.changes != changes.count or time.monotonic() - served.built_at >= self.cache_s:
            return None
        return served

    async def current(self, database: Database, keyring: CodeKeyRing) -> ServedList:
        served = self._fresh()
        if served is not None:
            return served
        async with self._lock:
            served = self._fresh()  # built by the request this one waited for
            if served is None:
                served = await self._build(database, keyring)
                self._served = served
        return served

    async def _build(self, database: Database, keyring: CodeKeyRing) -> ServedList:
        seen, started = changes.count, time.monotonic()
        now = utcnow()
        bits = await bitstring(database, self.min_bits, now)
        iat = int(now.timestamp())
        claims = {
            "sub": self.uri,
            "iat": iat,
            "exp": iat + self.valid_s,
            "ttl": self.ttl_s,
            "status_list": {"bits": 1, "lst": encode(bits)},
        }
        token = keyring.sign(claims, TOKEN_TYPE)
        etag = '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"'
        logger.info("status list rebuilt: %d bytes signed", len(token))
        # Stamped with the count seen before reading: a change committed during the read makes it stale at once.
        return ServedList(token=token, etag=etag, built_at=started, changes=seen)

    def max_age(self, served: ServedList) -> int:
        """Seconds a client or cache may keep this list: what is left of its time here, never over the ttl."""
        left = self.cache_s - (time.monotonic() - served.built_at)
        return max(0, min(self.ttl_s, int(left)))


def wants_json(request: Request) -> bool:
    """JSON only when asked for it alone or first (`Accept: application/json`); the token itself otherwise."""
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first == "application/json"


def response(request: Request, served: ServedList, max_age: int) -> Response:
    """The token (`application/statuslist+jwt`) or `{"status_list_token": …}`, cacheable for `max_age` seconds,
    304 when the client's ETag still matches."""
    as_json = wants_json(request)
    etag = served.etag[:-1] + ('-j"' if as_json else '"')
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept"}
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    if as_json:
        return JSONResponse({"status_list_token": served.token}, headers=headers)
    return Response(served.token, media_type=MEDIA_TYPE, headers=headers)
