"""A partner city's talent-code key set: what we accept of it (EC P-256 signing keys, public members only), and
fetching it from its URL (http(s) only; outside dev never a loopback, private or link-local host)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
from jose import jwk
from jose.exceptions import JOSEError

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


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # The same rule as notify's webhook targets: only globally routable addresses, IPv4 inside IPv6 judged as itself.
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and _forbidden(embedded):
            return True
    return not address.is_global or address.is_loopback or address.is_private or address.is_link_local


def check_url(url: str, *, allow_private: bool) -> None:
    """The URL's form: absolute http(s), a host, no credentials; outside dev https only."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise JwksRefused("applicant.invalid.jwks_url_malformed") from None
    if parts.scheme not in {"http", "https"} or (parts.scheme != "https" and not allow_private):
        raise JwksRefused(f"applicant.invalid.jwks_url_not_{'http' if allow_private else 'https'}")
    if not parts.hostname:
        raise JwksRefused("applicant.invalid.jwks_url_no_host")
    if parts.username or parts.password:
        raise JwksRefused("applicant.invalid.jwks_url_credentials")


async def _check_addresses(url: str) -> None:
    """Resolving, not only parsing, is what stops a name that points at 127.0.0.1 or 169.254.169.254."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise JwksRefused("applicant.invalid.jwks_url_unresolved") from None
    for info in infos:
        if _forbidden(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])):
            raise JwksRefused("applicant.invalid.jwks_url_private")


async def fetch_jwks(url: str, *, allow_private: bool, timeout_s: float) -> dict[str, Any]:
    """GET the key set (no redirects, at most 64 KiB) and validate it; JwksRefused on any failure."""
    check_url(url, allow_private=allow_private)
    if not allow_private:
        await _check_addresses(url)
    try:
        async with (
            httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JwksRefused("applicant.invalid.jwks_url_status", {"status": response.status_code})
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksRefused("applicant.invalid.jwks_too_large")
    except httpx.HTTPError as exc:
        raise JwksRefused("applicant.invalid.jwks_fetch_failed", {"error": type(exc).__name__}) from None
    try:
        document = json.loads(body)
    except ValueError:
        raise JwksRefused("applicant.invalid.jwks_not_json") from None
    return validate_jwks(document)
