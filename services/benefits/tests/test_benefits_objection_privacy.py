"""Objections (公示异议) reveal nothing about claims that are not on public notice: to anyone but the claim's
talent and the officials who may see it, such a claim answers exactly as one that does not exist."""

from __future__ import annotations

import uuid

import httpx
from servicekit.testing import TestKeys

from .conftest import Events, certified, registered

Headers = dict[str, str]


async def _unpublished_claim(client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str) -> str:
    await events.apply(registered(talent_id))
    await events.apply(certified(talent_id, "D"))
    claim = await client.post("/api/v1/me/claims", json={"policy_code": "HEALTH_CHECK", "details": {}}, headers=talent)
    assert claim.status_code == 201, claim.text
    assert claim.json()["status"] != "publicized"
    return str(claim.json()["id"])


async def _object(client: httpx.AsyncClient, claim_id: str, headers: Headers) -> httpx.Response:
    return await client.post(f"/api/v1/claims/{claim_id}/objections", json={"reason": "x"}, headers=headers)


def _without_instance(body: dict[str, object]) -> dict[str, object]:
    # The instance names the path (the claim id asked for); everything else must be the same.
    return {k: v for k, v in body.items() if k not in {"instance", "request_id"}}


async def test_another_talents_unpublished_claim_is_a_404_like_a_missing_one(
    client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, test_keys: TestKeys
) -> None:
    claim_id = await _unpublished_claim(client, events, talent, talent_id)
    stranger = test_keys.headers(str(uuid.uuid4()), ["talent"])

    hidden = await _object(client, claim_id, stranger)
    missing = await _object(client, str(uuid.uuid4()), stranger)

    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"
    assert _without_instance(hidden.json()) == _without_instance(missing.json())


async def test_the_claims_own_talent_still_hears_why_it_cannot_be_objected_to(
    client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
) -> None:
    claim_id = await _unpublished_claim(client, events, talent, talent_id)
    assert (await _object(client, claim_id, talent)).status_code == 409
