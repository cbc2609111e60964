"""Dependencies of the gateway's endpoints, as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from servicekit.auth import Principal
from servicekit.middleware import client_ip
from servicekit.problems import Forbidden, Unauthorized
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import Scope

from gateway.exceptions import OAuthError, RateLimited, RouteNotFound
from gateway.routes import GATEWAY, access_rule, resolve_service, route_group
from gateway.runtime import GatewayRuntime
from gateway.service import AuthComponents


# Every dependency here is `async def`: FastAPI runs a plain `def` one in the thread pool, a thread hop
# per request for what is an attribute read.
async def get_runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


DOT_SEGMENTS = frozenset({".", ".."})

RuntimeDep = Annotated[GatewayRuntime, Depends(get_runtime)]


async def get_auth(runtime: RuntimeDep) -> AuthComponents:
    return runtime.auth


AuthDep = Annotated[AuthComponents, Depends(get_auth)]


async def get_auth_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The unit of work of a sign-in: also committed when the sign-in fails in a way that changes state
    (a wrong code counted, an account locked, a reused refresh token's family revoked)."""
    async with runtime.database.sessionmaker() as session:
        try:
            yield session
        except OAuthError as exc:
            if exc.keeps_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


AuthSessionDep = Annotated[AsyncSession, Depends(get_auth_session, scope="function")]


async def limit_rate(runtime: RuntimeDep, key: str, group: str, limit_name: str) -> None:
    if not runtime.settings.rate_limit_enabled:
        return
    retry_after = await runtime.rate_limiter.hit(f"{group}|{key}", runtime.limits[limit_name])
    if retry_after is not None:
        raise RateLimited(retry_after)


async def auth_rate_limit(request: Request, runtime: RuntimeDep) -> None:
    """Sign-in endpoints are limited per client address."""
    await limit_rate(runtime, f"ip:{client_ip(request.scope)}", "auth", "auth")


async def _bearer_principal(authorization: str | None, runtime: GatewayRuntime) -> Principal | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(key="gateway.auth.bearer_format", headers=_challenge())
    try:
        return await runtime.token_verifier.verify(token.strip())
    except Unauthorized as exc:
        challenge = _challenge('error="invalid_token"')
        raise Unauthorized(exc.detail, key=exc.key, params=exc.params, headers=challenge) from exc


def _challenge(extra: str = "") -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="talent-platform"{", " + extra if extra else ""}'}


async def authorize(
    runtime: GatewayRuntime, scope: Scope, path: str, service: str | None, authorization: str | None
) -> str:
    """Check a routed call against its service (resolved by the caller from `path`): authenticate, rate-limit
    and apply the route's role rule; the service to forward to, or the problem to answer with."""
    method = scope["method"]
    # A `.` or `..` segment (sent encoded, %2E%2E) would be resolved away on the way to the service, so
    # the role rule checked here would not be the one of the path the service serves.
    if service is None or ("/." in path and DOT_SEGMENTS.intersection(path.split("/"))):
        raise RouteNotFound(path)
    rule = access_rule(method, path, service)
    try:
        principal = await _bearer_principal(authorization, runtime)
    except Unauthorized:
        if not rule.public:
            raise
        principal = None  # a public read with a stale token is still a public read
    if runtime.settings.rate_limit_enabled:
        caller = f"sub:{principal.sub}" if principal else f"ip:{client_ip(scope)}"
        group = route_group(service, method)
        await limit_rate(runtime, caller, group, group.rsplit(":", 1)[1])
    if rule.public:
        return service
    if principal is None:
        raise Unauthorized(key="gateway.auth.token_needed", headers=_challenge())
    if rule.roles and not principal.has_any(rule.roles):
        raise Forbidden(key="auth.role_required", params={"roles": ", ".join(sorted(rule.roles))})
    if service == GATEWAY:
        # The gateway's own operations are answered by its own routers, mounted before the proxy: a path
        # below them that reaches the proxy names no operation (there is no upstream to ask).
        raise RouteNotFound(path)
    return service


async def routed_service(request: Request, runtime: RuntimeDep) -> str:
    """Resolve the owning service, then authenticate, rate-limit and apply the route's role rule."""
    path = request.url.path
    return await authorize(runtime, request.scope, path, resolve_service(path), request.headers.get("authorization"))


RoutedService = Annotated[str, Depends(routed_service)]
