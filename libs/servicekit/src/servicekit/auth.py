"""Access-token verification (ES256 only, keys from the gateway's JWKS) and principal dependencies."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import JWTError, jwk, jwt
from jose.backends.base import Key
from jose.exceptions import JOSEError

from servicekit.problems import Forbidden, Unauthorized

logger = logging.getLogger("servicekit.auth")

ALGORITHM = "ES256"
ROLES = (
    "talent",
    "employer",
    "county_reviewer",
    "city_approver",
    "finance_officer",
    "housing_officer",
    "auditor",
    "leader",
    "admin",
    "partner",
)


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the gateway's signed token says."""

    sub: str
    roles: frozenset[str]
    region: str | None = None
    scope: str = ""
    partner_kind: str | None = None
    token_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)


class KeySource(Protocol):
    async def fetch(self) -> dict[str, Any]: ...


class HttpJwks:
    """Reads a JWKS document over HTTP (the gateway's /.well-known/jwks.json)."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout

    async def fetch(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body


class StaticJwks:
    """A JWKS held in memory (tests, or keys mounted from a file)."""

    def __init__(self, document: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        self.document = document

    async def fetch(self) -> dict[str, Any]:
        return self.document() if callable(self.document) else self.document


class TokenVerifier:
    """Verifies access tokens; public keys are built once, cached, and refetched once on an unknown kid.

    Verified tokens are remembered (a bounded LRU keyed by the SHA-256 of the token, never the token itself)
    until their `exp`, so a client that sends the same access token again costs a hash and a dict lookup
    instead of an ECDSA verification (~100 µs). This is safe because an access token cannot be revoked
    before it expires anyway (there is no deny-list: sign-out and refresh-token reuse revoke refresh
    tokens, and access tokens live 15 minutes), so the cache answers exactly what a fresh verification
    would until `exp`, and not a second longer. A change of the key set empties it, so a withdrawn key
    stops verifying at once.
    """

    def __init__(
        self,
        source: KeySource,
        *,
        issuer: str,
        audience: str,
        min_refetch_interval_s: float = 10.0,
        leeway_s: int = 5,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.issuer = issuer
        self.audience = audience
        self.min_refetch_interval_s = min_refetch_interval_s
        self.leeway_s = leeway_s
        self.cache_size = cache_size
        self._clock = clock
        # sha256(token) -> (exp as epoch seconds, principal); most recently used last.
        self._verified: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._keys: dict[str, Key] = {}
        self._generation = 0  # completed fetches of the key set
        self._refetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        seen = self._generation
        async with self._lock:
            if self._generation != seen:
                return  # another coroutine fetched the keys while this one waited
            # The first fill does not count: after it, an unknown kid refetches at once, but unknown kids
            # refetch at most once per interval so they cannot hammer the gateway.
            if seen and time.monotonic() - self._refetched_at < self.min_refetch_interval_s:
                return
            document = await self.source.fetch()
            if not isinstance(document, dict):
                raise ValueError("the JWKS document is not a JSON object")
            keys: dict[str, Key] = {}
            for entry in document.get("keys", []):
                if not isinstance(entry, dict) or not entry.get("kid"):
                    continue
                if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
                    continue
                try:
                    keys[entry["kid"]] = jwk.construct(entry, ALGORITHM)
                except (JOSEError, ValueError, TypeError) as exc:  # one bad entry must not disable the others
                    logger.warning("ignoring unusable JWKS key %r: %s", entry.get("kid"), exc)
            if keys.keys() != self._keys.keys() or any(keys[k].to_dict() != self._keys[k].to_dict() for k in keys):
                self._verified.clear()  # a withdrawn or replaced key must stop verifying at once
            self._keys = keys
            if seen:
                self._refetched_at = time.monotonic()
            self._generation += 1

    async def _key_for(self, kid: str) -> Key:
        if kid not in self._keys:
            try:
                await self._refresh()
            except (httpx.HTTPError, ValueError) as exc:
                raise Unauthorized(
                    "The token's signing keys cannot be fetched right now.", key="auth.keys_unavailable"
                ) from exc
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("The token was signed with an unknown key.", key="auth.unknown_key")
        return key

    async def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            if self._clock() < cached[0]:
                self._verified.move_to_end(digest)
                return cached[1]
            del self._verified[digest]  # expired: verify again (and fail with the usual message)
        principal = await self._verify(token)
        exp = principal.claims.get("exp")
        if self.cache_size > 0 and isinstance(exp, int | float) and not isinstance(exp, bool):
            self._verified[digest] = (float(exp), principal)
            if len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except JWTError as exc:
            raise Unauthorized("The bearer token is malformed.", key="auth.token_malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(
                f"Only {ALGORITHM} tokens are accepted.", key="auth.algorithm", params={"algorithm": ALGORITHM}
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token has no key id.", key="auth.no_key_id")
        key = await self._key_for(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require_exp": True, "require_iat": True, "require_sub": True, "leeway": self.leeway_s},
            )
        except JWTError as exc:
            raise Unauthorized(
                f"The token is not valid: {exc}.", key="auth.token_invalid", params={"reason": str(exc)}
            ) from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("The token's roles claim is malformed.", key="auth.roles_malformed")
        return Principal(
            sub=str(claims["sub"]),
            roles=frozenset(roles),
            region=claims.get("region"),
            scope=str(claims.get("scope", "")),
            partner_kind=claims.get("partner_kind"),
            token_id=claims.get("jti"),
            claims=claims,
        )


_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/token")


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "A bearer token is required.", key="auth.token_required", headers={"WWW-Authenticate": "Bearer"}
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only callers holding one of these roles through."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(roles):
            raise Forbidden(
                f"This action needs one of the roles: {', '.join(roles)}.",
                key="auth.role_required",
                params={"roles": ", ".join(roles)},
            )
        return principal

    dependency.required_roles = roles  # type: ignore[attr-defined]
    return dependency


TalentPrincipal = Annotated[Principal, Depends(require_roles("talent"))]
PartnerPrincipal = Annotated[Principal, Depends(require_roles("partner"))]

# OpenAPI extensions on every operation of a service (the gateway's route table is generated from them).
ROLES_EXTENSION = "x-roles"  # the roles of which the caller needs one; [] when any valid token will do
PUBLIC_EXTENSION = "x-public"  # true when the operation needs no token


def route_roles(dependant: Dependant) -> tuple[str, ...] | None:
    """The roles an operation's dependencies demand: None when none of them reads the caller's token (a
    public operation), () when any valid token will do, else the roles of which the caller needs one."""
    role_sets: set[frozenset[str]] = set()
    authenticated = False
    pending = [dependant]
    while pending:
        node = pending.pop()
        pending.extend(node.dependencies)
        roles: tuple[str, ...] | None = getattr(node.call, "required_roles", None)
        if roles is not None:
            role_sets.add(frozenset(roles))
        authenticated = authenticated or node.call is get_principal
    if not authenticated:
        return None
    if not role_sets:
        return ()
    # Several role checks all have to pass: that is one set of roles only when one of them is the narrowest.
    narrowest = min(role_sets, key=len)
    if any(not narrowest <= other for other in role_sets):
        raise ValueError(f"{dependant.path}: role checks {sorted(map(sorted, role_sets))} cannot be one set of roles")
    return tuple(sorted(narrowest))


def operation_roles(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...] | None]:
    """(method, path template) → the roles of each documented operation of the app (see `route_roles`)."""
    roles: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for context in iter_route_contexts(app.routes):  # each route as mounted, with its routers' dependencies
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            needed = route_roles(context.dependant)
            for method in context.methods or ():
                roles.setdefault((method, str(context.path_format)), needed)  # the first route answers
    return roles


def document_roles(app: FastAPI) -> None:
    """Mark every operation of the app's OpenAPI document with who may call it, read from its dependencies:
    `x-roles` (the roles of which the caller needs one; [] when any valid token will do) or `x-public: true`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        paths = document.get("paths", {})
        for (method, path), roles in operation_roles(app).items():
            operation = paths.get(path, {}).get(method.lower())
            if isinstance(operation, dict):
                operation.pop(ROLES_EXTENSION, None)
                operation.pop(PUBLIC_EXTENSION, None)
                operation.update({PUBLIC_EXTENSION: True} if roles is None else {ROLES_EXTENSION: list(roles)})
        return document

    app.openapi = openapi  # type: ignore[method-assign]
