"""动态进退 across the platform, through the gateway only: a certified talent is revoked → benefits refuses a
claim (talent.revoked travels applicant → Kafka → benefits) → an admin reinstates the talent → benefits
accepts the claim again (talent.reinstated.v1), and the talent's inbox tells them."""

from __future__ import annotations

from typing import Any

import httpx
from servicekit.testing import eventually

from .helpers import certified_talent, official
from .stack import Stack

RENT = {"policy_code": "RENT_SUBSIDY"}


async def _rent(gateway: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    items = (await gateway.get("/api/v1/me/eligibility", headers=auth)).json()["items"]
    rent: dict[str, Any] = next(i for i in items if i["policy_code"] == "RENT_SUBSIDY")
    return rent


class TestRevokeThenReinstate:
    async def test_benefits_refuses_a_revoked_talent_and_accepts_them_again_once_reinstated(
        self, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        talent_id, auth = await certified_talent(gateway)

        async def rent_claimable() -> bool:
            return bool((await _rent(gateway, auth))["eligible"])

        await eventually(rent_claimable, timeout=30)  # talent.certified reached benefits
        admin = await official(gateway, "admin")
        revoked = await gateway.post(
            f"/api/v1/admin/talents/{talent_id}/revoke", json={"reason": "失信"}, headers=admin
        )
        assert revoked.status_code == 200, revoked.text

        async def not_certified() -> bool:
            return "not_certified" in [r["code"] for r in (await _rent(gateway, auth))["reasons"]]

        await eventually(not_certified, timeout=30)  # talent.revoked reached benefits
        refused = await gateway.post("/api/v1/me/claims", json=RENT, headers=auth)
        assert refused.status_code == 422, refused.text
        assert "not_certified" in [r["code"] for r in refused.json()["reasons"]]

        reinstated = await gateway.post(
            f"/api/v1/admin/talents/{talent_id}/reinstatement",
            json={"reason": "removed from the 失信 list"},
            headers=admin,
        )
        assert reinstated.status_code == 200, reinstated.text
        assert reinstated.json()["status"] == "certified"
        assert (await gateway.post(
            f"/api/v1/admin/talents/{talent_id}/reinstatement", json={"reason": "again"}, headers=admin
        )).status_code == 409  # fmt: skip

        await eventually(rent_claimable, timeout=30)  # talent.reinstated reached benefits
        accepted = await gateway.post("/api/v1/me/claims", json=RENT, headers=auth)
        assert accepted.status_code == 201, accepted.text
        assert (await gateway.get("/api/v1/me/code", headers=auth)).status_code == 200

        async def told() -> list[dict[str, Any]]:
            items = (await gateway.get("/api/v1/me/inbox", headers=auth)).json()["items"]
            return [n for n in items if n.get("event_type") == "talent.applicant.talent.reinstated.v1"]

        [notice] = await eventually(told, timeout=30)
        assert notice["title"]
