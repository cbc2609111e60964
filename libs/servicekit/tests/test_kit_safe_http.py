"""Outbound calls to URLs outsiders chose: the name is resolved once per connection, every answer is checked, and
the connection goes to an address that was checked (never to a second, rebound answer), with the name kept for
the Host header, SNI and the certificate check.

Loopback only: "public" addresses are stand-ins that LoopbackOnlyNetwork carries to a loopback server; it refuses
any other destination before a socket exists, and records every destination it was asked for.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from servicekit.safe_http import Network, UnsafeUrl, check_url, is_forbidden, pinned_client
from servicekit.testing_network import Certificates, LoopbackOnlyNetwork, ScriptedResolver

PUBLIC = "93.184.216.34"  # a stand-in: LoopbackOnlyNetwork never lets a packet go there
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


@dataclass
class Server:
    """A loopback HTTP(S) server that records each request's head and answers 200 `body`, closing each connection."""

    body: bytes = b"ok"
    tls: ssl.SSLContext | None = None
    heads: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> Server:
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append((await reader.readuntil(b"\r\n\r\n")).decode("latin-1"))
            head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(self.body)}\r\nconnection: close\r\n\r\n"
            writer.write(head.encode() + self.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def host_headers(self) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for head in self.heads
            for line in head.split("\r\n")
            if line.lower().startswith("host:")
        ]


@pytest.fixture
async def partner() -> AsyncIterator[Server]:
    server = await Server(body=b"partner").start()
    yield server
    await server.stop()


@pytest.fixture
async def inside() -> AsyncIterator[Server]:
    """What a rebound name would reach: a service on the platform's own loopback."""
    server = await Server(body=b"inside").start()
    yield server
    await server.stop()


class TestPinning:
    async def test_a_rebound_name_is_connected_at_the_address_that_was_checked(
        self, partner: Server, inside: Server
    ) -> None:
        # The name answers a public address first and the platform's loopback next, as a rebinding attacker does.
        resolver = ScriptedResolver([[PUBLIC], ["127.0.0.1"]])
        network = LoopbackOnlyNetwork()
        network.route(PUBLIC, inside.port, partner.port)  # the public address is "the partner", via loopback
        url = f"http://partner.example:{inside.port}/hooks"
        async with pinned_client(allow_private=False, network=Network(resolver, network)) as client:
            response = await client.get(url)
            assert response.text == "partner"
            # The partner closed the connection: a new one resolves again, gets 127.0.0.1 and is refused.
            with pytest.raises(UnsafeUrl) as refused:
                await client.get(url)
        assert refused.value.reason == "private"
        assert resolver.asked == [("partner.example", inside.port)] * 2
        assert network.asked == [(PUBLIC, inside.port)]
        assert inside.heads == []
        assert partner.host_headers() == [f"partner.example:{inside.port}"]

    @pytest.mark.parametrize(
        "answer",
        [
            [PUBLIC, "10.0.0.7"],
            [PUBLIC, "127.0.0.1"],
            ["169.254.169.254", PUBLIC],
            [PUBLIC_V6, "::ffff:127.0.0.1"],
            [PUBLIC, "100.100.100.200"],
        ],
    )
    async def test_a_name_with_any_address_that_is_not_public_is_refused_before_connecting(
        self, answer: list[str]
    ) -> None:
        network = LoopbackOnlyNetwork()
        async with pinned_client(allow_private=False, network=Network(ScriptedResolver([answer]), network)) as client:
            with pytest.raises(UnsafeUrl) as refused:
                await client.get("http://partner.example/hooks")
        assert (refused.value.reason, refused.value.params) == ("private", {"host": "partner.example"})
        assert network.asked == []

    async def test_an_address_in_the_url_is_checked_without_asking_the_resolver(self, inside: Server) -> None:
        resolver = ScriptedResolver([[PUBLIC]])
        network = LoopbackOnlyNetwork()
        async with pinned_client(allow_private=False, network=Network(resolver, network)) as client:
            for host in ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254"]:
                with pytest.raises(UnsafeUrl):
                    await client.get(f"http://{host}:{inside.port}/")
        assert resolver.asked == [] and network.asked == [] and inside.heads == []

    async def test_a_name_that_does_not_resolve_is_refused_as_unresolved(self) -> None:
        async def no_such_name(host: str, port: int) -> list[str]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        async with pinned_client(allow_private=False, network=Network(no_such_name, LoopbackOnlyNetwork())) as client:
            with pytest.raises(UnsafeUrl) as refused:
                await client.get("https://nowhere.example/keys")
        assert refused.value.reason == "unresolved"

    async def test_the_next_checked_address_is_tried_when_the_first_does_not_answer(self, partner: Server) -> None:
        network = LoopbackOnlyNetwork()
        network.route(PUBLIC, 80, partner.port)  # PUBLIC_V6 has no route: the stand-in network refuses it
        resolver = ScriptedResolver([[PUBLIC_V6, PUBLIC]])
        async with pinned_client(allow_private=False, network=Network(resolver, network)) as client:
            assert (await client.get("http://partner.example/")).text == "partner"
        assert network.asked == [(PUBLIC_V6, 80), (PUBLIC, 80)]

    async def test_one_connect_timeout_covers_the_name_and_all_its_addresses(self) -> None:
        class Silent(LoopbackOnlyNetwork):
            """Every connection hangs, whatever its own timeout: only the caller's deadline ends it."""

            async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
                self.asked.append((host, port))
                await asyncio.Event().wait()

        network = Silent()
        resolver = ScriptedResolver([[PUBLIC, PUBLIC_V6, "93.184.216.35"]])
        async with pinned_client(allow_private=False, network=Network(resolver, network), timeout=0.5) as client:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get("http://partner.example/")
        assert network.asked == [(PUBLIC, 80)]


