"""An offline gate for talent codes (人才码): checks a scanned code without calling the verify API.

A gate (a turnstile, a clinic's front desk, a partner city's kiosk) holds, per trusted issuing city, that city's
talent-code key set (`/.well-known/talent-code/jwks.json`) and the revocation status lists its codes name. For a
scanned code it checks, all locally:

1. the signature (ES256) under a key of the issuing city's key set; an unknown `kid` refetches that key set, at
   most once per `refetch_min_s`;
2. the code's lifetime (`iat`, `exp`, a few seconds of clock skew tolerated);
3. the holder's entry in the status list the code names (`status.status_list.idx` and `.uri`): the list is a
   Status List Token (`typ: statuslist+jwt`) signed by a key of the same city, whose `sub` is that URI; the gate
   refetches it at most every `ttl` seconds (the list says how long), keeps using the one it holds while the
   platform is unreachable, and refuses codes once that list is past its `exp`. Bit 1 at the entry: refused.

Codes issued before status lists existed carry no `status` claim: this gate refuses them (`no_status`) unless
built with `require_status=False`. The gate never learns who the talent is: a code holds a pseudonym and a tier.

Uses only PyJWT (with `cryptography`) and httpx:

    gate = OfflineGate({"330400": "https://talent.example.org/.well-known/talent-code/jwks.json"})
    decision = gate.check(scanned)      # Decision(accepted=True, reason=None, city="330400", tier="C")
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

PREFIX = "TC1:"
ALGORITHMS = ["ES256"]
STATUS_LIST_TYPE = "statuslist+jwt"
LEEWAY_S = 5


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str | None = None  # why not: malformed, untrusted_issuer, unknown_key, bad_signature, expired, revoked,
    # no_status, status_unavailable
    city: str | None = None
    tier: str | None = None


@dataclass
class _KeySet:
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float = float("-inf")


@dataclass
class _StatusList:
    bits: bytes
    fetched_at: float
    ttl: float
    exp: float


class OfflineGate:
    """Checks codes of the `issuers` (issuing city code → URL of its talent-code key set) offline."""

    def __init__(
        self,
        issuers: Mapping[str, str],
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        refetch_min_s: float = 30.0,
        require_status: bool = True,
    ) -> None:
        self.issuers = dict(issuers)
        self.http = http or httpx.Client(timeout=5.0)
        self.clock = clock
        self.refetch_min_s = refetch_min_s
        self.require_status = require_status
        self._key_sets: dict[str, _KeySet] = {}
        self._lists: dict[str, _StatusList] = {}
        self.status_list_fetches = 0  # how often a list was downloaded (a gate should not do it per scan)

    # --- the check ---------------------------------------------------------------------------------------------

    def check(self, code: str) -> Decision:
        if not code.startswith(PREFIX) or len(code) > 2_000:
            return Decision(False, "malformed")
        token = code[len(PREFIX) :]
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return Decision(False, "malformed")
        city = unverified.get("city")
        if header.get("alg") not in ALGORITHMS or not isinstance(city, str) or not isinstance(header.get("kid"), str):
            return Decision(False, "malformed")
        if city not in self.issuers:
            return Decision(False, "untrusted_issuer", city=city)
        key = self._key(city, header["kid"])
        if key is None:
            return Decision(False, "unknown_key", city=city)
        try:
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, leeway=LEEWAY_S, options={"require": ["sub", "iat", "exp"]}
            )
        except jwt.ExpiredSignatureError:
            return Decision(False, "expired", city=city)
        except jwt.InvalidSignatureError:
            return Decision(False, "bad_signature", city=city)
        except jwt.PyJWTError:
            return Decision(False, "malformed", city=city)
        tier = claims.get("tier")
        entry = (claims.get("status") or {}).get("status_list")
        if entry is None:
            if self.require_status:
                return Decision(False, "no_status", city=city)
            return Decision(True, city=city, tier=tier)
        idx, uri = entry.get("idx"), entry.get("uri")
        if not isinstance(idx, int) or idx < 0 or not isinstance(uri, str):
            return Decision(False, "malformed", city=city)
        status = self._status_list(city, uri)
        if status is None or idx >= len(status.bits) * 8:
            return Decision(False, "status_unavailable", city=city)
        if (status.bits[idx // 8] >> (idx % 8)) & 1:
            return Decision(False, "revoked", city=city)
        return Decision(True, city=city, tier=tier)

    # --- the key sets ------------------------------------------------------------------------------------------

    def _key(self, city: str, kid: str) -> Any:
        held = self._key_sets.setdefault(city, _KeySet())
        if kid not in held.keys and self.clock() - held.fetched_at >= self.refetch_min_s:
            self._fetch_keys(city, held)
        jwk = held.keys.get(kid)
        return jwk.key if jwk is not None else None

    def _fetch_keys(self, city: str, held: _KeySet) -> None:
        held.fetched_at = self.clock()
        try:
            response = self.http.get(self.issuers[city])
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError):
            return  # keep the keys held; an unreachable platform must not empty them
        held.keys = {key.key_id: key for key in key_set.keys if key.key_id}

    # --- the status lists --------------------------------------------------------------------------------------

    def _status_list(self, city: str, uri: str) -> _StatusList | None:
        """The list at `uri` (named by a code the city signed), refetched once its ttl has passed."""
        now = self.clock()
        held = self._lists.get(uri)
        if held is None or now - held.fetched_at >= held.ttl:
            fresh = self._fetch_list(city, uri, now)
            if fresh is not None:
                self._lists[uri] = held = fresh
        if held is None or now >= held.exp:
            return None  # never had one, or the one held is too old to trust
        return held

    def _fetch_list(self, city: str, uri: str, now: float) -> _StatusList | None:
        try:
            response = self.http.get(uri, headers={"Accept": "application/statuslist+jwt"})
            response.raise_for_status()
            self.status_list_fetches += 1
            token = response.text.strip()
            header = jwt.get_unverified_header(token)
            if header.get("typ") != STATUS_LIST_TYPE:
                return None
            key = self._key(city, header.get("kid", ""))
            if key is None:
                return None
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, leeway=LEEWAY_S, options={"require": ["sub", "iat", "exp"]}
            )
            if claims["sub"] != uri or claims["status_list"]["bits"] != 1:
                return None
            lst: str = claims["status_list"]["lst"]
            bits = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
        except (httpx.HTTPError, ValueError, KeyError, TypeError, zlib.error, jwt.PyJWTError, json.JSONDecodeError):
            return None
        return _StatusList(bits=bits, fetched_at=now, ttl=float(claims.get("ttl", 60)), exp=float(claims["exp"]))
