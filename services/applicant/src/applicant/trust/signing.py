"""The trust-list signing keys (ES256, used for nothing else, private halves sealed like the code keys) and the
signed trust list: a compact JWS whose payload is {"iss": our city, "iat", "version", "items"}."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from jose import jwk, jws
from servicekit.crypto import FieldCipher
from servicekit.db import utcnow
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.codes import sealed_key_pair
from applicant.trust.models import TrustListKey

logger = logging.getLogger("applicant.trust")

ALGORITHM = "ES256"
TOKEN_TYPE = "trust-list+jwt"  # noqa: S105  (the JWS "typ" header, not a secret)


def new_trust_key(sealer: FieldCipher, now: datetime) -> TrustListKey:
    """A fresh P-256 key pair for the trust list; the private half sealed before it is stored."""
    kid = f"tl-{now:%Y%m%d}-{secrets.token_hex(4)}"
    sealed, public = sealed_key_pair(sealer, kid)
    return TrustListKey(
        kid=kid, private_key_sealed=sealed, public_jwk=json.dumps(public, sort_keys=True), created_at=now
    )


async def live_keys(session: AsyncSession, sealer: FieldCipher) -> Sequence[TrustListKey]:
    """The published keys, oldest first; the first signing key is created here when there is none."""
    now = utcnow()
    query = (
        select(TrustListKey)
        .where(col(TrustListKey.retires_at).is_(None) | (col(TrustListKey.retires_at) > now))
        .order_by(col(TrustListKey.created_at))
    )
    rows = list((await session.exec(query)).all())
    if not any(row.retires_at is None for row in rows):
        rows.append(new_trust_key(sealer, now))
        session.add(rows[-1])
        await session.flush()
        logger.info("created the first trust-list key kid=%s", rows[-1].kid)
    return rows


async def rotate_trust_keys(session: AsyncSession, sealer: FieldCipher, retire_after: timedelta) -> TrustListKey:
    """A new signing key; the ones it replaces stay published for `retire_after` (lists they signed still verify)."""
    now = utcnow()
    for key in (await session.exec(select(TrustListKey).where(col(TrustListKey.retires_at).is_(None)))).all():
        key.retires_at = now + retire_after
        session.add(key)
    key = new_trust_key(sealer, now)
    session.add(key)
    await session.flush()
    logger.info("rotated trust-list keys: new kid=%s", key.kid)
    return key


def jwks(rows: Sequence[TrustListKey]) -> dict[str, Any]:
    return {"keys": [json.loads(row.public_jwk) for row in rows]}


def list_version(items: Sequence[dict[str, Any]]) -> str:
    """The list's version: a digest of its content, so a verifier sees at once whether two lists differ."""
    canonical = json.dumps(list(items), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def sign_list(rows: Sequence[TrustListKey], sealer: FieldCipher, city: str, items: list[dict[str, Any]]) -> str:
    """The compact JWS of the list, signed by the newest signing key."""
    signing = [row for row in rows if row.retires_at is None][-1]
    private = jwk.construct(sealer.decrypt(signing.private_key_sealed), ALGORITHM)
    payload = {"iss": city, "iat": int(utcnow().timestamp()), "version": list_version(items), "items": items}
    token: str = jws.sign(payload, private, headers={"kid": signing.kid, "typ": TOKEN_TYPE}, algorithm=ALGORITHM)
    return token
