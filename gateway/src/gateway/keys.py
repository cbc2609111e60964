"""Access-token signing keys (persisted, sealed, rotated) and the JWKS that publishes them."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from jose.backends.base import Key
from servicekit.db import utcnow
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.crypto import Sealer, SealError
from gateway.exceptions import NoSigningKeyError
from gateway.models import SigningKey

logger = logging.getLogger("gateway.keys")

ALGORITHM = "ES256"
ACCESS_KEY_USE = "sig"
# Talent-code keys are signature keys too (RFC 7517 knows only "sig" and "enc"), so standard JWKS clients use
# them unmodified. They are kept apart from the access-token keys by living in their own document
# (/.well-known/talent-code/jwks.json): a verifier of access tokens never sees a code key, and vice versa.
CODE_KEY_USE = "sig"
# The members a published EC public key keeps; anything else the applicant stores (private parts, its own marks)
# stays out of the public document.
PUBLIC_JWK_MEMBERS = frozenset({"kty", "crv", "x", "y", "kid", "use", "alg", "key_ops"})


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private: Key
    public_jwk: dict[str, Any]
    created_at: datetime
    retires_at: datetime | None


def new_signing_key(sealer: Sealer, now: datetime | None = None) -> SigningKey:
    """Generate a P-256 key pair; the private half is sealed with the key-encryption key."""
    now = now or utcnow()
    kid = f"gw-{now:%Y%m%d}-{secrets.token_hex(4)}"
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public: dict[str, Any] = jwk.construct(public_pem, ALGORITHM).to_dict()
    public.update({"kid": kid, "use": ACCESS_KEY_USE, "alg": ALGORITHM})
    return SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        private_key_sealed=sealer.seal(pem, associated=kid),
        public_jwk=json.dumps(public, sort_keys=True),
        created_at=now,
    )


async def published_keys(session: AsyncSession, now: datetime) -> Sequence[SigningKey]:
    statement = (
        select(SigningKey)
        .where((col(SigningKey.retires_at).is_(None)) | (col(SigningKey.retires_at) > now))
        .order_by(col(SigningKey.created_at))
    )
    return (await session.exec(statement)).all()


async def ensure_signing_key(session: AsyncSession, sealer: Sealer) -> SigningKey | None:
    """Create the first key when none is live; returns the new key, or None when one exists."""
    now = utcnow()
    statement = select(SigningKey).where(col(SigningKey.retires_at).is_(None)).limit(1)
    if (await session.exec(statement)).first() is not None:
        return None
    key = new_signing_key(sealer, now)
    session.add(key)
    await session.flush()
    logger.info("created the first signing key kid=%s", key.kid)
    return key


async def rotate_signing_keys(session: AsyncSession, sealer: Sealer, retire_after: timedelta) -> SigningKey:
    """Add a new active key; the keys it replaces stay published for `retire_after`, then retire."""
    now = utcnow()
    current = (await session.exec(select(SigningKey).where(col(SigningKey.retires_at).is_(None)))).all()
    for key in current:
        key.retires_at = now + retire_after
        session.add(key)
    new_key = new_signing_key(sealer, now)
    session.add(new_key)
    await session.flush()
    logger.info(
        "rotated signing keys: new kid=%s, %d key(s) retire at %s", new_key.kid, len(current), now + retire_after
    )
    return new_key


class KeyRing:
    """The live signing keys in memory; jose key objects are built once per key, not per request."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self._keys: dict[str, LoadedKey] = {}

    def load(self, rows: Sequence[SigningKey]) -> None:
        keys: dict[str, LoadedKey] = {}
        for row in rows:
            known = self._keys.get(row.kid)
            if known is not None and known.retires_at == row.retires_at:
                keys[row.kid] = known
                continue
            try:
                pem = self._sealer.open(row.private_key_sealed, associated=row.kid)
            except SealError as exc:
                raise SealError(
                    f"signing key {row.kid} cannot be opened with GATEWAY_KEY_ENCRYPTION_KEY; "
                    "set the key it was sealed with, or retire it"
                ) from exc
            keys[row.kid] = LoadedKey(
                kid=row.kid,
                private=jwk.construct(pem.decode(), ALGORITHM),
                public_jwk=json.loads(row.public_jwk),
                created_at=row.created_at,
                retires_at=row.retires_at,
            )
        self._keys = keys

    async def reload(self, session: AsyncSession) -> None:
        self.load(await published_keys(session, utcnow()))

    @property
    def active(self) -> LoadedKey:
        """The newest key that is not retiring signs new tokens."""
        candidates = [k for k in self._keys.values() if k.retires_at is None]
        if not candidates:
            candidates = [k for k in self._keys.values() if k.retires_at and k.retires_at > utcnow()]
        if not candidates:
            raise NoSigningKeyError("no signing key is loaded; run `gateway rotate-keys` or restart the gateway")
        return max(candidates, key=lambda k: k.created_at)

    def jwks(self) -> dict[str, Any]:
        now = utcnow()
        return {
            "keys": [
                dict(k.public_jwk)
                for k in sorted(self._keys.values(), key=lambda k: k.created_at, reverse=True)
                if k.retires_at is None or k.retires_at > now
            ]
        }

    @property
    def kids(self) -> list[str]:
        return [k["kid"] for k in self.jwks()["keys"]]


class CodeKeySource:
    """The applicant service's talent-code public keys, fetched lazily and cached; absence is tolerated."""

    def __init__(self, client: httpx.AsyncClient, url: str, cache_s: float) -> None:
        self._client = client
        self.url = url
        self.cache_s = cache_s
        self._keys: list[dict[str, Any]] = []
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def keys(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._fetched_at < self.cache_s:
            return self._keys
        async with self._lock:
            if time.monotonic() - self._fetched_at >= self.cache_s:
                await self._fetch()
        return self._keys

    async def _fetch(self) -> None:
        try:
            response = await self._client.get(self.url, timeout=2.0)
            if response.status_code == 404:
                self._keys = []  # the applicant service publishes no code keys (yet)
            else:
                response.raise_for_status()
                self._keys = [_as_code_key(k) for k in response.json().get("keys", []) if isinstance(k, dict)]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            # Keep the last known keys; a talent code must stay verifiable while applicant restarts.
            logger.warning("talent-code keys unavailable from applicant: %s", type(exc).__name__)
        self._fetched_at = time.monotonic()


def _as_code_key(entry: dict[str, Any]) -> dict[str, Any]:
    public = {k: v for k, v in entry.items() if k in PUBLIC_JWK_MEMBERS}  # never a private part
    public["use"] = CODE_KEY_USE
    public.setdefault("alg", ALGORITHM)
    return public


def code_jwks(code_keys: list[dict[str, Any]]) -> dict[str, Any]:
    """The talent-code key set: only ES256 keys with a kid, the shape PyJWT or jose expect."""
    return {"keys": [k for k in code_keys if k.get("kid") and k.get("alg") == ALGORITHM]}
