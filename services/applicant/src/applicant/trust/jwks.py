"""A partner city's talent-code key set: what we accept of it (EC P-256 signing keys, public members only), and
fetching it from its URL (http(s) only; outside dev https only, and never a loopback, private or link-local host:
servicekit.safe_http's rule, checked on the connection it is fetched over)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from jose import jwk
from jose.exceptions import JOSEError
from servicekit.safe_http import REAL_NETWORK, Network, UnsafeUrl, parse_url, pinned_client

from applicant.exceptions import FieldRefusal

MAX_KEYS = 20
MAX_JWKS_BYTES = 64 * 1024
# Members a private EC or RSA/oct key would carry: a key set that holds one was pasted from the wrong file.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "kid", "use", "alg", "key_ops")


class JwksRefused(FieldRefusal):
    """A key set or key-set URL we do not accept; the key says why (no key material in its params)."""


def validate_jwks(value: Any) -> dict[str, Any]:
    """The key set reduced to its public members, or JwksRefused: every key EC P-256, `use: sig`, a kid, no
    private member, ES256 if it names an algorithm."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JwksRefused("applicant.invalid.jwks_shape")
    keys = value["keys"]
    if not 1 <= len(keys) <= MAX_KEYS:
        raise JwksRefused("applicant.invalid.jwks_key_count", {"max_keys": MAX_KEYS})
    cleaned: list[dict[str, Any]] = []
    kids: set[str] = set()
    for index, key in enumerate(keys):
        where = {"where": f"keys[{index}]"}
        if not isinstance(key, dict):
            raise JwksRefused("applicant.invalid.jwk_not_object", where)
        if PRIVATE_MEMBERS & key.keys():
            raise JwksRefused("applicant.invalid.jwk_private", where)
        if key.get("kty") != "EC" or key.get("crv") != "P-256":
            raise JwksRefused("applicant.invalid.jwk_not_p256", where)
        if key.get("use") != "sig":
            raise JwksRefused("applicant.invalid.jwk_not_signing", where)
        if key.get("alg", "ES256") != "ES256":
            raise JwksRefused("applicant.invalid.jwk_not_es256", where)
        kid = key.get("kid")
        if not isinstance(kid, str) or not 1 <= len(kid) <= 100 or kid in kids:
            raise JwksRefused("applicant.invalid.jwk_kid", where)
        kids.add(kid)
        public = {name: key[name] for name in PUBLIC_MEMBERS if name in key}
        try:
            jwk.construct(public, "ES256")
        except (JOSEError, ValueError, TypeError):
            raise JwksRefused("applicant.invalid.jwk_unusable", where) from None
        cleaned.append(public)
    return {"keys": cleaned}


# The kit's reasons (servicekit.safe_http.UnsafeUrl) in applicant's words; the URL's scheme below.
REFUSAL_KEYS = {
    "malformed": "applicant.invalid.jwks_url_malformed",
    "no_host": "applicant.invalid.jwks_url_no_host",
    "credentials": "applicant.invalid.jwks_url_credentials",
    "unresolved": "applicant.invalid.jwks_url_unresolved",
    "private": "applicant.invalid.jwks_url_private",
}


def refusal(exc: UnsafeUrl, *, allow_private: bool) -> JwksRefused:
    """The kit's refusal of a key-set (or status-list) URL as applicant's JwksRefused."""
    if exc.reason == "scheme":
        return JwksRefused(f"applicant.invalid.jwks_url_not_{'http' if allow_private else 'https'}")
    return JwksRefused(REFUSAL_KEYS[exc.reason])


def check_url(url: str, *, allow_private: bool) -> None:
    """The URL's form: absolute http(s), a host, no credentials; outside dev https only."""
    try:
        parse_url(url, schemes={"http", "https"} if allow_private else {"https"})
    except UnsafeUrl as exc:
        raise refusal(exc, allow_private=allow_private) from None


async def fetch_jwks(
    url: str, *, allow_private: bool, timeout_s: float, network: Network = REAL_NETWORK
) -> dict[str, Any]:
    """GET the key set (no redirects, at most 64 KiB) and validate it; JwksRefused on any failure.

    Outside dev the host's addresses are checked on the connection itself, which goes to an address checked.
    """
    check_url(url, allow_private=allow_private)
    try:
        async with (
            pinned_client(allow_private=allow_private, network=network, timeout=timeout_s) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JwksRefused("applicant.invalid.jwks_url_status", {"status": response.status_code})
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksRefused("applicant.invalid.jwks_too_large")
    except UnsafeUrl as exc:
        raise refusal(exc, allow_private=allow_private) from None
    except httpx.HTTPError as exc:
        raise JwksRefused("applicant.invalid.jwks_fetch_failed", {"error": type(exc).__name__}) from None
    try:
        document = json.loads(body)
    except ValueError:
        raise JwksRefused("applicant.invalid.jwks_not_json") from None
    return validate_jwks(document)
