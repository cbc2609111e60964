"""Trusted facts across the platform, through the gateway: a certified talent cannot raise their own facts;
a change request the county reviewer approves changes the profile, the points, benefits' eligibility
(through the applicant's events) and reaches the talent's inbox; a fact that only removes benefits applies
at once and benefits follow it too.

Every service runs as its own process on the real broker; the test talks only to the gateway.
"""

from __future__ import annotations

from typing import Any

import httpx
from servicekit.testing import eventually

from .helpers import certify, fresh_id_number, official, profile, talent

Headers = dict[str, str]


def _fresh_profile() -> dict[str, Any]:
    """A profile whose identity number no other test of the shared stack holds."""
    return profile(fresh_id_number())


async def _reasons(gateway: httpx.AsyncClient, auth: Headers, policy_code: str) -> list[str]:
    items = (await gateway.get("/api/v1/me/eligibility", headers=auth)).json()["items"]
    [item] = [i for i in items if i["policy_code"] == policy_code]
    return [r["code"] for r in item["reasons"]]


class TestTrustedFactsAcrossServices:
    async def test_a_change_request_flows_to_points_eligibility_and_inbox(self, gateway: httpx.AsyncClient) -> None:
        auth = await talent(gateway)
        body = _fresh_profile()
        body["social_insurance_months"] = 0
        await certify(gateway, auth, body)
        points_before = (await gateway.get("/api/v1/me/talent", headers=auth)).json()["points"]

        async def benefits_knows_no_insurance() -> bool:
            return "social_insurance" in await _reasons(gateway, auth, "LIVING_ALLOWANCE")

        await eventually(benefits_knows_no_insurance, timeout=30)

        # Typing more insurance months into the profile is refused, naming the field.
        refused = await gateway.put("/api/v1/me/profile", json={**body, "social_insurance_months": 12}, headers=auth)
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["social_insurance_months"]

        created = await gateway.post(
            "/api/v1/me/change-requests",
            json={"changes": {"social_insurance_months": 12}, "reason": "社保补缴已到账"},
            headers={**auth, "Idempotency-Key": "change-1"},
        )
        assert created.status_code == 201, created.text
        reviewer = await official(gateway, "reviewer.nanhu")
        decided = await gateway.post(
            f"/api/v1/reviews/change-requests/{created.json()['id']}/decisions",
            json={"decision": "approve", "reason": "社保记录核对一致"},
            headers=reviewer,
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "approved"

        me = (await gateway.get("/api/v1/me/talent", headers=auth)).json()
        assert me["points"] > points_before
        provenance = (await gateway.get("/api/v1/me/profile", headers=auth)).json()["provenance"]
        assert provenance["social_insurance_months"]["source"] == "officer_confirmed"

        async def benefits_learned_the_months() -> bool:
            return "social_insurance" not in await _reasons(gateway, auth, "LIVING_ALLOWANCE")

        await eventually(benefits_learned_the_months, timeout=30)

        async def told() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await gateway.get("/api/v1/me/inbox", headers=auth)).json()["items"]
            return [i for i in items if i.get("event_type") == "talent.applicant.change_request.decided.v1"]

        [message] = await eventually(told, timeout=30)
        assert "社保缴纳月数" in message["body"]

    async def test_owning_a_home_applies_at_once_and_ends_the_rent_subsidy(self, gateway: httpx.AsyncClient) -> None:
        auth = await talent(gateway)
        body = _fresh_profile()
        await certify(gateway, auth, body)
        assert "owns_home_in_city" not in await _reasons(gateway, auth, "RENT_SUBSIDY")

        declared = await gateway.put("/api/v1/me/profile", json={**body, "owns_home_in_city": True}, headers=auth)
        assert declared.status_code == 200, declared.text

        async def rent_subsidy_closed() -> bool:
            return "owns_home_in_city" in await _reasons(gateway, auth, "RENT_SUBSIDY")

        await eventually(rent_subsidy_closed, timeout=30)
