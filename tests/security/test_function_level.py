"""OWASP API5, broken function-level authorisation, generated: every role (and nobody) × every operation of
every service's API, with the expected answer computed from the gateway's role rules (routes.ACCESS_RULES)
and asserted against the real platform:

- a rule the caller does not meet → 401 without a token, 403 with one;
- a rule the caller meets (or a public route) → anything but 401 and 403 (the request reaches the
  service, and the service's own role check agrees with the gateway's).

The operations come from the services' definitions (the routers each service mounts) and the gateway's own
routers (registering employers, its audit log), so a new endpoint is in the matrix the day it is written; a
test checks they are exactly the operations of the live /openapi.json.
Path parameters name objects that do not exist and bodies are empty, so an allowed call changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute
from gateway.admin import own_routers
from gateway.routes import GATEWAY, resolve_service
from servicekit.app import ServiceDefinition
from servicekit.audit import audit_router

from ..helpers import ROLES, gateway_allows
from .conftest import Scene

IDENTITIES = ("anonymous", *ROLES)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Values for path parameters that name nothing (the policy code must match its pattern to reach the service).
NOTHING = {"code": "NO_SUCH_POLICY", "partner_kind": "no_such_kind"}
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"
# Allowed calls that would change the shared platform whatever their input (no parameters, no body):
# the fuzz suite exercises them on a platform of its own.
NOT_CALLED_WHEN_ALLOWED = {("POST", "/api/v1/admin/code-keys/rotate")}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        url = self.path
        for segment in self.path.split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                url = url.replace(segment, NOTHING.get(segment[1:-1], NO_SUCH_ID))
        return url


def _definitions() -> dict[str, ServiceDefinition]:
    from applicant.main import definition as applicant
    from benefits.main import definition as benefits
    from housing.main import definition as housing
    from insight.config import InsightSettings
    from insight.main import definition as insight
    from notify.config import NotifySettings
    from notify.main import definition as notify

    # Only the routers are read; notify's and insight's definitions want settings to build their components.
    notify_settings = NotifySettings(TALENT_ENV="dev", database_url="sqlite+aiosqlite://")
    insight_settings = InsightSettings(TALENT_ENV="dev", database_url="sqlite+aiosqlite://")
    return {
        "applicant": applicant(),
        "benefits": benefits(),
        "housing": housing(),
        "notify": notify(notify_settings),
        "insight": insight(insight_settings),
    }


def service_operations() -> list[Operation]:
    """Every documented operation each service mounts that the gateway routes to it, and the gateway's own."""
    operations: set[Operation] = set()
    mounted = {
        name: [
            *definition.routers,
            *([audit_router(name)] if definition.audit else []),
            *([definition.rulebook.router()] if definition.rulebook is not None else []),
        ]
        for name, definition in _definitions().items()
    }
    mounted[GATEWAY] = own_routers()
    for name, routers in mounted.items():
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and route.include_in_schema and resolve_service(route.path) == name:
                    operations.update(Operation(name, method, route.path) for method in route.methods or ())
    return sorted(operations, key=lambda o: (o.path, o.method))


OPERATIONS = service_operations()


def test_the_matrix_covers_every_operation_of_the_live_api(scene: Scene) -> None:
    document = httpx.get(f"{scene.stack.gateway_url}/openapi.json", timeout=20.0).json()
    live = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if resolve_service(path) is not None
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }
    assert {(o.method, o.path) for o in OPERATIONS} == live


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
@pytest.mark.parametrize("identity", IDENTITIES)
async def test_the_role_rules_hold_for_every_role_and_operation(
    gateway: httpx.AsyncClient, scene: Scene, identity: str, operation: Operation
) -> None:
    allowed = gateway_allows(identity, operation.method, operation.path)
    if allowed and (operation.method, operation.path) in NOT_CALLED_WHEN_ALLOWED:
        pytest.skip("allowed, and changes the platform whatever the input: fuzzed on its own platform")
    headers = {} if identity == "anonymous" else scene.roles[identity]
    body: dict[str, object] | None = {} if operation.method in WRITE_METHODS else None
    response = await gateway.request(operation.method, operation.url(), json=body, headers=headers)
    if allowed:
        assert response.status_code not in {401, 403}, f"{identity} was refused {operation}: {response.text}"
    else:
        assert response.status_code == (401 if identity == "anonymous" else 403), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
