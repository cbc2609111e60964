"""The talent code: `TC1:` + a compact JWS (ES256) under keys used for nothing else, and its verification.

Header: {"alg": "ES256", "kid": "tc-<yyyymmdd>-<hex>", "typ": "TC1"}.
Payload (short names keep the QR code small):
    sub   the talent's pseudonym (stable per talent, never the database id)
    tier  "A".."E" at the time of issue
    city  the issuing city's region code (e.g. "330400")
    iat   issued at, seconds since the epoch
    exp   expires at, seconds since the epoch (default 5 minutes after iat)
    status  {"status_list": {"idx": n, "uri": "<the status list's URL>"}}: the holder's entry in the revocation
          status list (applicant.status_list); codes issued before it existed have none
No name, phone or identity number is in a code. Anyone can check the signature offline with the public
keys of the JWKS (`GET /internal/code-keys`, republished by the gateway, alone, at
`/.well-known/talent-code/jwks.json` for standard JWKS clients such as PyJWT's PyJWKClient or jose).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from jose.backends.base import Key
from jose.exceptions import JOSEError
from servicekit.crypto import CipherError, FieldCipher
from servicekit.db import Database, utcnow
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.models import TalentCodeKey

logger = logging.getLogger("applicant.codes")

PREFIX = "TC1:"
ALGORITHM = "ES256"
TOKEN_TYPE = "TC1"  # noqa: S105  (the JWS "typ" header, not a secret)
MAX_CODE_LENGTH = 2_000
# Clock skew tolerated between the issuing service and a verifier.
LEEWAY_S = 5


def sealed_key_pair(sealer: FieldCipher, kid: str) -> tuple[str, dict[str, Any]]:
    """A fresh P-256 signing key: its private half sealed for storage, its public half as a plain RFC 7517 JWK."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public: dict[str, Any] = jwk.construct(public_pem, ALGORITHM).to_dict()
    # Plain RFC 7517 members only: the key set of its own, not a mark on the key, keeps codes and access tokens apart.
    public.update({"kid": kid, "use": "sig", "alg": ALGORITHM, "key_ops": ["verify"]})
    return sealer.encrypt(pem), public


def new_code_key(sealer: FieldCipher, now: datetime) -> TalentCodeKey:
    """Generate a P-256 key pair for codes; the private half is sealed before it is stored."""
    kid = f"tc-{now:%Y%m%d}-{secrets.token_hex(4)}"
    sealed, public = sealed_key_pair(sealer, kid)
    return TalentCodeKey(
        kid=kid,
        private_key_sealed=sealed,
        public_jwk=json.dumps(public, sort_keys=True),
        created_at=now,
    )


async def live_keys(session: AsyncSession, now: datetime) -> Sequence[TalentCodeKey]:
    """Keys still published: the signing one and those retiring later than now, oldest first."""
    query = (
        select(TalentCodeKey)
        .where(col(TalentCodeKey.retires_at).is_(None) | (col(TalentCodeKey.retires_at) > now))
        .order_by(col(TalentCodeKey.created_at))
    )
    return (await session.exec(query)).all()


async def rotate_code_keys(session: AsyncSession, sealer: FieldCipher, retire_after: timedelta) -> TalentCodeKey:
    """Add a new signing key; the ones it replaces stay published (and verify) for `retire_after`."""
    now = utcnow()
    for key in (await session.exec(select(TalentCodeKey).where(col(TalentCodeKey.retires_at).is_(None)))).all():
        key.retires_at = now + retire_after
        session.add(key)
    new_key = new_code_key(sealer, now)
    session.add(new_key)
    await session.flush()
    logger.info("rotated talent-code keys: new kid=%s", new_key.kid)
    return new_key


@dataclass(frozen=True)
class IssuedCode:
    code: str
    kid: str
    expires_at: datetime


@dataclass(frozen=True)
class CodeClaims:
    pseudonym: str
    tier: str
    city: str
    issued_at: datetime
    expires_at: datetime


