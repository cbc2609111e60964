"""The gateway's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from servicekit.auth import document_roles
from servicekit.hardening import NoStoreMiddleware, NulCharacterMiddleware, UrlLengthLimitMiddleware
from servicekit.health import health_router
from servicekit.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from servicekit.problems import install_problem_handlers
from servicekit.tracing import NATIVE_TELEMETRY_OFF, TracingMiddleware, configure_tracing, shutdown_tracing

from gateway.admin import RuntimeTokenVerifier, include_own_routers
from gateway.config import GatewaySettings, get_settings
from gateway.openapi import BEARER_SCHEME, bearer_security_scheme
from gateway.ratelimit import RedisRateLimiter
from gateway.router import DOCS_STATIC, ProxyRoute, auth_router, docs_router, keys_router, proxy_router
from gateway.routes import SERVICES
from gateway.runtime import GatewayRuntime
from gateway.web import mount_web

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
DESCRIPTION = (
    "The public door of the 人才码 talent platform: sign-in (one-time codes, passwords, client credentials), "
    "tokens and their keys, and every service's API behind one base URL. Errors are RFC 9457 problem+json. "
    "The events (Kafka topics and partner webhooks) are described in AsyncAPI 3.0 at "
    "[/asyncapi.json](/asyncapi.json), readable at [/asyncapi/](/asyncapi/)."
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway; the lifespan checks the accounts, loads keys and opens the upstream pool."""
    settings = settings or get_settings()
    runtime = GatewayRuntime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        traced = configure_tracing("gateway")
        try:
            await runtime.start()
            yield
        finally:
            await runtime.stop()
            if traced:
                shutdown_tracing()

    app = FastAPI(
        title="Talent platform API",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,  # /openapi.json is the merged document, served by docs_router
        docs_url=None,
        redoc_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.database = runtime.database
    # servicekit's principal dependencies (the gateway's own admin operations) verify with the runtime's keys.
    app.state.token_verifier = RuntimeTokenVerifier(runtime)
    checks: dict[str, Any] = {"database": runtime.database.ping}
    for name in SERVICES:
        checks[name] = _upstream_check(runtime, name)
    if isinstance(runtime.rate_limiter, RedisRateLimiter):
        checks["redis"] = runtime.rate_limiter.ping
    app.state.readiness_checks = checks

    install_problem_handlers(app)
    app.add_middleware(NulCharacterMiddleware)  # inside the body limit: it reads bodies that limit bounds
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, path_limits=settings.body_limits())
    # Inside CORS, so that a browser may read these refusals too.
    app.add_middleware(UrlLengthLimitMiddleware, max_bytes=settings.max_url_bytes)
    app.add_middleware(NoStoreMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "Accept-Language"],
        expose_headers=["X-Request-ID", "Retry-After", "Location"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(RequestContextMiddleware)
    # Outermost: the request's span is current for the proxy, which hands it on to the service.
    app.add_middleware(TracingMiddleware)
    # The public door serves no metrics: `gateway serve --metrics-port` serves them on an internal port.
    app.include_router(health_router(metrics=False))
    app.include_router(auth_router)
    app.include_router(keys_router)
    app.include_router(docs_router)
    app.mount(DOCS_STATIC, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-static")
    include_own_routers(app)  # before the proxy: its catch-all would take their paths
    app.include_router(proxy_router)
    # First of all routes: a call to a service's path is matched by the route table alone (gateway.router).
    app.router.routes.insert(0, ProxyRoute())
    mount_web(app)  # /console/, /app/ (the browser front ends) and / → /app/
    app.openapi = lambda: _own_openapi(app)  # type: ignore[method-assign]
    document_roles(app)  # x-roles on the gateway's own operations, as on the services'
    return app


def _upstream_check(runtime: GatewayRuntime, name: str) -> Any:
    async def check() -> None:
        await runtime.check_upstream(name)

    return check


def _own_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER_SCHEME] = (
            bearer_security_scheme()
        )
        _problem_bodies_as_problem_json(document)
        app.openapi_schema = document
    return app.openapi_schema


def _problem_bodies_as_problem_json(document: dict[str, Any]) -> None:
    # FastAPI files a response model under application/json; errors are sent as application/problem+json.
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values() if isinstance(operation, dict) else ():
                content = response.get("content", {})
                if "application/problem+json" in content and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
