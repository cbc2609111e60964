"""Calls to URLs someone outside the platform chose (partners' webhooks, partner cities' key sets and status
lists): http(s) only, no credentials in the URL, and outside dev never a loopback, private, link-local, shared
or metadata address.

Checking the name's addresses and then letting the HTTP client resolve it again is not enough: a name with a
short TTL can answer a public address to the check and 127.0.0.1 or 169.254.169.254 to the connection (DNS
rebinding). So the check lives in the connection step: `PinnedTransport` resolves the name once per
connection, refuses it if any answer is not public, and connects to the addresses it checked, while the Host
header and TLS (SNI and the certificate's name check) stay those of the name. `pinned_client` is the way to
call such a URL; `check_url` is only the early, explained refusal when one is registered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the name has now (text, as getaddrinfo gives them). Tests inject their own.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

WEB_SCHEMES = frozenset({"http", "https"})
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's own defaults


class UnsafeUrl(ValueError):
    """A URL we will not call. `reason` is one of malformed, scheme, no_host, credentials, unresolved, private;
    each service turns it into a message key of its own. `params` hold only the host or the parser's error."""

    def __init__(self, reason: str, **params: Any) -> None:
        self.reason, self.params = reason, params
        super().__init__(f"{reason}: {params}" if params else reason)


def is_forbidden(address: Address) -> bool:
    """Whether an address is one we never call outside dev: anything not globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address carried inside IPv6 (mapped ::ffff:a.b.c.d, 6to4 2002:…, Teredo) is judged as itself.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and is_forbidden(embedded):
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


def parse_url(url: str, *, schemes: Collection[str] = WEB_SCHEMES) -> SplitResult:
    """The URL's form: an absolute URL of one of `schemes`, with a host and no credentials; UnsafeUrl if not."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise UnsafeUrl("malformed", error=str(exc)) from exc
    if parts.scheme not in schemes:
        raise UnsafeUrl("scheme")
    if not parts.hostname:
        raise UnsafeUrl("no_host")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials")
    return parts


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for `host` (every address, IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> Address:
    return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])  # no IPv6 zone (fe80::1%eth0)


async def resolve(host: str, port: int, *, allow_private: bool, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses to connect to for `host`, resolved once: all of them public unless `allow_private`.

    An address literal is not resolved. UnsafeUrl("unresolved") when the name has no address, ("private")
    when any address is not public: a name that answers one private address among public ones is refused
    whole, since which of them a later connection would get is the name's owner's choice.
    """
    try:
        literal = _address(host)
    except ValueError:
        try:
            answers = await resolver(host, port)
        except OSError as exc:
            raise UnsafeUrl("unresolved", host=host) from exc
        try:
            addresses = list(dict.fromkeys(_address(answer) for answer in answers))
        except ValueError as exc:
            raise UnsafeUrl("unresolved", host=host) from exc
    else:
        addresses = [literal]
    if not addresses:
        raise UnsafeUrl("unresolved", host=host)
    if not allow_private and any(is_forbidden(address) for address in addresses):
        raise UnsafeUrl("private", host=host)
    return [str(address) for address in addresses]


@dataclass(frozen=True)
class Network:
    """The means of partner calls: how names are resolved, how TCP connections are opened, which TLS roots are
    trusted. The real ones by default; tests stand in a scripted resolver and a loopback-only connector."""

    resolver: Resolver = system_resolver
    connector: httpcore.AsyncNetworkBackend | None = None  # None: httpcore's own (anyio) sockets
    verify: ssl.SSLContext | bool = True  # True: the usual roots (certifi, or SSL_CERT_FILE / SSL_CERT_DIR)


REAL_NETWORK = Network()


async def check_url(
    url: str, *, allow_private: bool, schemes: Collection[str] = WEB_SCHEMES, network: Network = REAL_NETWORK
) -> None:
    """The URL's form, and outside dev its host's present addresses: an early, explained refusal (when a partner
    registers it). It proves nothing about a later connection; PinnedTransport checks each one again."""
    parts = parse_url(url, schemes=schemes)
    if allow_private:
        return
    assert parts.hostname is not None  # parse_url refuses a URL without one
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await resolve(parts.hostname, port, allow_private=False, resolver=network.resolver)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's connection step with the check inside it: resolve once, check, connect to what was checked.

    httpcore asks for a connection to the URL's host name and then starts TLS with that same name as
    `server_hostname`, so only the TCP destination changes: SNI, the certificate check and the Host header are
    the name's.
    """

    def __init__(self, *, allow_private: bool, network: Network = REAL_NETWORK) -> None:
        self.allow_private = allow_private
        self.resolver = network.resolver
        self.connector = network.connector or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        try:
            # One deadline for the name and every address tried: a name with many silent addresses must not
            # hold a caller (and a webhook delivery's lease) for the connect timeout once per address.
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port, allow_private=self.allow_private, resolver=self.resolver)
                for address in addresses:  # each one checked above; the first that answers is used
                    try:
                        return await self.connector.connect_tcp(
                            address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                        )
                    except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                        failure = exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host} took longer than {timeout}s") from exc
        assert failure is not None  # resolve() returns at least one address
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self.connector.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a PinnedBackend. No proxy: a proxy would resolve the name itself, unchecked."""

    def __init__(
        self, *, allow_private: bool, network: Network = REAL_NETWORK, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or DEFAULT_LIMITS
        # Not super().__init__(): it builds a pool on httpcore's own network backend, the one thing replaced here.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=network.verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allow_private=allow_private, network=network),
        )


def pinned_client(
    *, allow_private: bool, network: Network = REAL_NETWORK, limits: httpx.Limits | None = None, **options: Any
) -> httpx.AsyncClient:
    """An httpx client for URLs outsiders chose: pinned connections, no redirects (a redirect could point
    anywhere), no proxies or .netrc from the environment. UnsafeUrl (not an httpx error) when refused."""
    transport = PinnedTransport(allow_private=allow_private, network=network, limits=limits)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **options)