# --- https: the name stays the TLS server name and the certificate's ---------------------------


@pytest.fixture
def certificates() -> Certificates:
    return Certificates.for_name("partner.example")


class TestHttps:
    async def test_https_connects_to_the_checked_address_with_the_names_sni_certificate_and_host(
        self, certificates: Certificates
    ) -> None:
        server = await Server(body=b"keys", tls=certificates.server_context).start()
        try:
            network = LoopbackOnlyNetwork()
            network.route(PUBLIC, 443, server.port)
            resolver = ScriptedResolver([[PUBLIC], ["127.0.0.1"]])
            async with pinned_client(
                allow_private=False, network=Network(resolver, network, certificates.client_context())
            ) as client:
                response = await client.get("https://partner.example/keys")
        finally:
            await server.stop()
        assert response.text == "keys"
        assert network.asked == [(PUBLIC, 443)]
        assert network.tls_server_names == ["partner.example"]  # what the client passed as server_hostname
        assert server.sni == ["partner.example"]  # what arrived in the TLS handshake
        assert server.host_headers() == ["partner.example"]

    async def test_the_certificate_is_checked_against_the_name_not_the_address(self) -> None:
        # A certificate for another name, served from the checked address: refused by the TLS check.
        other = Certificates.for_name("other.example")
        server = await Server(tls=other.server_context).start()
        try:
            network = LoopbackOnlyNetwork()
            network.route(PUBLIC, 443, server.port)
            async with pinned_client(
                allow_private=False, network=Network(ScriptedResolver([[PUBLIC]]), network, other.client_context())
            ) as client:
                with pytest.raises(httpx.ConnectError, match="certificate"):
                    await client.get("https://partner.example/keys")
        finally:
            await server.stop()
        assert server.heads == []


# --- dev and the early check ---------------------------------------------------------------------


class TestDevAndTheEarlyCheck:
    async def test_dev_calls_loopback_by_address_and_by_name(self, partner: Server) -> None:
        async with pinned_client(allow_private=True) as client:
            assert (await client.get(f"http://127.0.0.1:{partner.port}/")).text == "partner"
            assert (await client.get(f"http://localhost:{partner.port}/")).text == "partner"

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("ftp://93.184.216.34/", "scheme"),
            ("/relative", "scheme"),
            ("http:///nohost", "no_host"),
            ("http://user:pw@93.184.216.34/", "credentials"),
            ("http://93.184.216.34:port/", "malformed"),
            ("http://localhost/", "private"),
            ("http://[fe80::1]/", "private"),
        ],
    )
    async def test_the_early_check_explains_its_refusal(self, url: str, reason: str) -> None:
        with pytest.raises(UnsafeUrl) as refused:
            await check_url(url, allow_private=False)
        assert refused.value.reason == reason

    async def test_the_early_check_uses_the_resolver_it_is_given(self) -> None:
        await check_url("https://partner.example/", allow_private=False, network=Network(ScriptedResolver([[PUBLIC]])))
        with pytest.raises(UnsafeUrl):
            await check_url(
                "https://partner.example/", allow_private=False, network=Network(ScriptedResolver([["10.1.1.1"]]))
            )

    @pytest.mark.parametrize(
        ("address", "forbidden"),
        [
            ("93.184.216.34", False),
            (PUBLIC_V6, False),
            ("127.0.0.1", True),
            ("0.0.0.0", True),  # noqa: S104 (the unspecified address, as a destination)
            ("169.254.169.254", True),
            ("100.100.100.200", True),
            ("192.168.1.1", True),
            ("fd00::1", True),
            ("2002:7f00:1::1", True),  # 6to4 around 127.0.0.1
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo around 127.0.0.1
            ("224.0.0.1", True),
        ],
    )
    def test_only_globally_routable_addresses_are_public(self, address: str, forbidden: bool) -> None:
        assert is_forbidden(ipaddress.ip_address(address)) is forbidden
