"""Idempotency-Key for creating POSTs: the same key and body replay the first response; another body is 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.auth import Principal
from servicekit.db import UTCDateTime, utcnow
from servicekit.problems import Conflict


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a (caller, key), stored in the same transaction as the change it made."""

    __tablename__ = "idempotency_record"

    principal: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    operation: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe creation: the same key with the same body returns the first response.",
    ),
]


def _fingerprint(operation: str, body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()


async def run_idempotent(
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    *,
    operation: str,
    body: Any,
    create: Callable[[], Awaitable[Any]],
    status_code: int = 201,
) -> Any:
    """Run `create` once per (caller, key); a retry gets the stored response back."""
    if key is None:
        return await create()
    fingerprint = _fingerprint(operation, body)
    record = await session.get(IdempotencyRecord, (principal.sub, key))
    if record is not None:
        if record.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used with a different request.", key="idempotency.key_reused"
            )
        return JSONResponse(
            json.loads(record.response_body), status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
        )
    result = await create()
    # A concurrent first use of the same key fails this insert at commit: a 409, never a double effect.
    session.add(
        IdempotencyRecord(
            principal=principal.sub,
            key=key,
            operation=operation,
            request_hash=fingerprint,
            status_code=status_code,
            response_body=json.dumps(jsonable_encoder(result), ensure_ascii=False),
        )
    )
    return result
