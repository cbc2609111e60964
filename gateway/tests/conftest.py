"""Gateway test fixtures: a fresh migrated database per test, a real upstream over HTTP, and the app."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from gateway.config import GatewaySettings
from gateway.main import create_app
from pydantic import BaseModel
from servicekit.testing import TestDatabases, free_port, serve_in_process, wait_for_port
from servicekit.testing_fixtures import databases_fixture
from sqlalchemy import text

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
BIG_BODY_BYTES = 1_500_000
gateway_databases = databases_fixture("gateway", ALEMBIC_INI)


class Policy(BaseModel):
    code: str
    amount_fen: int


class Profile(BaseModel):
    name: str


def upstream_app(state: dict[str, Any]) -> FastAPI:
    """A stand-in service: documented routes, an echo for everything else, and a few misbehaviours."""
    app = FastAPI(title="stand-in service")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/internal/code-keys")
    async def code_keys() -> Response:
        if state.get("code_keys") is None:
            return JSONResponse({"detail": "not here"}, status_code=404)
        return JSONResponse({"keys": state["code_keys"]})

    @app.get("/internal/secret-admin")
    async def internal() -> dict[str, str]:
        return {"hidden": "yes"}

    @app.get("/api/v1/policies", response_model=list[Policy])
    async def policies() -> list[Policy]:
        return [Policy(code="rent-subsidy", amount_fen=150000)]

    @app.get("/api/v1/policies/big")
    async def big() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(BIG_BODY_BYTES // 10_000):
                yield b"x" * 10_000

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/api/v1/me/claims/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(3)
        return {"status": "late"}

    @app.put("/api/v1/me/profile", response_model=Profile)
    async def put_profile(profile: Profile) -> Profile:
        return profile

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], include_in_schema=False)
    async def echo(path: str, request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": {k: v for k, v in request.headers.items()},
                "body": body.decode("utf-8", "replace"),
            },
            headers={"X-Upstream": "stand-in", "Connection": "keep-alive"},
        )

    return app


class UpstreamServer:
    """The stand-in service on a free port, served by uvicorn in a thread."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            upstream_app(self.state), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="upstream", daemon=True)

    def start(self) -> UpstreamServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def gateway_database_url(gateway_databases: TestDatabases) -> Iterator[str]:
    with gateway_databases.fresh() as url:
        yield url


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _keep_pytest_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI configures logging for a real process; in tests pytest owns the log handlers."""
    monkeypatch.setattr("gateway.cli.configure_logging", lambda *args, **kwargs: None)


@pytest.fixture
def dead_url() -> str:
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


SettingsFactory = Callable[..., GatewaySettings]


@pytest.fixture
def make_settings(gateway_database_url: str, upstream: UpstreamServer) -> SettingsFactory:
    def make(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "environment": "dev",
            "database_url": gateway_database_url,
            "applicant_url": upstream.url,
            "benefits_url": upstream.url,
            "housing_url": upstream.url,
            "notify_url": upstream.url,
            "insight_url": upstream.url,
            # Cheap argon2 keeps seeding the dev accounts fast; production uses the defaults.
            "argon2_time_cost": 1,
            "argon2_memory_kib": 64,
            "argon2_parallelism": 1,
            "rate_limit_read_per_minute": 10_000,
            "rate_limit_write_per_minute": 10_000,
            "rate_limit_auth_per_minute": 10_000,
            "otp_min_interval_s": 0,
            "code_keys_cache_s": 0,
            "openapi_cache_s": 0,
            "upstream_timeout_s": 5.0,
            "log_json": False,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return make


class Gateway:
    """A running gateway app with an HTTP client and sign-in helpers."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        """Run raw SQL against the gateway's database (to inspect what is stored, or to age a row)."""
        async with self.runtime.database.engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    async def otp_code(self, phone: str) -> str:
        response = await self.client.post("/api/v1/auth/otp", json={"phone": phone})
        assert response.status_code == 202, response.text
        return str(response.json()["dev_code"])

    async def token(self, **form: str) -> httpx.Response:
        return await self.client.post("/api/v1/auth/token", data=form)

    async def talent(self, phone: str = "+8613800000001") -> dict[str, Any]:
        code = await self.otp_code(phone)
        response = await self.token(grant_type="otp", phone=phone, code=code)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def official(self, username: str) -> dict[str, Any]:
        response = await self.token(grant_type="password", username=username, password="dev-password")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def partner(self, client_id: str = "partner.hospital") -> dict[str, Any]:
        response = await self.token(grant_type="client_credentials", client_id=client_id, client_secret="dev-secret")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def bearer(self, who: str) -> dict[str, str]:
        """Authorization headers for 'talent', 'partner' or an official's username."""
        if who == "talent":
            tokens = await self.talent()
        elif who.startswith("partner"):
            tokens = await self.partner("partner.hospital" if who == "partner" else who)
        else:
            tokens = await self.official(who)
        return {"Authorization": f"Bearer {tokens['access_token']}"}


GatewayFactory = Callable[..., Any]


@pytest.fixture
async def start_gateway(make_settings: SettingsFactory) -> AsyncIterator[GatewayFactory]:
    """Start gateways with settings overrides; each is shut down when the test ends."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Gateway:
            app = create_app(make_settings(**overrides))
            client = await stack.enter_async_context(serve_in_process(app, base_url="http://gateway.test"))
            return Gateway(app, client)

        yield start


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> Gateway:
    gw: Gateway = await start_gateway()
    return gw


def problem_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body["title"] and body["detail"] and body["type"]
    return body


@pytest.fixture
def problem() -> Callable[[httpx.Response], dict[str, Any]]:
    return problem_of
