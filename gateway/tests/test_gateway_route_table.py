"""The route table and role rules are the services' own: generated from their OpenAPI documents, kept current."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from gateway.config import GatewaySettings
from gateway.openapi import merge_service
from gateway.routes import (
    ACCESS_RULES,
    AUTHENTICATED,
    GENERATED_FILE,
    OPERATIONS,
    SERVICES,
    access_rule,
    resolve_service,
)
from gateway.routetable import AccessRule, Operation, derive, pattern_regex, table_from_openapi
from servicekit.auth import CurrentPrincipal, Principal, TalentPrincipal, document_roles, require_roles

REPOSITORY = Path(__file__).resolve().parents[2]
GENERATOR = REPOSITORY / "scripts" / "generate_routes.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_routes", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestTheGeneratedFile:
    def test_it_is_what_the_services_declare_now(self) -> None:
        script = generator()
        wanted = script.generate()
        committed = script.TARGET.read_text(encoding="utf-8")
        assert committed == wanted, (
            f"gateway/src/gateway/{GENERATED_FILE} is out of date with the services' routes: run `make routes` "
            f"(uv run --frozen python scripts/generate_routes.py) and commit it.\n"
            + script.stale_diff(committed, wanted)
        )

    def test_every_service_it_names_has_an_upstream_url(self) -> None:
        assert SERVICES == ("applicant", "benefits", "housing", "insight", "notify")
        assert all(f"{service}_url" in GatewaySettings.model_fields for service in SERVICES)

    def test_the_gateway_applies_each_operations_own_roles(self) -> None:
        assert OPERATIONS
        for operation in OPERATIONS:
            path = "/".join("x" if s.startswith("{") else s for s in operation.path.split("/"))
            assert resolve_service(path) == operation.service, operation
            assert access_rule(operation.method, path).roles == operation.roles, operation

    def test_public_rules_are_reads(self) -> None:
        for rule in ACCESS_RULES:
            if rule.public:
                assert rule.methods <= {"GET"}, rule


class TestPathsNoOperationNames:
    @pytest.mark.parametrize(
        ("method", "path", "roles"),
        [
            # Every operation below the prefix needs the same roles: so does anything else below it.
            ("GET", "/api/v1/admin/talents", {"admin"}),
            ("DELETE", "/api/v1/me/profile", {"talent"}),
            ("OPTIONS", "/api/v1/partners/anything/else", {"partner"}),
            ("PUT", "/api/v1/audit/notify", {"auditor"}),
            ("GET", "/api/v1/reviews/change-requests/1/history", {"county_reviewer"}),
            # Mixed roles below the prefix: any valid token, the service answers (certifications: city approvers
            # alone reassign a case's officer).
            ("GET", "/api/v1/reviews/certifications/1/history", set()),
            ("PUT", "/api/v1/reviews/claims/1", set()),
            ("DELETE", "/api/v1/housing/units/1", set()),
            ("GET", "/api/v1/claims/1", set()),
        ],
    )
    def test_need_what_the_operations_below_their_prefix_share(self, method: str, path: str, roles: set[str]) -> None:
        rule = access_rule(method, path)
        assert not rule.public
        assert rule.roles == roles

    def test_below_an_all_public_prefix_reads_stay_public_and_writes_need_a_token(self) -> None:
        assert access_rule("GET", "/api/v1/policies/a/b").public
        assert access_rule("HEAD", "/api/v1/policies/a/b").public
        assert access_rule("POST", "/api/v1/policies") is AUTHENTICATED

    def test_a_public_read_in_a_mixed_prefix_is_public_only_where_declared(self) -> None:
        assert access_rule("GET", "/api/v1/housing/rounds/1").public
        assert not access_rule("GET", "/api/v1/housing/units/1").public


def op(service: str, method: str, path: str, *roles: str, public: bool = False) -> Operation:
    return Operation(service, method, path, None if public else frozenset(roles))


class TestDerivation:
    def test_each_prefix_is_the_shortest_only_its_service_uses(self) -> None:
        derived = derive(
            [
                op("a", "GET", "/api/v1/me/x", "talent"),
                op("b", "GET", "/api/v1/me/y/{id}", "talent"),
                op("a", "POST", "/api/v1/things/{id}/do", "admin"),
            ]
        )
        assert dict(derived.route_table) == {"/api/v1/me/x": "a", "/api/v1/me/y": "b", "/api/v1/things": "a"}

    def test_a_service_below_anothers_path_keeps_its_longer_prefix(self) -> None:
        derived = derive([op("a", "GET", "/api/v1/x/{id}", "talent"), op("b", "GET", "/api/v1/x/y", "admin")])
        assert dict(derived.route_table) == {"/api/v1/x": "a", "/api/v1/x/y": "b"}

    def test_two_services_on_one_path_are_refused(self) -> None:
        with pytest.raises(ValueError, match="both"):
            derive([op("a", "GET", "/api/v1/x", "talent"), op("b", "POST", "/api/v1/x", "admin")])

    def test_a_path_with_no_fixed_segment_is_refused(self) -> None:
        with pytest.raises(ValueError, match="no fixed segment"):
            derive([op("a", "GET", "/api/v1/{id}", "talent")])

    def test_a_fixed_segment_wins_over_a_parameter(self) -> None:
        rules = derive(
            [op("a", "GET", "/api/v1/c/{id}", "talent"), op("a", "GET", "/api/v1/c/public", public=True)]
        ).rules["a"]
        first = next(r for r in rules if r.matches("GET", "/api/v1/c/public"))
        assert first == AccessRule(frozenset({"GET"}), "/api/v1/c/public", None)

    def test_an_operation_without_roles_in_its_document_is_refused(self) -> None:
        document = {"paths": {"/api/v1/x": {"get": {"responses": {}}}}}
        with pytest.raises(ValueError, match="x-roles"):
            table_from_openapi({"a": document})

    def test_only_api_paths_are_taken(self) -> None:
        document = {
            "paths": {
                "/healthz": {"get": {"x-public": True}},
                "/internal/keys": {"get": {"x-public": True}},
                "/api/v1/x": {"get": {"x-roles": ["talent"]}, "parameters": []},
            }
        }
        table = table_from_openapi({"a": document})
        assert table["services"] == {"a": [{"method": "GET", "path": "/api/v1/x", "roles": ["talent"]}]}


class TestRolesInTheServicesOpenApi:
    """servicekit marks every operation from its own role dependencies (create_app calls document_roles)."""

    @staticmethod
    def document(router: APIRouter, **include: Any) -> dict[str, Any]:
        app = FastAPI()
        app.include_router(router, **include)
        document_roles(app)
        return app.openapi()

    def test_roles_any_token_and_public(self) -> None:
        router = APIRouter()

        @router.get("/talent")
        async def talent(_: TalentPrincipal) -> None: ...

        @router.post("/officer")
        async def officer(
            _: Annotated[Principal, Depends(require_roles("city_approver", "county_reviewer"))],
        ) -> None: ...

        @router.get("/anyone")
        async def anyone(_: CurrentPrincipal) -> None: ...

        @router.get("/public")
        async def public() -> None: ...

        paths = self.document(router)["paths"]
        assert paths["/talent"]["get"]["x-roles"] == ["talent"]
        assert paths["/officer"]["post"]["x-roles"] == ["city_approver", "county_reviewer"]
        assert paths["/anyone"]["get"]["x-roles"] == []
        assert paths["/public"]["get"]["x-public"] is True
        assert "x-roles" not in paths["/public"]["get"]

    def test_a_routers_own_role_dependency_counts(self) -> None:
        router = APIRouter()

        @router.get("/x")
        async def x() -> None: ...

        paths = self.document(router, prefix="/admin", dependencies=[Depends(require_roles("admin"))])["paths"]
        assert paths["/admin/x"]["get"]["x-roles"] == ["admin"]

    def test_nested_checks_take_the_narrowest_and_refuse_what_one_set_cannot_say(self) -> None:
        router = APIRouter()

        @router.get("/narrow")
        async def narrow(
            _: TalentPrincipal, __: Annotated[Principal, Depends(require_roles("talent", "admin"))]
        ) -> None: ...

        assert self.document(router)["paths"]["/narrow"]["get"]["x-roles"] == ["talent"]

        @router.get("/both")
        async def both(_: TalentPrincipal, __: Annotated[Principal, Depends(require_roles("admin"))]) -> None: ...

        with pytest.raises(ValueError, match="cannot be one set of roles"):
            self.document(router)

    def test_the_gateways_merged_document_keeps_them(self) -> None:
        target: dict[str, Any] = {"paths": {}}
        service = {
            "paths": {
                "/api/v1/policies": {"get": {"operationId": "list", "x-public": True}},
                "/api/v1/admin/policies": {"post": {"operationId": "create", "x-roles": ["admin"]}},
            }
        }
        merge_service(target, "benefits", service)
        assert target["paths"]["/api/v1/policies"]["get"]["x-public"] is True
        assert target["paths"]["/api/v1/admin/policies"]["post"]["x-roles"] == ["admin"]


def test_a_parameter_inside_a_segment_matches_that_one_segment() -> None:
    csv = re.compile(pattern_regex("/api/v1/insight/{table}.csv") + "$")
    assert csv.match("/api/v1/insight/talents.csv")
    assert not csv.match("/api/v1/insight/summary")
    assert not csv.match("/api/v1/insight/a/b.csv")
    assert not csv.match("/api/v1/insight/talentsXcsv")


class TestTheProxyRouteComesFirst:
    """The proxy matches a service's paths before any of the gateway's own routes: so no own route may sit
    below a service's prefix (it would never be reached), and the gateway's own paths must not match it."""

    def test_no_own_route_is_below_a_services_prefix(self, tmp_path: Path) -> None:
        from fastapi.routing import iter_route_contexts
        from gateway.main import create_app
        from gateway.router import ProxyRoute

        settings = GatewaySettings(environment="dev", database_url=f"sqlite+aiosqlite:///{tmp_path}/gateway.db")
        app = create_app(settings)
        assert isinstance(app.router.routes[0], ProxyRoute)
        own = [str(c.path_format) for c in iter_route_contexts(app.router.routes[1:])]
        assert any(path.startswith("/api/v1/auth/") for path in own)
        for path in own:
            concrete = "/".join("x" if s.startswith("{") else s for s in path.split("/"))
            assert resolve_service(concrete) in (None, "gateway") or path == "/api/{path:path}", path

    @pytest.mark.parametrize(
        ("method", "path", "matched"),
        [
            ("POST", "/api/v1/codes/verify", True),
            ("GET", "/api/v1/me/claims", True),
            ("POST", "/api/v1/auth/token", False),  # the gateway's own sign-in
            ("GET", "/api/v1/admin/employers", False),  # the gateway's own operation
            ("GET", "/api/v1/nobody/owns/this", False),  # the catch-all answers 404
            ("TRACE", "/api/v1/me/claims", False),  # the catch-all answers 405
            ("GET", "/app/", False),
        ],
    )
    def test_what_it_matches(self, method: str, path: str, matched: bool) -> None:
        from gateway.router import ProxyRoute
        from starlette.routing import Match

        match, child = ProxyRoute().matches({"type": "http", "method": method, "path": path, "headers": []})
        assert (match == Match.FULL) is matched
        if matched:
            assert child["route"].path == "/api/{path:path}"  # the metrics' route label, as the catch-all's
