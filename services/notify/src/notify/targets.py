"""Which webhook URLs notify will call: http(s) only, and outside dev never a loopback, private or link-local host."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from servicekit.messages import EN, render


class InvalidTarget(ValueError):
    """A webhook URL notify refuses to call; `key` (notify.invalid.url_*) and `params` say why."""

    def __init__(self, key: str, params: Mapping[str, Any] | None = None) -> None:
        self.key, self.params = key, dict(params or {})
        super().__init__(render(key, self.params, EN))


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (mapped ::ffff:a.b.c.d, 6to4 2002:…, Teredo) is judged as itself.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and _forbidden(embedded):
            return True
    return (
        # Not globally routable covers shared address space too (100.64.0.0/10: carrier NAT, and the cloud
        # metadata service at 100.100.100.200), which is_private does not.
        not address.is_global
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise InvalidTarget unless `url` is an absolute http(s) URL whose host resolves only to public addresses.

    Resolving (not only parsing) is what stops a name that points at 127.0.0.1 or 169.254.169.254.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidTarget("notify.invalid.url_malformed", {"error": str(exc)}) from exc
    if parts.scheme not in {"http", "https"}:
        raise InvalidTarget("notify.invalid.url_scheme")
    if not parts.hostname:
        raise InvalidTarget("notify.invalid.url_no_host")
    if parts.username or parts.password:
        raise InvalidTarget("notify.invalid.url_credentials")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise InvalidTarget("notify.invalid.url_unresolved", {"host": parts.hostname}) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _forbidden(address):
            raise InvalidTarget("notify.invalid.url_private", {"host": parts.hostname})
