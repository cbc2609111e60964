"""The public door leaks nothing small (issue 15, finding 6): no metrics for outsiders (operators scrape an
internal port), no personal data in caches, no NUL characters, and over-long URLs answered as problems — on
the gateway as `gateway serve` runs it (a real uvicorn on loopback) and in process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gateway.routes import SERVICES
from servicekit.testing import free_port

from .conftest import Gateway, UpstreamServer, problem_of

GATEWAY = Path(sys.executable).parent / "gateway"


@dataclass
class ServedGateway:
    url: str
    port: int
    metrics_url: str


@pytest.fixture(scope="module")
def served_gateway(upstream: UpstreamServer) -> Iterator[ServedGateway]:
    """`gateway serve --metrics-port` as a real process, as the deployments start it."""
    port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="gateway-hardening-") as workdir:
        env = {
            **os.environ,
            "TALENT_ENV": "dev",
            "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/gateway.db",
            "GATEWAY_ARGON2_TIME_COST": "1",
            "GATEWAY_ARGON2_MEMORY_KIB": "64",
            "GATEWAY_ARGON2_PARALLELISM": "1",
            **{f"GATEWAY_{name.upper()}_URL": upstream.url for name in SERVICES},
        }
        command = [str(GATEWAY), "serve", "--port", str(port), "--metrics-port", str(metrics_port)]
        with open(Path(workdir) / "gateway.log", "wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
            try:
                _wait_listening(process, port, Path(workdir) / "gateway.log")
                yield ServedGateway(f"http://127.0.0.1:{port}", port, f"http://127.0.0.1:{metrics_port}")
            finally:
                process.terminate()
                process.wait(timeout=30)


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + float(os.environ.get("STACK_READY_TIMEOUT_S", "120"))
    while not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gateway serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _raw_get(port: int, target: str) -> tuple[int, str, bytes]:
    """GET with a request line of any length (httpx itself refuses URLs over 64 KiB): status, type, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    content_type = next(
        (line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type:")), ""
    )
    return int(lines[0].split()[1]), content_type, body


class TestMetrics:
    def test_the_public_port_serves_no_metrics(self, served_gateway: ServedGateway) -> None:
        response = httpx.get(f"{served_gateway.url}/metrics")
        assert response.status_code == 404
        problem_of(response)
        assert "http_requests_total" not in response.text

    def test_an_operator_scrapes_the_internal_port(self, served_gateway: ServedGateway) -> None:
        assert httpx.get(f"{served_gateway.url}/healthz").status_code == 200
        response = httpx.get(f"{served_gateway.metrics_url}/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


class TestOverLongUrls:
    def test_a_url_over_8_kib_is_a_414_problem(self, served_gateway: ServedGateway) -> None:
        status, content_type, body = _raw_get(served_gateway.port, "/api/v1/policies?q=" + "a" * 20_000)
        assert (status, content_type) == (414, "application/problem+json"), body[:200]

    def test_a_100_kib_query_meets_the_servers_own_limit(self, served_gateway: ServedGateway) -> None:
        # Over 64 KiB the HTTP server refuses the request line before the application sees it: the documented
        # limit (docs/operations.md#request-limits), a 400 that closes the connection and nothing else.
        status, content_type, _ = _raw_get(served_gateway.port, "/api/v1/policies?q=" + "a" * 100_000)
        assert status == 400 and content_type.startswith("text/plain")
        assert httpx.get(f"{served_gateway.url}/healthz").status_code == 200

    def test_the_largest_url_the_server_reads_is_answered_as_a_problem(self, served_gateway: ServedGateway) -> None:
        status, content_type, _ = _raw_get(served_gateway.port, "/api/v1/policies?q=" + "a" * 65_000)
        assert (status, content_type) == (414, "application/problem+json")


class TestNoStore:
    async def test_a_proxied_answer_to_a_signed_in_caller_is_not_cached(self, gateway: Gateway) -> None:
        headers = await gateway.bearer("talent")
        for path in ("/api/v1/me/profile", "/api/v1/me/claims", "/api/v1/me/documents/d1"):
            response = await gateway.client.get(path, headers=headers)
            assert response.headers["cache-control"] == "no-store", path

    async def test_the_gateways_own_answers_to_signed_in_callers_are_not_cached(self, gateway: Gateway) -> None:
        headers = await gateway.bearer("admin")
        response = await gateway.client.get("/api/v1/admin/employers", headers=headers)
        assert response.headers["cache-control"] == "no-store", response.text

    async def test_public_key_sets_keep_their_caching(self, gateway: Gateway) -> None:
        headers = await gateway.bearer("talent")
        for caller in ({}, headers):
            response = await gateway.client.get("/.well-known/jwks.json", headers=caller)
            assert response.headers["cache-control"] == "public, max-age=60"


class TestNulCharacters:
    async def test_a_nul_in_a_sign_in_form_is_a_422_naming_the_field(self, gateway: Gateway) -> None:
        response = await gateway.token(grant_type="password", username="admin\u0000", password="dev-password")
        assert response.status_code == 422
        assert [e["field"] for e in problem_of(response)["errors"]] == ["username"]

    async def test_a_raw_nul_byte_in_a_form_is_refused_as_well(self, gateway: Gateway) -> None:
        form = b"grant_type=password&username=admin\x00&password=dev-password"
        content_type = {"Content-Type": "application/x-www-form-urlencoded"}
        response = await gateway.client.post("/api/v1/auth/token", content=form, headers=content_type)
        assert response.status_code == 422
        assert [e["field"] for e in problem_of(response)["errors"]] == ["username"]

    async def test_a_nul_in_a_json_body_is_refused_before_the_proxy(self, gateway: Gateway) -> None:
        headers = await gateway.bearer("talent")
        response = await gateway.client.put("/api/v1/me/profile", json={"name": "张\u0000三"}, headers=headers)
        assert response.status_code == 422
        assert [e["field"] for e in problem_of(response)["errors"]] == ["name"]
