"""The housing path through the whole platform, every service a real process on the real broker:

certify (applicant, real review endpoints) → the officer publishes a project, units and a round (housing)
→ the talent applies → close (seed commitment) → draw (seed revealed) → offer → accept → lease
→ benefits hears lease.started and the rent subsidy is no longer eligible → `housing verify-draw` confirms
the round from its public results.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from servicekit.testing import eventually

from .stack import BIN, Stack
from .test_e2e_registration import resident_id, sign_in_with_otp

PHONE = "+8613800000517"
PROFILE = {
    "name": "王五",
    "id_type": "resident_id",
    "id_number": resident_id(birth="19960412", sequence="517"),
    "birth_date": "1996-04-12",
    "locale": "zh-CN",
    "region_code": "330402",
    "education": {"degree": "master", "school": "浙江大学", "graduated_on": "2024-06-30"},
    "employer": {"name": "嘉兴某科技有限公司", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
    "social_insurance_months": 12,
    "owns_home_in_city": False,
}
PROJECT = {"name": "南湖人才公寓", "region_code": "330402", "supply_model": "government", "address": "南湖路1号"}
EVIDENCE = [{"kind": "diploma", "reference": "file:diploma-517", "sha256": "ab" * 32}]


async def _official(gateway: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await gateway.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": "dev-password"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _certify(gateway: httpx.AsyncClient, talent: dict[str, str]) -> None:
    response = await gateway.put("/api/v1/me/profile", json=PROFILE, headers=talent)
    assert response.status_code == 200, response.text
    response = await gateway.post(
        "/api/v1/me/certifications",
        json={"route": "degree", "claimed_tier": "E", "evidence": EVIDENCE},
        headers=talent,
    )
    assert response.status_code == 201, response.text
    certification_id = response.json()["id"]
    for reviewer in ("reviewer.nanhu", "approver.city"):
        decision = await gateway.post(
            f"/api/v1/reviews/certifications/{certification_id}/decisions",
            json={"decision": "approve", "tier": "E", "reason": "diploma checked"},
            headers=await _official(gateway, reviewer),
        )
        assert decision.status_code == 200, decision.text

    async def certified() -> bool:
        return bool((await gateway.get("/api/v1/me/talent", headers=talent)).json()["status"] == "certified")

    await eventually(certified, timeout=20)


async def _rent_subsidy(gateway: httpx.AsyncClient, talent: dict[str, str]) -> dict[str, Any] | None:
    response = await gateway.get("/api/v1/me/eligibility", headers=talent)
    if response.status_code != 200:
        return None
    return next((i for i in response.json()["items"] if i["policy_code"] == "RENT_SUBSIDY"), None)


class TestHousingAcrossThePlatform:
    async def test_certified_talent_gets_a_lease_and_the_draw_verifies(
        self, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        talent = {"Authorization": f"Bearer {await sign_in_with_otp(gateway, PHONE)}"}
        await _certify(gateway, talent)
        officer = await _official(gateway, "housing.city")

        project = await gateway.post(
            "/api/v1/housing/projects",
            json=PROJECT,
            headers=officer,
        )
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        units = await gateway.post(
            f"/api/v1/housing/projects/{project_id}/units",
            json={"units": [{"number": "1-101", "unit_type": "1BR", "area_m2": 48.0, "monthly_rent_fen": 250000}]},
            headers=officer,
        )
        assert units.status_code == 201, units.text
        closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        round_ = await gateway.post(
            "/api/v1/housing/rounds",
            json={"name": "2026 第一批", "unit_ids": [units.json()["items"][0]["id"]], "closes_at": closes_at},
            headers=officer,
        )
        assert round_.status_code == 201, round_.text
        round_id = round_.json()["id"]
        assert (await gateway.get("/api/v1/housing/projects")).json()["items"] == []  # its only unit is in the round

        # Housing learns of the certification from the applicant's events; apply once it has.
        async def applied() -> httpx.Response | None:
            response = await gateway.post(
                f"/api/v1/housing/rounds/{round_id}/applications",
                json={"preferred_project_ids": [project_id], "household_size": 2},
                headers=talent,
            )
            return response if response.status_code == 201 else None

        application = await eventually(applied, timeout=20, interval=0.2)
        assert application.json()["tier"] == "E"

        rent_subsidy_before = await _rent_subsidy(gateway, talent)

        closed = await gateway.post(f"/api/v1/housing/rounds/{round_id}/close", headers=officer)
        assert closed.status_code == 200, closed.text
        drawn = await gateway.post(f"/api/v1/housing/rounds/{round_id}/draw", headers=officer)
        assert drawn.status_code == 200, drawn.text

        mine = (await gateway.get("/api/v1/me/housing", headers=talent)).json()
        [offer] = mine["offers"]
        assert offer["status"] == "open" and offer["monthly_rent_fen"] == 200000  # tier E: 80% of 2,500.00
        accepted = await gateway.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["monthly_rent_fen"] == 200000
        assert (await gateway.get("/api/v1/me/housing", headers=talent)).json()["lease"]["id"] == accepted.json()["id"]

        # Benefits hears talent.housing.lease.started.v1: the rent subsidy is no longer eligible.
        async def subsidy_stopped() -> dict[str, Any] | None:
            item = await _rent_subsidy(gateway, talent)
            return item if item is not None and item["eligible"] is False else None

        stopped = await eventually(subsidy_stopped, timeout=20, interval=0.2)
        assert "lease" in str(stopped["reasons"]).lower(), stopped
        if rent_subsidy_before is not None:
            assert rent_subsidy_before["eligible"] is True, rent_subsidy_before

        # Anyone can recompute the round from what it published.
        command = await asyncio.create_subprocess_exec(
            str(BIN / "housing"), "verify-draw", "--base-url", stack.gateway_url, "--round", round_id,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output = (await asyncio.wait_for(command.communicate(), timeout=60))[0].decode()
        assert command.returncode == 0, output
        assert output.startswith("MATCH: 1 applications"), output

        # No name, phone or identity number in the housing service's log.
        log = stack.log("housing")
        assert PROFILE["id_number"] not in log and "王五" not in log and PHONE not in log
