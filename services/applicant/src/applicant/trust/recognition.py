"""Recognising a partner city's talent code (互认): the code's `city` claim names a city on the trust list, the
signature verifies under that city's published keys, the code is within its lifetime, and its tier maps to one
of ours through the city's tier map (data). Partner key sets refresh on a schedule and, bounded, on an unknown kid.

A foreign code names no talent of ours: there is no standing to check here (the partner city's own status list
carries its revocations: applicant.trust.status reads it) and no read-log entry to write."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import jwk, jws
from jose.backends.base import Key
from jose.exceptions import JOSEError
from servicekit.db import Database, utcnow
from servicekit.safe_http import REAL_NETWORK, Network
from sqlmodel import select

from applicant.codes import ALGORITHM, LEEWAY_S, MAX_CODE_LENGTH, PREFIX, CodeClaims, CodeRejected, _claims
from applicant.trust.jwks import JwksRefused, fetch_jwks
from applicant.trust.models import PartnerCity
from applicant.trust.status import PartnerStatusLists

logger = logging.getLogger("applicant.trust")


@dataclass(frozen=True)
class ForeignCode:
    claims: CodeClaims
    mapped_tier: str


def claimed_city(code: str) -> str | None:
    """The `city` claim of a code, unverified (it only chooses whose keys to check); None when unreadable."""
    if len(code) > MAX_CODE_LENGTH or not code.startswith(PREFIX):
        return None
    try:
        payload = json.loads(jws.get_unverified_claims(code[len(PREFIX) :]))
    except (JOSEError, ValueError):
        return None
    city = payload.get("city") if isinstance(payload, dict) else None
    return city if isinstance(city, str) else None


class PartnerKeys:
    """The partner cities' code keys of this process: read from the trust list, built once per key, refetched
    from a city's key-set URL on an unknown kid at most once per `refetch_min_s` per city, and every
    `refresh_s` for all cities by `running()`. A failed fetch keeps the stored keys."""

    def __init__(
        self,
        *,
        allow_private: bool,
        refetch_min_s: float,
        refresh_s: float,
        timeout_s: float,
        status_lists: PartnerStatusLists | None = None,
        network: Network = REAL_NETWORK,
    ) -> None:
        self.allow_private = allow_private
        self.network = network  # key sets are fetched over pinned connections (servicekit.safe_http)
        # The issuing cities' revocation lists, read when a code names its entry (None: codes' status not read).
        self.status_lists = status_lists
        self.refetch_min_s = refetch_min_s
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self._built: dict[tuple[str, str], tuple[str, Key]] = {}  # (city, kid) -> (the JWK's JSON, its key)
        self._last_fetch: dict[str, float] = {}  # city -> monotonic time of the last fetch attempt
        self.fetches = 0  # fetch attempts by this process (tests read it)

    async def _city(self, database: Database, city_code: str) -> PartnerCity | None:
        async with database.read() as conn:
            row = (await conn.execute(select(PartnerCity).where(PartnerCity.city_code == city_code))).first()
        return None if row is None else PartnerCity(**row._mapping)

    def _key(self, city: PartnerCity, kid: str) -> Key | None:
        for public in json.loads(city.jwks)["keys"]:
            if public.get("kid") != kid:
                continue
            text = json.dumps(public, sort_keys=True)
            cached = self._built.get((city.city_code, kid))
            if cached is not None and cached[0] == text:
                return cached[1]
            try:
                key = jwk.construct(public, ALGORITHM)
            except (JOSEError, ValueError, TypeError):
                return None
            self._built[(city.city_code, kid)] = (text, key)
            return key
        return None

    async def refresh(self, database: Database, city_code: str) -> bool:
        """Fetch one city's key set and store it; False (keys kept) when the fetch or the key set fails."""
        self._last_fetch[city_code] = time.monotonic()
        self.fetches += 1
        city = await self._city(database, city_code)
        if city is None:
            return False
        try:
            key_set = await fetch_jwks(
                city.jwks_url, allow_private=self.allow_private, timeout_s=self.timeout_s, network=self.network
            )
        except JwksRefused as exc:
            logger.warning("partner city %s: key set not refreshed, stored keys kept: %s", city_code, exc)
            return False
        async with database.transaction() as session:
            stored = await session.get(PartnerCity, city_code)
            if stored is None:
                return False
            stored.jwks, stored.fetched_at = json.dumps(key_set, sort_keys=True), utcnow()
            session.add(stored)
        logger.info("partner city %s: key set refreshed (%d keys)", city_code, len(key_set["keys"]))
        return True

    async def refresh_all(self, database: Database) -> None:
        async with database.read() as conn:
            codes = list((await conn.execute(select(PartnerCity.city_code))).scalars())
        for city_code in codes:
            await self.refresh(database, city_code)

    @contextlib.asynccontextmanager
    async def running(self, database: Database) -> AsyncIterator[PartnerKeys]:
        """Refresh every partner's key set every `refresh_s` while the process serves."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.refresh_s)
                try:
                    await self.refresh_all(database)
                except Exception:  # a bad round must not end the loop: the next one tries again
                    logger.exception("refreshing the partner cities' key sets failed")

        task = asyncio.create_task(loop(), name="trust-partner-keys")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _city_key(self, database: Database, city: PartnerCity, kid: str) -> tuple[PartnerCity | None, Key | None]:
        """The city's key `kid`; an unknown kid may be the partner's freshly rotated key: its key set is refetched,
        at most once per refetch_min_s per city, so a stream of forged kids cannot turn verifies into fetches."""
        key = self._key(city, kid)
        may_refetch = time.monotonic() - self._last_fetch.get(city.city_code, float("-inf")) >= self.refetch_min_s
        if key is None and may_refetch and await self.refresh(database, city.city_code):
            refreshed = await self._city(database, city.city_code)
            return refreshed, None if refreshed is None else self._key(refreshed, kid)
        return city, key

    async def verify(self, database: Database, code: str, now: datetime | None = None) -> ForeignCode:
        """A partner city's code checked: trusted issuer, key, signature, lifetime, mapped tier; or CodeRejected."""
        token = code[len(PREFIX) :]
        try:
            header = jws.get_unverified_header(token)
        except JOSEError:
            raise CodeRejected("malformed") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise CodeRejected("malformed")
        city_code = claimed_city(code)
        city = None if city_code is None else await self._city(database, city_code)
        if city is None or city_code is None:
            raise CodeRejected("untrusted_issuer")
        city, key = await self._city_key(database, city, kid)
        if city is None:
            raise CodeRejected("untrusted_issuer")
        if key is None:
            raise CodeRejected("unknown_key")
        try:
            payload: Any = json.loads(jws.verify(token, key, algorithms=[ALGORITHM]))
        except (JOSEError, ValueError):
            raise CodeRejected("bad_signature") from None
        claims = _claims(payload)
        moment = now or utcnow()
        if claims.expires_at <= moment - timedelta(seconds=LEEWAY_S):
            raise CodeRejected("expired")
        if claims.issued_at > moment + timedelta(seconds=LEEWAY_S):
            raise CodeRejected("not_yet_valid")
        mapped = json.loads(city.tier_map).get(claims.tier)
        if mapped is None:
            raise CodeRejected("tier_not_recognised")
        if self.status_lists is not None:
            # Checked with this city's keys only: another trusted city cannot speak for its codes' status.
            trusted = city

            async def key_of(list_kid: str) -> Key | None:
                return (await self._city_key(database, trusted, list_kid))[1]

            await self.status_lists.check(trusted, payload.get("status"), key_of, moment)
        return ForeignCode(claims=claims, mapped_tier=mapped)
