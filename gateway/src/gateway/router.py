"""The gateway's endpoints: sign-in, keys, the merged API documentation, and the proxy to the services."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from contracts.asyncapi import asyncapi_document
from fastapi import APIRouter, Depends, Form, Header, Request, Response, status
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from servicekit.db import SessionDep
from servicekit.middleware import client_ip
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gateway import service
from gateway.dependencies import AuthDep, AuthSessionDep, RoutedService, RuntimeDep, auth_rate_limit, authorize
from gateway.keys import code_jwks
from gateway.routes import GATEWAY, resolve_service
from gateway.schemas import (
    Jwks,
    OtpIssued,
    OtpRequest,
    TokenForm,
    TokenResponse,
    TokenRevocation,
    problem_responses,
)

DOCS_STATIC = "/docs/static"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PROXY_PATH = "/api/{path:path}"
_PROXY_METHODS = frozenset(PROXY_METHODS)
_AUTHORIZATION = b"authorization"

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"], dependencies=[Depends(auth_rate_limit)])
keys_router = APIRouter(tags=["auth"])
docs_router = APIRouter(include_in_schema=False)
proxy_router = APIRouter(include_in_schema=False)


@auth_router.post(
    "/otp",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OtpIssued,
    response_model_exclude_none=True,
    responses=problem_responses(400, 422, 429, 503),
)
async def request_otp(body: OtpRequest, session: SessionDep, auth: AuthDep) -> OtpIssued:
    """Send a one-time sign-in code to a talent's phone."""
    return await service.request_otp(session, auth, body.phone)


@auth_router.post(
    "/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=problem_responses(400, 401, 429),
)
async def issue_token(
    form: Annotated[TokenForm, Form()],
    request: Request,
    session: AuthSessionDep,
    auth: AuthDep,
    response: Response,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenResponse:
    """Exchange a code, a password, client credentials or a refresh token for tokens (RFC 6749)."""
    response.headers["Cache-Control"] = "no-store"
    return await service.exchange(session, auth, form, authorization, source=client_ip(request.scope))


@auth_router.post(
    "/revoke",
    response_class=Response,  # RFC 7009: an empty 200, whether or not there was anything to revoke
    responses={200: {"description": "Revoked, or nothing to revoke (the same answer)"}, **problem_responses(422, 429)},
)
async def revoke_token(
    form: Annotated[TokenRevocation, Form()], session: AuthSessionDep, auth: AuthDep, runtime: RuntimeDep
) -> Response:
    """Sign out (RFC 7009): revoke a refresh token's family or an access token; the answer is always 200."""
    await service.revoke_token(session, auth, form.token, runtime.token_verifier)
    return Response(status_code=status.HTTP_200_OK, headers={"Cache-Control": "no-store"})


@keys_router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    """The public keys of access tokens, and only those (talent-code keys have their own set)."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return runtime.keyring.jwks()


@keys_router.get("/.well-known/talent-code/jwks.json", response_model=Jwks)
async def talent_code_jwks(runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    """The public keys of talent codes, and only those: verify a code offline with any JWKS client."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return code_jwks(await runtime.code_keys.keys())


@docs_router.get("/openapi.json")
async def openapi(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """The gateway's OpenAPI document merged with every reachable service's public paths."""
    return JSONResponse(await runtime.openapi.document(request.app.openapi))


@cache
def _asyncapi() -> dict[str, Any]:
    return asyncapi_document()  # built from the contracts this gateway ships with: the same until a release


@docs_router.get("/asyncapi.json")
async def asyncapi() -> JSONResponse:
    """The AsyncAPI 3.0 document of the platform's events: Kafka topics, every event type, the partner webhook."""
    return JSONResponse(_asyncapi(), headers={"Cache-Control": "public, max-age=300"})


@docs_router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Swagger UI, served from bundled assets (nothing is fetched from the internet)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Talent platform API",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@docs_router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page."""
    return get_swagger_ui_oauth2_redirect_html()


@proxy_router.api_route(PROXY_PATH, methods=PROXY_METHODS)
async def proxy(request: Request, service_name: RoutedService, runtime: RuntimeDep) -> Response:
    """Forward an API call to the service that owns its path."""
    return await runtime.proxy.forward(request, service_name)


class ProxyRoute(BaseRoute):
    """The proxy for every path a service owns, as a plain ASGI route placed first among the app's routes.

    A routed call needs none of FastAPI's machinery (no parameters, no body model, no dependency graph): it
    is matched by the route table alone, checked (token, rate limit, role rule) and forwarded. Paths no
    service owns, and the gateway's own, do not match here: they go on to the gateway's routers, and to the
    `proxy` catch-all above (a 404 problem for what no operation names). Errors are raised as with any route,
    so the app's problem handlers answer them.
    """

    path = PROXY_PATH  # the route label of metrics and traces, as the catch-all's
    path_format = PROXY_PATH
    name = "proxy"
    methods = _PROXY_METHODS

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] in _PROXY_METHODS:
            path: str = scope["path"]
            if path.startswith("/api/"):
                service = resolve_service(path)
                if service is not None and service != GATEWAY:
                    return Match.FULL, {"route": self, "gateway.service": service}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = scope["app"].state.runtime
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == _AUTHORIZATION), None)
        service = await authorize(runtime, scope, scope["path"], scope["gateway.service"], authorization)
        response = await runtime.proxy.forward_asgi(scope, receive, service)
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)
