"""The gateway's own operations below /api/v1 that need a token: registering employers (admins) and the
gateway's audit log (auditors).

They are declared like the services' (servicekit's role dependencies, so the OpenAPI document carries
x-roles) and go into the generated route table under the service name `gateway`: the security suite and the
role rules cover them like any other operation. The app mounts these routers before the proxy, so the proxy
never sees their paths; a path below them that no operation names is a 404 (gateway.dependencies).
This module does not import gateway.routes: scripts/generate_routes.py reads it to write that table.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
from servicekit.audit import audit_router
from servicekit.auth import CurrentPrincipal, Principal, document_roles, require_roles
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep
from servicekit.problems import COMMON_PROBLEM_STATUSES

from gateway import employers, throttle
from gateway.exceptions import RateLimited
from gateway.routetable import GATEWAY
from gateway.schemas import (
    EmployerCreate,
    EmployerDisable,
    EmployerPublic,
    EmployerUserCreate,
    SignInUnlocked,
    problem_responses,
)
from gateway.service import AuthComponents

READ_METHODS = frozenset({"GET", "HEAD"})


async def own_rate_limit(request: Request, principal: CurrentPrincipal) -> None:
    """The same per-caller limits as a routed call (group `gateway:read` / `gateway:write`)."""
    runtime = request.app.state.runtime
    if not runtime.settings.rate_limit_enabled:
        return
    kind = "read" if request.method in READ_METHODS else "write"
    retry_after = await runtime.rate_limiter.hit(f"{GATEWAY}:{kind}|sub:{principal.sub}", runtime.limits[kind])
    if retry_after is not None:
        raise RateLimited(retry_after)


async def get_auth(request: Request) -> AuthComponents:
    auth: AuthComponents = request.app.state.runtime.auth
    return auth


AuthDep = Annotated[AuthComponents, Depends(get_auth)]
AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
EmployerId = Annotated[str, Path(max_length=64)]

employers_router = APIRouter(prefix="/api/v1/admin/employers", tags=["employers"])


@employers_router.post("", status_code=status.HTTP_201_CREATED, response_model=EmployerPublic)
async def create_employer(
    body: EmployerCreate,
    session: SessionDep,
    auth: AuthDep,
    admin: AdminPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Register an employer (用人单位) and its first user."""

    async def create() -> EmployerPublic:
        return await employers.create_employer(session, auth, admin, body)

    # The request's fingerprint holds the password only as a keyed hash (never a plain digest of it).
    fingerprint = {**body.model_dump(exclude={"password"}), "password": auth.hasher.digest("idem", body.password)}
    return await run_idempotent(
        session, admin, idempotency_key, operation="POST /api/v1/admin/employers", body=fingerprint, create=create
    )


@employers_router.get("", response_model=Page[EmployerPublic])
async def list_employers(
    session: SessionDep,
    _: AdminPrincipal,
    page: PageDep,
    credit_code: Annotated[str | None, Query(max_length=40, description="only this employer")] = None,
) -> Page[EmployerPublic]:
    """Employers, newest first, each with its users."""
    return await employers.list_employers(session, page, credit_code)


@employers_router.get("/{employer_id}", response_model=EmployerPublic)
async def get_employer(employer_id: EmployerId, session: SessionDep, _: AdminPrincipal) -> EmployerPublic:
    """One employer with its users."""
    return await employers.get_employer(session, employer_id)


@employers_router.post("/{employer_id}/users", status_code=status.HTTP_201_CREATED, response_model=EmployerPublic)
async def add_employer_user(
    employer_id: EmployerId,
    body: EmployerUserCreate,
    session: SessionDep,
    auth: AuthDep,
    admin: AdminPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Add a user to an employer."""

    async def create() -> EmployerPublic:
        return await employers.add_user(session, auth, admin, employer_id, body)

    fingerprint = {"username": body.username, "password": auth.hasher.digest("idem", body.password)}
    return await run_idempotent(
        session,
        admin,
        idempotency_key,
        operation=f"POST /api/v1/admin/employers/{employer_id}/users",
        body=fingerprint,
        create=create,
    )


@employers_router.post("/{employer_id}/disable", response_model=EmployerPublic)
async def disable_employer(
    employer_id: EmployerId, body: EmployerDisable, session: SessionDep, auth: AuthDep, admin: AdminPrincipal
) -> EmployerPublic:
    """Disable an employer: its users can no longer sign in, their tokens are revoked."""
    return await employers.disable_employer(session, auth, admin, employer_id, body)


accounts_router = APIRouter(prefix="/api/v1/admin/accounts", tags=["accounts"])


@accounts_router.post("/{username}/unlock", response_model=SignInUnlocked)
async def unlock_sign_in(
    username: Annotated[str, Path(max_length=64)], session: SessionDep, auth: AuthDep, admin: AdminPrincipal
) -> SignInUnlocked:
    """Lift every wait on a password account's sign-ins (each source's back-off and the account-wide hold)."""
    return await throttle.unlock(session, auth.hasher, admin, username)


def own_routers() -> list[APIRouter]:
    """The gateway's operations that need a token, each rate-limited per caller like a routed call."""
    return [employers_router, accounts_router, audit_router(GATEWAY)]


def include_own_routers(app: FastAPI) -> None:
    # Each documents the problem+json answers any operation may give, as the services' do (servicekit.app).
    errors = problem_responses(*COMMON_PROBLEM_STATUSES)
    for router in own_routers():
        app.include_router(router, dependencies=[Depends(own_rate_limit)], responses=errors)


def own_openapi() -> dict[str, Any]:
    """The OpenAPI document of these operations alone, with x-roles (for scripts/generate_routes.py)."""
    app = FastAPI(title="gateway")
    include_own_routers(app)
    document_roles(app)
    return app.openapi()


class RuntimeTokenVerifier:
    """What servicekit's `get_principal` calls (app.state.token_verifier): the runtime's current verifier,
    which is replaced when the signing keys change."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    async def verify(self, token: str) -> Principal:
        principal: Principal = await self._runtime.token_verifier.verify(token)
        return principal
