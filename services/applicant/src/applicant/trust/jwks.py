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

MAX_KEYS = 20
MAX_JWKS_BYTES = 64 * 1024
# Members a private EC or RSA/oct key would carry: a key set that holds one was pasted from the wrong file.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "kid", "use", "alg", "key_ops")


class JwksRefused(ValueError):
    """A key set or key-set URL we do not accept; the message says why (no key material in it)."""


def validate_jwks(value: Any) -> dict[str, Any]:
    """The key set reduced to its public members, or JwksRefused: every key EC P-256, `use: sig`, a kid, no
    private member, ES256 if it names an algorithm."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JwksRefused('a JWKS is an object {"keys": [...]}')
    keys = value["keys"]
    if not 1 <= len(keys) <= MAX_KEYS:
        raise JwksRefused(f"a JWKS holds 1 to {MAX_KEYS} keys")
    cleaned: list[dict[str, Any]] = []
    kids: set[str] = set()
    for index, key in enumerate(keys):
        where = f"keys[{index}]"
        if not isinstance(key, dict):
            raise JwksRefused(f"{where} is not an object")
        if PRIVATE_MEMBERS & key.keys():
            raise JwksRefused(f"{where} holds private key material; publish only the public key")
        if key.get("kty") != "EC" or key.get("crv") != "P-256":
            raise JwksRefused(f"{where} is not an EC P-256 key")
        if key.get("use") != "sig":
            raise JwksRefused(f'{where} is not a signing key ("use": "sig")')
        if key.get("alg", "ES256") != "ES256":
            raise JwksRefused(f"{where} is not an ES256 key")
        kid = key.get("kid")
        if not isinstance(kid, str) or not 1 <= len(kid) <= 100 or kid in kids:
            raise JwksRefused(f"{where} needs a kid of its own (1 to 100 characters)")
        kids.add(kid)
        public = {name: key[name] for name in PUBLIC_MEMBERS if name in key}
        try:
            jwk.construct(public, "ES256")
        except (JOSEError, ValueError, TypeError):
            raise JwksRefused(f"{where} is not a usable EC P-256 public key") from None
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
        raise JwksRefused("the key-set URL is malformed") from None
    if parts.scheme not in {"http", "https"} or (parts.scheme != "https" and not allow_private):
        raise JwksRefused("the key-set URL must be https" if not allow_private else "the key-set URL must be http(s)")
    if not parts.hostname:
        raise JwksRefused("the key-set URL has no host")
    if parts.username or parts.password:
        raise JwksRefused("the key-set URL may not carry credentials")


async def _check_addresses(url: str) -> None:
    """Resolving, not only parsing, is what stops a name that points at 127.0.0.1 or 169.254.169.254."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise JwksRefused("the key-set URL's host does not resolve") from None
    for info in infos:
        if _forbidden(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])):
            raise JwksRefused("the key-set URL points at a private or loopback address")


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
                raise JwksRefused(f"the key-set URL answered {response.status_code}")
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksRefused("the key set is larger than 64 KiB")
    except httpx.HTTPError as exc:
        raise JwksRefused(f"the key set could not be fetched ({type(exc).__name__})") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise JwksRefused("the key-set URL did not answer JSON") from None
    return validate_jwks(document)
