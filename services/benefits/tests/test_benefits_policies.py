"""The policy catalogue: seeded from the versioned file, public to read, versioned on every admin change."""

from __future__ import annotations

import json
from typing import Any

import httpx
from benefits.catalogue import load_seed
from contracts.events import PolicyPublished
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from sqlmodel import col, select

from .conftest import Events, certified, registered

Headers = dict[str, str]


def _new_policy(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "TRANSIT_PASS",
        "name": "人才公交卡",
        "eligibility": {"tiers": ["A", "B", "C", "D"], "requires_works_in_city": True},
        "limits": {"frequency": "yearly"},
        "amount": {"basis": "fixed", "values": {"any": 50000}},
        "budget": {"yearly_quota": 1000},
    }
    body.update(overrides)
    return body


class TestCatalogue:
    async def test_the_eight_default_policies_are_public(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/policies")
        assert response.status_code == 200
        items = {p["code"]: p for p in response.json()["items"]}
        assert set(items) == {p.code for p in load_seed()} and len(items) == 8
        assert items["LIVING_ALLOWANCE"]["auto_grant"] is True
        assert items["RENT_SUBSIDY"]["eligibility"]["exclusions"] == [
            "owns_home_in_city",
            "active_lease",
            "housing_voucher_used",
        ]
        assert items["HOUSING_VOUCHER"]["amount"]["values"]["A"] == 100_000_000
        # The straight-through rules came as a new version of the two policies they apply to (b14e00000001).
        straight_through = {"LIVING_ALLOWANCE", "RENT_SUBSIDY"}
        assert all(p["version"] == (2 if code in straight_through else 1) for code, p in items.items())
        assert {code for code, p in items.items() if p["straight_through"]} == straight_through

    async def test_unknown_policy_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/policies/NOPE")).status_code == 404
        assert (await client.get("/api/v1/policies/bad-code")).status_code == 422

    async def test_a_version_beyond_any_stored_one_is_422_not_500(self, client: httpx.AsyncClient) -> None:
        # Found by fuzzing: ?version=80273316069252209489229228539904 overflowed the database integer (500).
        response = await client.get("/api/v1/policies/HEALTH_CHECK?version=80273316069252209489229228539904")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "version"
        assert (await client.get(f"/api/v1/policies/HEALTH_CHECK?version={2**31 - 1}")).status_code == 404


class TestAdministration:
    async def test_admin_adds_a_policy_and_talents_can_claim_it(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], events: Events, talent: Headers, talent_id: str
    ) -> None:
        created = await client.post("/api/v1/admin/policies", json=_new_policy(), headers=officials["admin"])
        assert created.status_code == 201, created.text
        assert created.json()["version"] == 1 and created.json()["created_by"] == "official-admin"
        again = await client.post("/api/v1/admin/policies", json=_new_policy(), headers=officials["admin"])
        assert again.status_code == 409
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "D"))
        claim = await client.post("/api/v1/me/claims", json={"policy_code": "TRANSIT_PASS"}, headers=talent)
        assert claim.status_code == 201 and claim.json()["amount_fen"] == 50000

    async def test_a_change_is_a_new_version_and_claims_keep_theirs(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], events: Events, talent: Headers, talent_id: str
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "D"))
        claim = (await client.post("/api/v1/me/claims", json={"policy_code": "HEALTH_CHECK"}, headers=talent)).json()
        current = (await client.get("/api/v1/policies/HEALTH_CHECK")).json()
        body = {k: current[k] for k in ("name", "eligibility", "limits", "review", "budget", "effects")}
        body |= {"amount": {"basis": "fixed", "values": {"any": 300000}}, "change_reason": "2027 price list"}
        changed = await client.put("/api/v1/admin/policies/HEALTH_CHECK", json=body, headers=officials["admin"])
        assert changed.status_code == 200 and changed.json()["version"] == 2
        assert (await client.get("/api/v1/policies/HEALTH_CHECK")).json()["amount"]["values"]["any"] == 300000
        old = (await client.get("/api/v1/policies/HEALTH_CHECK?version=1")).json()
        assert old["amount"]["values"]["any"] == 200000
        mine = (await client.get(f"/api/v1/me/claims/{claim['id']}", headers=talent)).json()
        assert mine["policy_version"] == 1 and mine["amount_fen"] == 200000
        versions = await client.get("/api/v1/admin/policies/HEALTH_CHECK/versions", headers=officials["admin"])
        assert [v["version"] for v in versions.json()["items"]] == [1, 2]
        audit = await client.get("/api/v1/audit/benefits?action=policy.changed", headers=officials["auditor.city"])
        assert audit.json()["items"][0]["reason"] == "2027 price list"

    async def test_each_new_version_publishes_its_budget_for_the_statistics(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], benefits_app: FastAPI
    ) -> None:
        body = _new_policy(budget={"yearly_budget_fen": 5_000_000})
        assert (await client.post("/api/v1/admin/policies", json=body, headers=officials["admin"])).status_code == 201
        body = {k: v for k, v in body.items() if k != "code"} | {
            "budget": {"yearly_budget_fen": 8_000_000},
            "change_reason": "budget raised",
        }
        changed = await client.put("/api/v1/admin/policies/TRANSIT_PASS", json=body, headers=officials["admin"])
        assert changed.status_code == 200, changed.text
        async with benefits_app.state.database.sessionmaker() as session:
            rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
        published = [
            (row.key, json.loads(row.payload)["data"]) for row in rows if row.event_type == PolicyPublished.type
        ]
        assert [(key, d["policy_code"], d["version"], d["yearly_budget_fen"]) for key, d in published] == [
            ("TRANSIT_PASS", "TRANSIT_PASS", 1, 5_000_000),
            ("TRANSIT_PASS", "TRANSIT_PASS", 2, 8_000_000),
        ]

    async def test_deactivated_policy_cannot_be_claimed(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], talent: Headers
    ) -> None:
        current = (await client.get("/api/v1/policies/GREEN_CARD")).json()
        body = {k: current[k] for k in ("name", "eligibility", "limits", "amount", "review", "budget", "effects")}
        body |= {"active": False, "change_reason": "suspended"}
        assert (
            await client.put("/api/v1/admin/policies/GREEN_CARD", json=body, headers=officials["admin"])
        ).status_code == 200
        assert "GREEN_CARD" not in {p["code"] for p in (await client.get("/api/v1/policies")).json()["items"]}
        response = await client.post("/api/v1/me/claims", json={"policy_code": "GREEN_CARD"}, headers=talent)
        assert response.status_code == 422

    async def test_malformed_rules_are_422_naming_the_field(
        self, client: httpx.AsyncClient, officials: dict[str, Headers]
    ) -> None:
        cases = [
            _new_policy(eligibility={"tiers": ["Z"]}),
            _new_policy(eligibility={"max_age_years": 35}),
            _new_policy(amount={"basis": "by_tier", "values": {"master": 1}}),
            _new_policy(amount={"basis": "entered_by_officer", "per": "month"}),
            _new_policy(code="lower-case"),
            _new_policy(limits={"frequency": "weekly"}),
        ]
        for body in cases:
            response = await client.post("/api/v1/admin/policies", json=body, headers=officials["admin"])
            assert response.status_code == 422, body
            assert response.json()["errors"], body

    async def test_only_admins_change_policies(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], talent: Headers
    ) -> None:
        for headers in (talent, officials["approver.city"]):
            assert (await client.post("/api/v1/admin/policies", json=_new_policy(), headers=headers)).status_code == 403
        assert (await client.post("/api/v1/admin/policies", json=_new_policy())).status_code == 401
        missing = await client.put(
            "/api/v1/admin/policies/NOPE", json={**_new_policy(), "change_reason": "x"}, headers=officials["admin"]
        )
        assert missing.status_code == 422  # code is not a field of an update
        body = {k: v for k, v in _new_policy().items() if k != "code"} | {"change_reason": "x"}
        assert (
            await client.put("/api/v1/admin/policies/NOPE", json=body, headers=officials["admin"])
        ).status_code == 404
