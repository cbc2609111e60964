"""A partner city's revocation status list, consulted when we verify one of its codes.

A partner's code that carries `"status": {"status_list": {"idx", "uri"}}` is refused unless that city's Status
List Token at `uri` says bit `idx` is 0. The token must be signed by the ISSUING city's trusted code keys (never
another city's), typed `statuslist+jwt`, name `uri` as its `sub`, and be unexpired. Only a URI on the same origin
(scheme, host, port) as the city's registered key-set URL is fetched, under the key-set fetch rules (https and
public addresses only outside dev): a code cannot send us anywhere its city's trust-list entry does not.

A list is kept per (city, uri) for its `ttl` (at most `TTL_CAP_S`); a failed refetch keeps the last good list
until its own `exp` and is retried at most once per `refetch_min_s`. With no usable list the code is refused
(`status_unavailable`): a privilege granted on a code its city revoked is the worse mistake. A partner code with
no status claim is judged by signature and lifetime only (its city publishes no list for it)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from jose import jws
from jose.backends.base import Key
from jose.exceptions import JOSEError
from servicekit.safe_http import REAL_NETWORK, Network, UnsafeUrl, pinned_client

from applicant.codes import ALGORITHM, CodeRejected
from applicant.status_list import MEDIA_TYPE, TOKEN_TYPE, bit_at
from applicant.trust.jwks import JwksRefused, check_url
from applicant.trust.models import PartnerCity

logger = logging.getLogger("applicant.trust")

TTL_CAP_S = 300.0  # a partner's list is refetched at least every 5 minutes, whatever its ttl says
MAX_TOKEN_BYTES = 64 * 1024
MAX_BITS_BYTES = 1024 * 1024  # 8 Mi entries: a bound on what a hostile list's DEFLATE may expand to


class StatusListRefused(Exception):
    """A partner's status list that could not be fetched or does not verify; the message says why (no data)."""


@dataclass(frozen=True)
class _Held:
    bits: bytes
    exp: int  # the token's exp (epoch seconds): the last good list is used until then when refetches fail
    fresh_until: float  # monotonic: refetched after this


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port made explicit; None when unparsable."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def status_entry(status: Any) -> tuple[int, str] | None:
    """(idx, uri) of a code's `status` claim; None when the code has none; CodeRejected when it is malformed."""
    if status is None:
        return None
    entry = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(entry, dict):
        raise CodeRejected("malformed")
    idx, uri = entry.get("idx"), entry.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or not isinstance(uri, str) or len(uri) > 2048:
        raise CodeRejected("malformed")
    return idx, uri


def _decode_bits(lst: str) -> bytes:
    """`lst` decompressed, refusing more than MAX_BITS_BYTES (the local decoder trusts its own lists; not these)."""
    try:
        raw = base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4))
        inflater = zlib.decompressobj()
        bits = inflater.decompress(raw, MAX_BITS_BYTES)
    except (binascii.Error, ValueError, zlib.error):
        raise StatusListRefused("lst is not base64url zlib") from None
    if inflater.unconsumed_tail:
        raise StatusListRefused("lst expands beyond the limit")
    return bits


async def read_token(
    token: str, uri: str, key_of: Callable[[str], Awaitable[Key | None]], now: datetime
) -> tuple[bytes, int, float]:
    """(bitstring, exp, ttl) of a Status List Token verified under `key_of` (the issuing city's keys)."""
    try:
        header = jws.get_unverified_header(token)
    except JOSEError:
        raise StatusListRefused("not a JWS") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(kid, str):
        raise StatusListRefused("not an ES256 statuslist+jwt with a kid")
    key = await key_of(kid)  # may refetch the city's key set once (a list signed by a freshly rotated key)
    if key is None:
        raise StatusListRefused("signed by a key the city does not publish")
    try:
        payload: Any = json.loads(jws.verify(token, key, algorithms=[ALGORITHM]))
    except (JOSEError, ValueError):
        raise StatusListRefused("bad signature") from None
    if not isinstance(payload, dict) or payload.get("sub") != uri:
        raise StatusListRefused("sub is not the list's URI")
    exp, ttl, body = payload.get("exp"), payload.get("ttl", TTL_CAP_S), payload.get("status_list")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now.timestamp():
        raise StatusListRefused("expired or without exp")
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl < 0:
        raise StatusListRefused("bad ttl")
    if not isinstance(body, dict) or body.get("bits") != 1 or not isinstance(body.get("lst"), str):
        raise StatusListRefused("status_list is not a 1-bit list")
    return _decode_bits(body["lst"]), exp, float(ttl)


