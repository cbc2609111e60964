"""The kit's small-leak guards (servicekit.hardening) as a talent's client meets them on a real service:
a NUL character is refused in any text on every database, answers about a person are never cached, and an
over-long URL is a 414 problem."""

from __future__ import annotations

import json

import httpx
from servicekit.testing import TestKeys

from .conftest import Officials, certify, profile_body, register, submit

Headers = dict[str, str]


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


class TestNulCharacters:
    async def test_a_nul_in_the_name_is_a_422_naming_the_field_and_nothing_is_stored(
        self, client: httpx.AsyncClient, talent: Headers
    ) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(name="张\u0000三"), headers=talent)
        problem = _problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == ["name"]  # type: ignore[union-attr]
        assert "\u0000" not in response.text and "张" not in response.text
        assert (await client.get("/api/v1/me/profile", headers=talent)).status_code == 404

    async def test_every_text_field_is_guarded_nested_ones_too(
        self, client: httpx.AsyncClient, talent: Headers
    ) -> None:
        education = {"degree": "master", "school": "浙江\u0000大学", "graduated_on": "2024-06-30"}
        body = profile_body(education=education, email="a\u0000@example.org")
        problem = _problem(await client.put("/api/v1/me/profile", json=body, headers=talent), 422)
        assert {e["field"] for e in problem["errors"]} == {"education.school", "email"}  # type: ignore[union-attr]

    async def test_a_json_body_sent_without_a_content_type_is_checked_too(
        self, client: httpx.AsyncClient, talent: Headers
    ) -> None:
        # FastAPI parses a body without Content-Type as JSON: the guard must not be bypassed by leaving it out.
        body = json.dumps(profile_body(name="张\u0000三")).encode()
        response = await client.put("/api/v1/me/profile", content=body, headers=talent)
        assert "content-type" not in response.request.headers
        problem = _problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == ["name"]  # type: ignore[union-attr]

    async def test_a_nul_in_the_query_is_refused_too(self, client: httpx.AsyncClient, talent: Headers) -> None:
        problem = _problem(await client.get("/api/v1/me/certifications?cursor=a%00b", headers=talent), 422)
        assert [e["field"] for e in problem["errors"]] == ["cursor"]  # type: ignore[union-attr]

    async def test_an_escaped_backslash_is_not_a_nul(self, client: httpx.AsyncClient, talent: Headers) -> None:
        stored = await register(client, talent, name="张三\\u0000")
        assert stored["name"] == "张三\\u0000"


class TestNoStore:
    async def test_a_talents_own_data_is_never_cached(
        self, client: httpx.AsyncClient, talent: Headers, officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        for path in ("/api/v1/me/profile", "/api/v1/me/talent", "/api/v1/me/certifications", "/api/v1/me/documents"):
            response = await client.get(path, headers=talent)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["cache-control"] == "no-store", path

    async def test_an_officials_read_of_a_talents_case_is_never_cached(
        self, client: httpx.AsyncClient, talent: Headers, officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        response = await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.nanhu)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"

    async def test_errors_to_a_signed_in_caller_are_not_cached_either(
        self, client: httpx.AsyncClient, talent: Headers
    ) -> None:
        response = await client.get("/api/v1/me/profile", headers=talent)
        assert response.status_code == 404 and response.headers["cache-control"] == "no-store"

    async def test_public_documents_keep_their_own_caching(
        self, client: httpx.AsyncClient, test_keys: TestKeys
    ) -> None:
        signed_in = test_keys.headers("partner-hospital", ["partner"], partner_kind="hospital")
        for headers in ({}, signed_in):
            response = await client.get("/api/v1/trust/cities", headers=headers)
            assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=60"


async def test_an_over_long_url_is_a_414_problem(client: httpx.AsyncClient, talent: Headers) -> None:
    response = await client.get("/api/v1/me/certifications", params={"cursor": "a" * 9000}, headers=talent)
    problem = _problem(response, 414)
    assert "8192" in str(problem["detail"])
    assert (
        await client.get("/api/v1/me/certifications", params={"cursor": "a" * 10}, headers=talent)
    ).status_code != 414
