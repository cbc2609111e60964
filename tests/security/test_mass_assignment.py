"""OWASP API3 (property level) and API6: a caller cannot set what the platform decides. A field the request
model does not name (tier, status, points, auto, talent_id, …) is a 422 naming it, never silently ignored
or applied, and an amount only goes where the policy lets the claimant enter one.
"""

from __future__ import annotations

from typing import Any

import httpx

from .. import helpers
from .conftest import Scene

# What only the platform (or an official) decides.
DECIDED_FOR_YOU = {"tier": "A", "status": "certified", "points": 999, "talent_id": "someone-else"}


def assert_refused(response: httpx.Response, *fields: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    named = {error["field"] for error in response.json().get("errors", [])}
    assert set(fields) <= named, f"expected {fields} among the errors {named}"


class TestATalentCannotSetWhatThePlatformDecides:
    async def test_in_the_profile(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        before = (await gateway.get("/api/v1/me/talent", headers=scene.carol)).json()
        for field, value in DECIDED_FOR_YOU.items():
            body = {**helpers.profile(helpers.fresh_id_number()), field: value}
            assert_refused(await gateway.put("/api/v1/me/profile", json=body, headers=scene.carol), field)
        assert (await gateway.get("/api/v1/me/talent", headers=scene.carol)).json() == before
        assert before["tier"] is None and before["status"] == "registered"

    async def test_in_a_certification_application(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        body: dict[str, Any] = {"route": "degree", "claimed_tier": "E", "evidence": helpers.EVIDENCE}
        for field in ("tier", "status", "points"):
            response = await gateway.post(
                "/api/v1/me/certifications", json={**body, field: DECIDED_FOR_YOU[field]}, headers=scene.carol
            )
            assert_refused(response, field)

    async def test_in_a_claim(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        before = (await gateway.get("/api/v1/me/claims", headers=scene.alice)).json()["items"]
        forged = {"status": "disbursed", "amount_fen": 99_999_999, "auto": True, "talent_id": "someone-else"}
        for field, value in forged.items():
            body = {"policy_code": "RENT_SUBSIDY", field: value}
            assert_refused(await gateway.post("/api/v1/me/claims", json=body, headers=scene.alice), field)
        # RENT_SUBSIDY's amount follows the tier and the months: an amount in the details is a forgery too.
        body = {"policy_code": "RENT_SUBSIDY", "details": {"amount_fen": 99_999_999}}
        assert_refused(await gateway.post("/api/v1/me/claims", json=body, headers=scene.alice), "details.amount_fen")
        assert (await gateway.get("/api/v1/me/claims", headers=scene.alice)).json()["items"] == before

    async def test_in_a_housing_application(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        rounds = (await gateway.get("/api/v1/housing/rounds")).json()["items"]
        round_id = rounds[0]["id"] if rounds else "no-such-round"
        for field in ("tier", "points", "status"):
            body = {"household_size": 2, field: DECIDED_FOR_YOU[field]}
            response = await gateway.post(
                f"/api/v1/housing/rounds/{round_id}/applications", json=body, headers=scene.bob
            )
            assert_refused(response, field)

    async def test_in_notification_preferences(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        body = {"locale": "en", "talent_id": "someone-else", "email": "thief@example.org"}
        response = await gateway.put("/api/v1/me/notification-preferences", json=body, headers=scene.bob)
        assert_refused(response, "talent_id", "email")


class TestAnOfficialCannotSetWhatTheWorkflowDecides:
    async def test_a_certification_decision_takes_no_status_or_points(
        self, gateway: httpx.AsyncClient, scene: Scene
    ) -> None:
        url = f"/api/v1/reviews/certifications/{scene.ids['carol_certification']}/decisions"
        for field in ("status", "points"):
            body = {"decision": "approve", "reason": "ok", field: DECIDED_FOR_YOU[field]}
            assert_refused(await gateway.post(url, json=body, headers=scene.roles["county_reviewer"]), field)

    async def test_a_claim_decision_takes_no_status(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        url = f"/api/v1/reviews/claims/{scene.ids['claim']}/decisions"
        body = {"decision": "approve", "reason": "ok", "status": "disbursed"}
        assert_refused(await gateway.post(url, json=body, headers=scene.roles["county_reviewer"]), "status")
