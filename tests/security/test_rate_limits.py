"""OWASP API4, unrestricted resource consumption: the gateway limits each caller per service and per kind of
call (reads, writes, sign-ins), and says when to come back: 429, problem+json, and Retry-After in seconds.

The limits are the stack's (tests/stack.py starts the gateway with its defaults: 120 writes a minute per
caller and service). A caller of its own is used up here, so no other test feels it.
"""

from __future__ import annotations

import httpx

from .. import helpers
from .conftest import Scene

# More than the gateway's default write limit per caller and service (rate_limit_write_per_minute = 120).
ENOUGH_TO_EXHAUST = 200


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) >= 1


async def test_a_caller_who_floods_a_service_gets_429_with_retry_after_and_others_do_not(
    gateway: httpx.AsyncClient, scene: Scene
) -> None:
    mallory = await helpers.talent(gateway)
    # An invalid family member: every request is refused by the service, so the flood changes nothing.
    for attempt in range(ENOUGH_TO_EXHAUST):  # noqa: B007  (the count is checked after the loop)
        response = await gateway.post("/api/v1/me/family", json={}, headers=mallory)
        if response.status_code == 429:
            break
        assert response.status_code == 422, response.text
    assert_rate_limited(response)
    assert attempt >= 100, f"limited after only {attempt} writes"

    # The limit is per caller: another talent writing to the same service is not held back …
    assert (await gateway.post("/api/v1/me/family", json={}, headers=scene.bob)).status_code == 422
    # … and per service: mallory may still write elsewhere and read.
    other_service = await gateway.put("/api/v1/me/notification-preferences", json={"x": 1}, headers=mallory)
    assert other_service.status_code == 422
    assert (await gateway.get("/api/v1/me/family", headers=mallory)).status_code == 200


async def test_one_time_codes_for_one_phone_are_rate_limited(gateway: httpx.AsyncClient) -> None:
    phone = helpers.unique_phone("+86134")
    first = await gateway.post("/api/v1/auth/otp", json={"phone": phone})
    assert first.status_code == 202, first.text
    again = await gateway.post("/api/v1/auth/otp", json={"phone": phone})
    assert_rate_limited(again)
