"""One OpenAPI document for the platform, and Swagger UI served without the internet."""

from __future__ import annotations

from typing import Any


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


class TestMergedOpenApi:
    async def test_it_has_the_gateway_paths_and_each_services_public_paths(self, gateway: Any) -> None:
        document = (await gateway.client.get("/openapi.json")).json()
        paths = document["paths"]
        assert "/api/v1/auth/token" in paths and "/api/v1/auth/otp" in paths
        assert "/.well-known/jwks.json" in paths and "/.well-known/talent-code/jwks.json" in paths
        assert "get" in paths["/api/v1/policies"]  # from benefits
        assert "put" in paths["/api/v1/me/profile"]  # from applicant
        assert not any(p.startswith("/internal") or p in {"/readyz", "/{path}"} for p in paths)

    async def test_upstream_components_are_prefixed_and_every_ref_resolves(self, gateway: Any) -> None:
        document = (await gateway.client.get("/openapi.json")).json()
        schemas = document["components"]["schemas"]
        assert "benefits.Policy" in schemas and "applicant.Profile" in schemas
        assert "OtpRequest" in schemas  # the gateway's own stay unprefixed
        for ref in refs(document["paths"]) + refs(document["components"]):
            _, _, section, name = ref.split("/")
            assert name in document["components"][section], ref
        policy_ref = refs(document["paths"]["/api/v1/policies"])
        assert "#/components/schemas/benefits.Policy" in policy_ref
        assert document["paths"]["/api/v1/policies"]["get"]["operationId"].startswith("benefits_")

    async def test_a_missing_service_just_leaves_its_paths_out(self, start_gateway: Any, dead_url: str) -> None:
        gw = await start_gateway(
            applicant_url=dead_url, benefits_url=dead_url, housing_url=dead_url, notify_url=dead_url
        )
        response = await gw.client.get("/openapi.json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        assert "/api/v1/auth/token" in paths
        assert "/api/v1/policies" not in paths

    async def test_the_token_endpoint_is_documented_as_a_form(self, gateway: Any) -> None:
        document = (await gateway.client.get("/openapi.json")).json()
        body = document["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
        assert "application/x-www-form-urlencoded" in body


class TestDocs:
    async def test_swagger_ui_loads_only_local_assets(self, gateway: Any) -> None:
        page = await gateway.client.get("/docs")
        assert page.status_code == 200
        html = page.text
        assert "/docs/static/swagger-ui-bundle.js" in html and "/openapi.json" in html
        assert "cdn" not in html.lower() and "https://" not in html
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"):
            assert (await gateway.client.get(f"/docs/static/{asset}")).status_code == 200


class TestAnUpstreamThatStopsAnswering:
    async def test_its_last_document_stands_until_it_answers_again(self) -> None:
        import httpx
        from gateway.openapi import OpenApiMerger

        answers = [httpx.Response(200, json={"paths": {"/api/v1/policies": {"get": {}}}}), httpx.Response(503)]

        def upstream(request: httpx.Request) -> httpx.Response:
            return answers.pop(0)

        async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
            merger = OpenApiMerger(client, {"benefits": "http://benefits.test"}, cache_s=0.0)
            first = await merger.document(lambda: {"paths": {}})
            busy = await merger.document(lambda: {"paths": {}})
        assert answers == []  # both answers were asked for: the second refetch failed
        assert "/api/v1/policies" in first["paths"] and "/api/v1/policies" in busy["paths"]