class CodeRejected(Exception):
    """A code that does not verify; `reason` is the stable word the verify endpoint answers with."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _LoadedKeys:
    signing_kid: str | None
    signing_key: Key | None
    verifying: dict[str, Key]
    jwks: dict[str, Any]


class CodeKeyRing:
    """The code keys of this process: jose key objects built once per key, reloaded from the database
    every `reload_s` (so a rotation by another replica or the CLI arrives) and at once on an unknown kid."""

    def __init__(
        self,
        sealer: FieldCipher,
        *,
        reload_s: float,
        lifetime: timedelta,
        reuse: timedelta = timedelta(0),
        reuse_capacity: int = 10_000,
    ) -> None:
        self.sealer = sealer
        self.reload_s = reload_s
        self.lifetime = lifetime
        # A code asked for again within `reuse` of its signing, for the same talent row, claims and signing key, is
        # the same code (an ES256 signature is most of a refresh's CPU); never more than a tenth of the lifetime.
        self.reuse = min(reuse, lifetime / 10)
        self.reuse_capacity = reuse_capacity
        # talent id -> (what the code was signed for, the code, until when it is handed out again)
        self._issued: OrderedDict[str, tuple[tuple[Any, ...], IssuedCode, datetime]] = OrderedDict()
        self._loaded = _LoadedKeys(None, None, {}, {"keys": []})
        self._cache: dict[str, tuple[str, Key | None]] = {}  # kid -> (sealed private key, built private key)
        self._loaded_at = float("-inf")
        self._unknown_refetch_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh_if_stale(self, database: Database) -> CodeKeyRing:
        """Reload when the keys are older than `reload_s`.

        Called by the request dependency before the request's own transaction begins: on SQLite a second
        transaction opened while the request holds the write lock would wait for it forever.
        """
        if time.monotonic() - self._loaded_at >= self.reload_s:
            await self.reload(database)
        return self

    def invalidate(self) -> None:
        """Reload at the next use (after a rotation in this process)."""
        self._loaded_at = float("-inf")

    async def reload(self, database: Database) -> None:
        """Read the live keys; create the first signing key when there is none."""
        stamp = self._loaded_at
        async with self._lock:
            if self._loaded_at != stamp:
                return  # another coroutine reloaded while this one waited
            now = utcnow()
            async with database.transaction() as session:
                rows = list(await live_keys(session, now))
                if not any(r.retires_at is None for r in rows):
                    rows.append(new_code_key(self.sealer, now))
                    session.add(rows[-1])
                    logger.info("created the first talent-code key kid=%s", rows[-1].kid)
            self._loaded = self._build(rows)
            self._loaded_at = time.monotonic()

    def _build(self, rows: Sequence[TalentCodeKey]) -> _LoadedKeys:
        verifying: dict[str, Key] = {}
        published: list[dict[str, Any]] = []
        signing_kid: str | None = None
        signing_key: Key | None = None
        for row in rows:
            public = json.loads(row.public_jwk)
            try:
                verifying[row.kid] = self._loaded.verifying.get(row.kid) or jwk.construct(public, ALGORITHM)
            except (JOSEError, ValueError, TypeError) as exc:
                logger.warning("ignoring unusable talent-code key %s: %s", row.kid, type(exc).__name__)
                continue
            published.append(public)
            if row.retires_at is None:
                # Of several live signing keys (two replicas created one at once), the newest signs.
                signing_kid, signing_key = row.kid, self._private(row)
        return _LoadedKeys(signing_kid, signing_key, verifying, {"keys": published})

    def _private(self, row: TalentCodeKey) -> Key | None:
        cached = self._cache.get(row.kid)
        if cached is not None and cached[0] == row.private_key_sealed:
            return cached[1]
        try:
            key: Key | None = jwk.construct(self.sealer.decrypt(row.private_key_sealed), ALGORITHM)
        except (CipherError, JOSEError, ValueError) as exc:
            logger.error("cannot unseal talent-code key %s: %s", row.kid, type(exc).__name__)
            key = None
        self._cache[row.kid] = (row.private_key_sealed, key)
        return key

    def jwks(self) -> dict[str, Any]:
        return self._loaded.jwks

    def issue(
        self, *, pseudonym: str, tier: str, city: str, not_after: datetime, status: dict[str, Any] | None = None
    ) -> IssuedCode:
        """Sign a fresh code, valid for the configured lifetime but never past `not_after`; `status` is the
        code's entry in the revocation status list (the `status` claim, applicant.status_list)."""
        loaded = self._loaded
        if loaded.signing_key is None or loaded.signing_kid is None:
            raise RuntimeError("no usable talent-code signing key: check APPLICANT_CODE_KEY_ENCRYPTION_KEYS")
        now = utcnow().replace(microsecond=0)
        expires_at = min(now + self.lifetime, not_after)
        claims = {
            "sub": pseudonym,
            "tier": tier,
            "city": city,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        if status is not None:
            claims["status"] = status
        token = jws.sign(
            claims, loaded.signing_key, headers={"kid": loaded.signing_kid, "typ": TOKEN_TYPE}, algorithm=ALGORITHM
        )
        return IssuedCode(code=PREFIX + token, kid=loaded.signing_kid, expires_at=expires_at)

    def issue_reusing(
        self,
        holder: str,
        version: Any,
        *,
        pseudonym: str,
        tier: str,
        city: str,
        not_after: datetime,
        status: dict[str, Any] | None = None,
    ) -> IssuedCode:
        """`issue`, or the code issued to `holder` less than `reuse` ago for the same claims, signing key and
        `version` of the holder's row (any change to the row, a revocation or re-tiering first, signs anew)."""
        if self.reuse <= timedelta(0):
            return self.issue(pseudonym=pseudonym, tier=tier, city=city, not_after=not_after, status=status)
        signed_for = (
            version,
            pseudonym,
            tier,
            city,
            not_after,
            json.dumps(status, sort_keys=True),
            self._loaded.signing_kid,
        )
        now = utcnow()
        cached = self._issued.get(holder)
        if cached is not None and cached[0] == signed_for and now < cached[2]:
            return cached[1]
        issued = self.issue(pseudonym=pseudonym, tier=tier, city=city, not_after=not_after, status=status)
        self._issued[holder] = (signed_for, issued, now + self.reuse)
        self._issued.move_to_end(holder)
        while len(self._issued) > self.reuse_capacity:
            self._issued.popitem(last=False)
        return issued

    def forget(self, holder: str) -> None:
        """Sign the holder's next code anew (it may not have one now)."""
        self._issued.pop(holder, None)

    def sign(self, claims: dict[str, Any], token_type: str) -> str:
        """A compact JWS of `claims` under the signing key, typed by its header (the status list's
        `statuslist+jwt`); it lacks a code's claims (tier, city), so it never passes for a code."""
        loaded = self._loaded
        if loaded.signing_key is None or loaded.signing_kid is None:
            raise RuntimeError("no usable talent-code signing key: check APPLICANT_CODE_KEY_ENCRYPTION_KEYS")
        signed: str = jws.sign(
            claims, loaded.signing_key, headers={"kid": loaded.signing_kid, "typ": token_type}, algorithm=ALGORITHM
        )
        return signed

    async def _verifying_key(self, database: Database, kid: str) -> Key | None:
        key = self._loaded.verifying.get(kid)
        # An unknown kid may be a key rotated in by another replica a moment ago: reload, at most once a second,
        # so a stream of forged kids cannot turn every verify into a database read.
        if key is None and time.monotonic() - self._unknown_refetch_at >= 1.0:
            self._unknown_refetch_at = time.monotonic()
            await self.reload(database)
            key = self._loaded.verifying.get(kid)
        return key

    async def verify(self, database: Database, code: str, now: datetime | None = None) -> CodeClaims:
        """Check prefix, key, signature and lifetime; raise CodeRejected with the reason otherwise.

        May reload the keys (an unknown kid), so call it before the request's transaction has begun.
        """
        if len(code) > MAX_CODE_LENGTH or not code.startswith(PREFIX):
            raise CodeRejected("malformed")
        token = code[len(PREFIX) :]
        try:
            header = jws.get_unverified_header(token)
        except JOSEError:
            raise CodeRejected("malformed") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise CodeRejected("malformed")
        key = await self._verifying_key(database, kid)
        if key is None:
            raise CodeRejected("unknown_key")
        try:
            payload = json.loads(jws.verify(token, key, algorithms=[ALGORITHM]))
        except (JOSEError, ValueError):
            raise CodeRejected("bad_signature") from None
        claims = _claims(payload)
        moment = now or utcnow()
        if claims.expires_at <= moment - timedelta(seconds=LEEWAY_S):
            raise CodeRejected("expired")
        if claims.issued_at > moment + timedelta(seconds=LEEWAY_S):
            raise CodeRejected("not_yet_valid")
        return claims


def _claims(payload: Any) -> CodeClaims:
    if not isinstance(payload, dict):
        raise CodeRejected("malformed")
    try:
        sub, tier, city, iat, exp = (payload[k] for k in ("sub", "tier", "city", "iat", "exp"))
    except KeyError:
        raise CodeRejected("malformed") from None
    if not all(isinstance(v, str) for v in (sub, tier, city)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)
    ):
        raise CodeRejected("malformed")
    try:
        issued_at, expires_at = datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        raise CodeRejected("malformed") from None
    return CodeClaims(pseudonym=sub, tier=tier, city=city, issued_at=issued_at, expires_at=expires_at)
