"""A stand-in for DNS and the internet, for tests of safe_http's pinned connections that never leave loopback.

`ScriptedResolver` answers a name from a script (a public-looking address first, 127.0.0.1 next: DNS rebinding).
`LoopbackOnlyNetwork` is the connector PinnedBackend opens TCP connections with: it records every destination
and TLS server name it is asked for, connects loopback destinations for real, carries a "public" address to a
loopback server the test stands in for it (`route`), and refuses anything else before a socket exists.
`Certificates` is a test CA and a server certificate it signed for one name, for https on those servers.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class ScriptedResolver:
    """Answers the script's lists in turn (the last one again when the script runs out; no name at all while it
    is empty); records each question."""

    script: Sequence[Sequence[str]]
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if not self.script:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no answer scripted")
        return list(self.script[min(len(self.asked), len(self.script)) - 1])


class _RecordingStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, network: LoopbackOnlyNetwork) -> None:
        self.inner, self.network = inner, network

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        self.network.tls_server_names.append(server_hostname)
        return _RecordingStream(await self.inner.start_tls(ssl_context, server_hostname, timeout), self.network)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class LoopbackOnlyNetwork(httpcore.AsyncNetworkBackend):
    """Connects only to loopback: a routed stand-in address goes to its loopback port, anything else is refused."""

    def __init__(self, routes: dict[tuple[str, int], int] | None = None) -> None:
        self.routes = dict(routes or {})  # (stand-in address, port) -> the loopback port that answers for it
        self.asked: list[tuple[str, int]] = []  # every (host, port) a connection was asked for, in order
        self.tls_server_names: list[str | None] = []
        self._real = httpcore.AnyIOBackend()

    def route(self, address: str, port: int, loopback_port: int) -> None:
        self.routes[(address, port)] = loopback_port

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            # PinnedBackend hands over addresses only; a name here would be resolved by someone unchecked.
            raise httpcore.ConnectError(f"test network: asked for the name {host}, not an address") from None
        if (host, port) in self.routes:
            destination = ("127.0.0.1", self.routes[(host, port)])
        elif address.is_loopback:
            destination = (host, port)
        else:
            raise httpcore.ConnectError(f"test network: no route to {host} (tests never leave loopback)")
        stream = await self._real.connect_tcp(*destination, timeout=timeout, socket_options=socket_options)
        return _RecordingStream(stream, self)

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


@dataclass
class Certificates:
    """A test CA and a server certificate it signed for one DNS name (and nothing else: no address)."""

    ca_pem: bytes
    server_context: ssl.SSLContext

    def client_context(self) -> ssl.SSLContext:
        """Trusts this CA only."""
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    @classmethod
    def for_name(cls, name: str) -> Certificates:
        now = datetime.datetime.now(datetime.UTC)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "servicekit test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
            cert_file, key_file = Path(folder) / "server.pem", Path(folder) / "server.key"
            cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
            key_file.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            server_context.load_cert_chain(cert_file, key_file)
        return cls(ca.public_bytes(serialization.Encoding.PEM), server_context)