class PartnerStatusLists:
    """The partner cities' status lists this process has read, by (city, uri)."""

    def __init__(
        self, *, allow_private: bool, refetch_min_s: float, timeout_s: float, network: Network = REAL_NETWORK
    ) -> None:
        self.allow_private = allow_private
        self.network = network  # the lists are fetched over pinned connections (servicekit.safe_http)
        self.refetch_min_s = refetch_min_s
        self.timeout_s = timeout_s
        self._held: dict[tuple[str, str], _Held] = {}
        self._failed_at: dict[tuple[str, str], float] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.fetches = 0  # fetch attempts by this process (tests read it)

    async def check(
        self, city: PartnerCity, status: Any, key_of: Callable[[str], Awaitable[Key | None]], now: datetime
    ) -> None:
        """Nothing when the code has no status claim or its bit is 0; CodeRejected otherwise."""
        entry = status_entry(status)
        if entry is None:
            return
        idx, uri = entry
        if origin(uri) is None or origin(uri) != origin(city.jwks_url):
            raise CodeRejected("status_uri_untrusted")
        try:
            check_url(uri, allow_private=self.allow_private)
        except JwksRefused:
            raise CodeRejected("status_uri_untrusted") from None
        bits = await self._bits(city.city_code, uri, key_of, now)
        if bits is None or idx >= len(bits) * 8:
            raise CodeRejected("status_unavailable")
        if bit_at(bits, idx):
            raise CodeRejected("revoked")

    async def _bits(
        self, city_code: str, uri: str, key_of: Callable[[str], Awaitable[Key | None]], now: datetime
    ) -> bytes | None:
        slot = (city_code, uri)
        held = self._held.get(slot)
        if held is not None and time.monotonic() < held.fresh_until:
            return held.bits
        async with self._locks.setdefault(slot, asyncio.Lock()):
            held = self._held.get(slot)
            if held is not None and time.monotonic() < held.fresh_until:
                return held.bits  # fetched by the verify this one waited for
            # A failing list is retried at most once per refetch_min_s, so verifies cannot become a fetch flood.
            if time.monotonic() - self._failed_at.get(slot, float("-inf")) >= self.refetch_min_s:
                try:
                    bits, exp, ttl = await read_token(await self._fetch(uri), uri, key_of, now)
                except StatusListRefused as exc:
                    self._failed_at[slot] = time.monotonic()
                    logger.warning("partner city %s: status list not refreshed: %s", city_code, exc)
                else:
                    held = _Held(bits=bits, exp=exp, fresh_until=time.monotonic() + min(ttl, TTL_CAP_S))
                    self._held[slot] = held
                    self._failed_at.pop(slot, None)
                    return bits
        if held is not None and held.exp > now.timestamp():
            return held.bits
        return None

    async def _fetch(self, uri: str) -> str:
        """GET the token (no redirects, at most 64 KiB), as `application/statuslist+jwt` or its JSON wrapping."""
        self.fetches += 1
        try:
            async with (
                pinned_client(allow_private=self.allow_private, network=self.network, timeout=self.timeout_s) as client,
                client.stream("GET", uri, headers={"Accept": MEDIA_TYPE}) as response,
            ):
                if response.status_code != 200:
                    raise StatusListRefused(f"HTTP {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_TOKEN_BYTES:
                        raise StatusListRefused("larger than 64 KiB")
        except UnsafeUrl as exc:
            # Checked on the connection itself: unresolved, or not only public addresses.
            raise StatusListRefused(f"the list's host is refused ({exc.reason})") from None
        except httpx.HTTPError as exc:
            raise StatusListRefused(type(exc).__name__) from None
        text = body.decode("ascii", "replace").strip()
        if text.startswith("{"):
            try:
                wrapped = json.loads(text).get("status_list_token")
            except (ValueError, AttributeError):
                wrapped = None
            if not isinstance(wrapped, str):
                raise StatusListRefused("JSON without status_list_token")
            text = wrapped
        return text
