"""Routing to the services: roles enforced first, then headers and bodies forwarded, upstream faults mapped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

BIG_BODY_BYTES = 1_500_000  # what the stand-in service streams from /api/v1/policies/big (see conftest)


class TestRoleRulesAtTheGateway:
    async def test_no_token_on_a_talent_route_is_401(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.get("/api/v1/me/profile")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        problem(response)

    async def test_a_bad_token_is_401(self, gateway: Any, problem: Any) -> None:
        for header in ("Bearer not-a-jwt", "Basic abc", "Bearer "):
            response = await gateway.client.get("/api/v1/me/profile", headers={"Authorization": header})
            assert response.status_code == 401, header
            problem(response)

    async def test_a_token_from_another_issuer_is_401(self, gateway: Any) -> None:
        from servicekit.testing import TestKeys

        response = await gateway.client.get("/api/v1/me/profile", headers=TestKeys().headers("x", ["talent"]))
        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("who", "method", "path"),
        [
            ("reviewer.nanhu", "GET", "/api/v1/me/profile"),
            ("talent", "POST", "/api/v1/codes/verify"),
            ("reviewer.nanhu", "POST", "/api/v1/reviews/claims/1/disbursement"),
            ("finance.city", "POST", "/api/v1/reviews/certifications/1/decisions"),
            ("talent", "POST", "/api/v1/housing/projects"),
            ("approver.city", "GET", "/api/v1/admin/talents"),
            ("admin", "GET", "/api/v1/audit/applicant"),
            ("partner", "GET", "/api/v1/me/inbox"),
        ],
    )
    async def test_a_role_that_may_not_act_is_403(
        self, gateway: Any, problem: Any, who: str, method: str, path: str
    ) -> None:
        response = await gateway.client.request(method, path, headers=await gateway.bearer(who))
        assert response.status_code == 403
        assert "roles" in problem(response)["detail"]

    @pytest.mark.parametrize(
        ("who", "method", "path"),
        [
            ("talent", "GET", "/api/v1/me/profile"),
            ("partner", "POST", "/api/v1/codes/verify"),
            ("finance.city", "POST", "/api/v1/reviews/claims/1/disbursement"),
            ("reviewer.nanhu", "POST", "/api/v1/reviews/certifications/1/decisions"),
            ("housing.city", "POST", "/api/v1/housing/rounds/1/draw"),
            ("admin", "GET", "/api/v1/admin/talents"),
            ("auditor.city", "GET", "/api/v1/audit/applicant"),
        ],
    )
    async def test_the_right_role_reaches_the_service(self, gateway: Any, who: str, method: str, path: str) -> None:
        response = await gateway.client.request(method, path, headers=await gateway.bearer(who))
        assert response.status_code == 200
        assert response.json()["path"] == path

    async def test_public_reads_need_no_token_and_ignore_a_stale_one(self, gateway: Any) -> None:
        assert (await gateway.client.get("/api/v1/policies")).status_code == 200
        stale = {"Authorization": "Bearer expired.or.garbage"}
        assert (await gateway.client.get("/api/v1/housing/rounds/9/results", headers=stale)).status_code == 200

    async def test_an_unknown_api_path_is_404_problem(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert "/api/v1/nothing-here" in problem(response)["detail"]

    async def test_internal_service_paths_are_not_reachable(self, gateway: Any) -> None:
        assert (await gateway.client.get("/internal/secret-admin")).status_code == 404
        assert (await gateway.client.get("/api/../internal/secret-admin")).status_code == 404


class TestPathsReachTheServiceAsSent:
    """Found by fuzzing: the gateway forwarded the decoded path, so an encoded control character was a 500,
    an encoded `?` started the query, and `..` segments were resolved after the role rule was checked."""

    async def test_dot_segments_cannot_climb_past_the_role_rule(self, gateway: Any, problem: Any) -> None:
        # A talent route on its face, /api/v1/admin/policies (admins only) once `..` is resolved.
        talent = await gateway.bearer("talent")
        for path in ("/api/v1/me/claims/%2E%2E/%2E%2E/admin/policies", "/api/v1/me/claims/x/%2e/y"):
            response = await gateway.client.get(path, headers=talent)
            assert response.status_code == 404, path
            problem(response)

    async def test_encoded_characters_stay_data_in_the_path(self, gateway: Any) -> None:
        response = await gateway.client.get("/api/v1/policies/a%3Fb%2Fc%12%25?version=1")
        assert response.status_code == 200
        seen = response.json()
        assert seen["query"] == "version=1"  # the encoded `?` did not start the query
        # Decoded once, by the service (Starlette shows a `?` in a path re-encoded).
        assert seen["path"] == "/api/v1/policies/a%3Fb/c\x12%"


class TestForwarding:
    async def test_the_request_id_authorization_and_query_reach_the_service(self, gateway: Any) -> None:
        headers = {**await gateway.bearer("talent"), "X-Request-ID": "trace-123", "Accept-Language": "zh-CN"}
        response = await gateway.client.get("/api/v1/me/claims?limit=5&cursor=abc", headers=headers)
        assert response.status_code == 200
        seen = response.json()
        assert seen["query"] == "limit=5&cursor=abc"
        assert seen["headers"]["x-request-id"] == "trace-123"
        assert seen["headers"]["authorization"] == headers["Authorization"]
        assert seen["headers"]["accept-language"] == "zh-CN"
        assert seen["headers"]["x-forwarded-for"]
        assert response.headers["X-Request-ID"] == "trace-123"
        assert response.headers["X-Upstream"] == "stand-in"

    async def test_a_request_id_is_minted_when_the_caller_sends_none(self, gateway: Any) -> None:
        response = await gateway.client.get("/api/v1/policies/x")
        minted = response.headers["X-Request-ID"]
        assert len(minted) == 32
        assert response.json()["headers"]["x-request-id"] == minted

    async def test_the_body_idempotency_key_and_content_type_are_forwarded(self, gateway: Any) -> None:
        headers = {**await gateway.bearer("talent"), "Idempotency-Key": "k-1"}
        body = {"policy_code": "rent-subsidy", "details": {"note": "人才"}}
        response = await gateway.client.post("/api/v1/me/claims", json=body, headers=headers)
        seen = response.json()
        assert seen["method"] == "POST"
        assert json.loads(seen["body"]) == body
        assert seen["headers"]["idempotency-key"] == "k-1"
        assert seen["headers"]["content-type"] == "application/json"

    async def test_a_streamed_request_body_without_length_is_forwarded(self, gateway: Any) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": '
            yield b'"Li Lei"}'

        headers = {**await gateway.bearer("talent"), "Content-Type": "application/json"}
        response = await gateway.client.put("/api/v1/me/profile", content=chunks(), headers=headers)
        assert response.status_code == 200
        assert response.json() == {"name": "Li Lei"}

    async def test_hop_by_hop_headers_are_not_forwarded(self, gateway: Any) -> None:
        headers = {
            **await gateway.bearer("talent"),
            "Connection": "X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic abc",
            "TE": "trailers",
        }
        response = await gateway.client.get("/api/v1/me/talent", headers=headers)
        seen = response.json()["headers"]
        for name in ("x-secret-hop", "keep-alive", "proxy-authorization", "te"):
            assert name not in seen
        assert "connection" not in response.headers  # the stand-in's "Connection: keep-alive" is not passed back

    async def test_a_large_response_streams_back_intact(self, gateway: Any) -> None:
        response = await gateway.client.get("/api/v1/policies/big")
        assert response.status_code == 200
        assert len(response.content) == BIG_BODY_BYTES


class TestBadInput:
    async def test_an_oversize_body_is_413_problem(self, start_gateway: Any, problem: Any) -> None:
        gw = await start_gateway(max_body_bytes=1000)
        headers = await gw.bearer("talent")
        response = await gw.client.post("/api/v1/me/claims", content=b"x" * 2000, headers=headers)
        assert response.status_code == 413
        problem(response)

    async def test_an_oversize_streamed_body_is_413_problem(self, start_gateway: Any, problem: Any) -> None:
        gw = await start_gateway(max_body_bytes=1000)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"y" * 400

        headers = await gw.bearer("talent")
        response = await gw.client.post("/api/v1/me/claims", content=chunks(), headers=headers)
        assert response.status_code == 413
        problem(response)

    async def test_malformed_json_to_the_gateway_is_400_problem(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.post(
            "/api/v1/auth/otp", content=b'{"phone": ', headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert problem(response)["errors"][0]["field"] == "body"

    async def test_wrong_types_are_422_problem(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.post("/api/v1/auth/otp", json={"phone": 13800000001})
        assert response.status_code == 422
        problem(response)


class TestUpstreamFaults:
    async def test_a_service_that_is_down_is_503_problem(self, start_gateway: Any, dead_url: str, problem: Any) -> None:
        gw = await start_gateway(housing_url=dead_url)
        response = await gw.client.get("/api/v1/housing/projects")
        assert response.status_code == 503
        assert "housing" in problem(response)["detail"]
        assert response.headers["Retry-After"]
        # The other services are unaffected.
        assert (await gw.client.get("/api/v1/policies")).status_code == 200

    async def test_a_service_that_is_too_slow_is_504_problem(self, start_gateway: Any, problem: Any) -> None:
        gw = await start_gateway(upstream_timeout_s=0.3)
        response = await gw.client.get("/api/v1/me/claims/slow", headers=await gw.bearer("talent"))
        assert response.status_code == 504
        assert "benefits" in problem(response)["detail"]

    async def test_readiness_names_the_service_that_is_down(self, start_gateway: Any, dead_url: str) -> None:
        healthy = await start_gateway()
        assert (await healthy.client.get("/readyz")).status_code == 200
        gw = await start_gateway(notify_url=dead_url)
        response = await gw.client.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["notify"].startswith("failing") and checks["database"] == "ok"
        assert (await gw.client.get("/healthz")).status_code == 200


class TestCors:
    async def test_dev_allows_the_local_console(self, gateway: Any) -> None:
        response = await gateway.client.options(
            "/api/v1/me/profile",
            headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "PUT"},
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://localhost:8000"

    async def test_an_unlisted_origin_is_not_allowed(self, gateway: Any) -> None:
        response = await gateway.client.get("/api/v1/policies", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers

    async def test_configured_origins_are_allowed(self, start_gateway: Any) -> None:
        gw = await start_gateway(cors_origins="https://console.talent.example, https://app.talent.example")
        response = await gw.client.get("/api/v1/policies", headers={"Origin": "https://app.talent.example"})
        assert response.headers["access-control-allow-origin"] == "https://app.talent.example"
        assert "X-Request-ID" in response.headers["access-control-expose-headers"]
