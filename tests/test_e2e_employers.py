"""Employers (用人单位) across the platform, through the gateway: a talent names employer.demo in the profile
and so joins its staff; the employer's confirmation makes the facts employer-attested in applicant and reaches
benefits' reviewers; its dispute blocks straight-through approval in benefits and reaches the talent's inbox;
another employer sees nothing of the talent. A recommendation the employer files is cited by the talent's
certification on the employer_recommendation route, and the reviewer's case shows it.

Every service runs as its own process on the real broker; the test talks only to the gateway.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from servicekit.testing import eventually

from .helpers import (
    DEV_EMPLOYER_CREDIT_CODE,
    EVIDENCE,
    Headers,
    auto_granted_claim,
    certify,
    employer,
    fresh_id_number,
    new_employer,
    official,
    profile,
    talent,
    unique_phone,
)

EMPLOYED_SINCE = (date.today() - timedelta(days=400)).isoformat()


async def _staff_member(gateway: httpx.AsyncClient, auth: Headers, talent_id: str) -> dict[str, Any]:
    """The talent as the employer's staff list shows them (paging through: every test talent may be staff)."""
    cursor: str | None = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = await gateway.get("/api/v1/employer/staff", params=params, headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        found = [m for m in page["items"] if m["talent_id"] == talent_id]
        if found:
            member: dict[str, Any] = found[0]
            return member
        cursor = page["next_cursor"]
        assert cursor is not None, "the talent is not on the employer's staff"


async def _attest(
    gateway: httpx.AsyncClient, auth: Headers, talent_id: str, outcome: str, months: int
) -> dict[str, Any]:
    response = await gateway.post(
        "/api/v1/employer/attestations",
        json={
            "talent_id": talent_id,
            "employed_since": EMPLOYED_SINCE,
            "position": "芯片设计工程师",
            "social_insurance_months": months,
            "outcome": outcome,
        },
        headers={**auth, "Idempotency-Key": f"attest-{uuid.uuid4()}"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _claim_case(gateway: httpx.AsyncClient, claim_id: str) -> dict[str, Any]:
    response = await gateway.get(
        f"/api/v1/reviews/claims/{claim_id}", headers=await official(gateway, "reviewer.nanhu")
    )
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()
    return case


class TestEmployersAcrossServices:
    async def test_attestations_reach_the_profile_benefits_and_the_inbox_and_no_other_employer(
        self, gateway: httpx.AsyncClient
    ) -> None:
        id_number, phone = fresh_id_number(), unique_phone()
        auth = await talent(gateway, phone)  # the profile's phone is the one proved at sign-in
        body = {**profile(id_number), "phone": phone, "social_insurance_months": 10}
        assert body["employer"]["credit_code"] == DEV_EMPLOYER_CREDIT_CODE
        talent_id = await certify(gateway, auth, body)
        claim = await auto_granted_claim(gateway, auth)

        # employer.demo signs in and finds the talent on its staff: masked identity number, no phone.
        demo = await employer(gateway)
        member = await _staff_member(gateway, demo, talent_id)
        assert member["name"] == body["name"] and member["status"] == "certified" and member["tier"] == "E"
        assert member["id_number_masked"] == id_number[:6] + "*" * 8 + id_number[-4:]
        assert member["attestation"] is None
        one = await gateway.get(f"/api/v1/employer/staff/{talent_id}", headers=demo)
        assert one.status_code == 200, one.text
        for text in (one.text, str(member)):
            assert id_number not in text and phone not in text and phone.removeprefix("+86") not in text

        # A confirmation with the profile's months: both facts become employer-attested.
        confirmation = await _attest(gateway, demo, talent_id, "confirmed", 10)
        assert confirmation["status"] == "standing" and confirmation["blocking"] is False
        assert set(confirmation["attested_facts"]) == {"employer", "social_insurance_months"}
        provenance = (await gateway.get("/api/v1/me/profile", headers=auth)).json()["provenance"]
        assert provenance["employer"]["source"] == "employer_attested"
        assert provenance["social_insurance_months"]["source"] == "employer_attested"
        mine = (await gateway.get("/api/v1/me/attestations", headers=auth)).json()["items"]
        assert [a["id"] for a in mine] == [confirmation["id"]]

        async def benefits_knows_the_confirmation() -> bool:
            case = await _claim_case(gateway, claim["id"])
            return case["employment_attestation"] == "confirmed" and case["straight_through_blockers"] == []

        await eventually(benefits_knows_the_confirmation, timeout=30)

        # The employer disputes: benefits blocks straight-through approval, the talent is told.
        dispute = await _attest(gateway, demo, talent_id, "disputed", 10)
        assert dispute["blocking"] is True and dispute["attested_facts"] == []

        async def benefits_blocks() -> list[str]:
            blockers: list[str] = (await _claim_case(gateway, claim["id"]))["straight_through_blockers"]
            return blockers if "employment_disputed" in blockers else []

        assert "employment_disputed" in await eventually(benefits_blocks, timeout=30)

        async def told_of_the_dispute() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await gateway.get("/api/v1/me/inbox", headers=auth)).json()["items"]
            return [i for i in items if i["title"] == "用人单位对您的在职信息提出异议"]

        [message] = await eventually(told_of_the_dispute, timeout=30)
        assert DEV_EMPLOYER_CREDIT_CODE in message["body"]

        # An employer of another company sees nothing of the talent, and cannot attest them.
        _, other = await new_employer(gateway)
        assert (await gateway.get(f"/api/v1/employer/staff/{talent_id}", headers=other)).status_code == 404
        attempt = await gateway.post(
            "/api/v1/employer/attestations",
            json={"talent_id": talent_id, "employed_since": EMPLOYED_SINCE, "social_insurance_months": 10,
                  "outcome": "confirmed"},
            headers=other,
        )  # fmt: skip
        assert attempt.status_code == 404, attempt.text
        staff = await gateway.get("/api/v1/employer/staff", params={"limit": 200}, headers=other)
        assert staff.status_code == 200 and talent_id not in staff.text

    async def test_a_recommendation_is_cited_by_the_certification_and_shown_to_the_reviewer(
        self, gateway: httpx.AsyncClient
    ) -> None:
        auth = await talent(gateway)
        stored = await gateway.put("/api/v1/me/profile", json=profile(fresh_id_number()), headers=auth)
        assert stored.status_code == 200, stored.text
        talent_id = (await gateway.get("/api/v1/me/talent", headers=auth)).json()["talent_id"]

        demo = await employer(gateway)
        filed = await gateway.post(
            "/api/v1/employer/recommendations",
            json={"talent_id": talent_id, "claimed_tier": "D", "reason": "牵头完成车规级芯片流片"},
            headers={**demo, "Idempotency-Key": f"recommend-{uuid.uuid4()}"},
        )
        assert filed.status_code == 201, filed.text
        recommendation = filed.json()
        assert (
            recommendation["status"] == "filed" and recommendation["employer_credit_code"] == DEV_EMPLOYER_CREDIT_CODE
        )

        async def told_to_cite_it() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await gateway.get("/api/v1/me/inbox", headers=auth)).json()["items"]
            return [i for i in items if recommendation["id"] in i["body"]]

        [message] = await eventually(told_to_cite_it, timeout=30)
        assert "用人单位举荐" in message["body"]
        [listed] = (await gateway.get("/api/v1/me/recommendations", headers=auth)).json()["items"]
        assert listed["id"] == recommendation["id"]

        submitted = await gateway.post(
            "/api/v1/me/certifications",
            json={
                "route": "employer_recommendation",
                "claimed_tier": "D",
                "evidence": EVIDENCE,
                "recommendation_id": recommendation["id"],
            },
            headers=auth,
        )
        assert submitted.status_code == 201, submitted.text
        certification_id = submitted.json()["id"]

        case = await gateway.get(
            f"/api/v1/reviews/certifications/{certification_id}", headers=await official(gateway, "reviewer.nanhu")
        )
        assert case.status_code == 200, case.text
        shown = case.json()["recommendation"]
        assert shown["id"] == recommendation["id"] and shown["status"] == "cited"
        assert shown["reason"] == "牵头完成车规级芯片流片" and shown["certification_id"] == certification_id

        # Once cited, the employer can no longer withdraw it.
        withdrawn = await gateway.delete(f"/api/v1/employer/recommendations/{recommendation['id']}", headers=demo)
        assert withdrawn.status_code == 409, withdrawn.text
