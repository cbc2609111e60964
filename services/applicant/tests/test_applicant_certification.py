"""Online certification: submission, region-scoped queues, decisions, segregation of duties, audit."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from servicekit.timers import ScheduledTimer
from sqlmodel import select

from .conftest import EVIDENCE, SHA, Officials, certification_body, certify, decide, register, submit


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()  # type: ignore[arg-type]
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


class TestSubmitCertification:
    async def test_submission_is_201_submitted_in_the_profile_region(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await register(client, talent)
        body = await submit(client, talent, route="programme", claimed_tier="C", programme_code="KUNPENG-2026")
        assert body["status"] == "submitted"
        assert body["region_code"] == "330402"
        assert body["evidence"] == EVIDENCE
        assert body["city_approvals_needed"] == 1
        [event] = await _events(applicant_app, "certification.submitted.v1")
        assert event["claimed_tier"] == "C" and event["region_code"] == "330402"

    async def test_without_a_profile_is_409_with_the_next_step(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.post("/api/v1/me/certifications", json=certification_body(), headers=talent)
        assert response.status_code == 409
        assert "PUT /api/v1/me/profile" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("evidence", "field"),
        [
            ([{"kind": "diploma", "reference": "x"}], "evidence.0.sha256"),
            ([{"kind": "diploma", "reference": "x", "sha256": "abc"}], "evidence.0.sha256"),
            ([{"kind": "diploma", "reference": "x", "sha256": "g" * 64}], "evidence.0.sha256"),
            ([], "evidence"),
        ],
    )
    async def test_evidence_needs_a_sha256_of_64_hex_digits(
        self, client: httpx.AsyncClient, talent: dict[str, str], evidence: list[dict[str, str]], field: str
    ) -> None:
        await register(client, talent)
        response = await client.post(
            "/api/v1/me/certifications", json=certification_body(evidence=evidence), headers=talent
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]

    async def test_programme_route_needs_a_programme_code(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        response = await client.post(
            "/api/v1/me/certifications", json=certification_body(route="programme"), headers=talent
        )
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "programme_code", "message": "the programme route needs the code of the talent programme"}
        ]

    async def test_unknown_route_tier_or_field_is_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        response = await client.post(
            "/api/v1/me/certifications",
            json=certification_body(route="lottery", claimed_tier="S", status="certified"),
            headers=talent,
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"route", "claimed_tier", "status"}

    async def test_second_open_certification_is_409(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        first = await submit(client, talent)
        response = await client.post("/api/v1/me/certifications", json=certification_body(), headers=talent)
        assert response.status_code == 409
        assert first["id"] in response.json()["detail"]

    async def test_idempotency_key_replays_the_first_response(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        headers = {**talent, "Idempotency-Key": "cert-1"}
        first = await client.post("/api/v1/me/certifications", json=certification_body(), headers=headers)
        again = await client.post("/api/v1/me/certifications", json=certification_body(), headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        other = await client.post(
            "/api/v1/me/certifications", json=certification_body(claimed_tier="D"), headers=headers
        )
        assert other.status_code == 409

    async def test_talent_sees_only_own_certifications(
        self, client: httpx.AsyncClient, talent: dict[str, str], test_keys: TestKeys
    ) -> None:
        await register(client, talent)
        mine = await submit(client, talent)
        other = test_keys.headers(str(uuid.uuid4()), ["talent"])
        assert (await client.get(f"/api/v1/me/certifications/{mine['id']}", headers=other)).status_code == 404
        listing = (await client.get("/api/v1/me/certifications", headers=talent)).json()
        assert [c["id"] for c in listing["items"]] == [mine["id"]]


class TestReviewQueue:
    async def test_county_reviewer_sees_only_its_region(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        nanhu = (await client.get("/api/v1/reviews/certifications?status=pending", headers=officials.nanhu)).json()
        assert [c["id"] for c in nanhu["items"]] == [certification["id"]]
        assert nanhu["items"][0]["applicant"]["id_number_masked"].startswith("330402****")
        xiuzhou = (await client.get("/api/v1/reviews/certifications", headers=officials.xiuzhou)).json()
        assert xiuzhou["items"] == []
        response = await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.xiuzhou)
        assert response.status_code == 404

    async def test_city_approver_sees_county_approved_ones(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        assert (await client.get("/api/v1/reviews/certifications", headers=officials.city)).json()["items"] == []
        await decide(client, certification["id"], officials.nanhu)
        queue = (await client.get("/api/v1/reviews/certifications", headers=officials.city)).json()
        assert [c["status"] for c in queue["items"]] == ["county_approved"]

    async def test_queue_pages_with_a_cursor(
        self, client: httpx.AsyncClient, officials: Officials, test_keys: TestKeys
    ) -> None:
        ids = []
        for sequence in ("101", "102", "103"):
            headers = test_keys.headers(str(uuid.uuid4()), ["talent"])
            await register(client, headers, id_number=_resident_id(sequence))
            ids.append((await submit(client, headers))["id"])
        first = (await client.get("/api/v1/reviews/certifications?limit=2", headers=officials.nanhu)).json()
        second = (
            await client.get(
                f"/api/v1/reviews/certifications?limit=2&cursor={first['next_cursor']}", headers=officials.nanhu
            )
        ).json()
        assert [c["id"] for c in first["items"] + second["items"]] == ids
        assert second["next_cursor"] is None

    @pytest.mark.parametrize(
        "position", [["x"], ["yesterday", "some-id"], {"at": "x"}], ids=["short", "not-a-time", "not-a-list"]
    )
    async def test_a_cursor_this_api_did_not_issue_is_a_422(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, position: Any
    ) -> None:
        cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
        mine = await client.get(f"/api/v1/me/certifications?cursor={cursor}", headers=talent)
        queue = await client.get(f"/api/v1/reviews/certifications?cursor={cursor}", headers=officials.nanhu)
        for response in (mine, queue):
            assert response.status_code == 422, response.text
            assert response.json()["errors"] == [{"field": "cursor", "message": "invalid"}]

    async def test_a_talent_or_partner_may_not_read_the_queue(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        assert (await client.get("/api/v1/reviews/certifications", headers=talent)).status_code == 403
        assert (
            await client.get("/api/v1/reviews/certifications", headers=officials.partner("bank"))
        ).status_code == 403

    async def test_unknown_status_filter_is_422(self, client: httpx.AsyncClient, officials: Officials) -> None:
        response = await client.get("/api/v1/reviews/certifications?status=done", headers=officials.city)
        assert response.status_code == 422


def _resident_id(sequence: str) -> str:
    from .conftest import resident_id

    return resident_id(sequence=sequence)


class TestDecisions:
    async def test_county_then_city_approval_certifies_with_points_and_validity(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        certified = await certify(client, talent, officials, tier="D")
        assert [d["stage"] for d in certified["decisions"]] == ["county", "city"]
        me = (await client.get("/api/v1/me/talent", headers=talent)).json()
        # D 40 + master 10 + 6 (12 months) + shortage catalogue 5
        assert me["status"] == "certified" and me["tier"] == "D" and me["points"] == 61
        [event] = await _events(applicant_app, "talent.certified.v1")
        assert event["tier"] == "D" and event["points"] == 61 and event["region_code"] == "330402"
        assert event["certified_until"] == me["certified_until"]
        # D is valid 3 years (data/tiers.json), and the expiry timer is persisted.
        assert int(me["certified_until"][:4]) - int(certified["submitted_at"][:4]) == 3
        async with applicant_app.state.database.sessionmaker() as session:
            # The review stages' deadline timer ended with the review; the expiry timer is the one pending.
            [timer] = (await session.exec(select(ScheduledTimer).where(ScheduledTimer.status == "pending"))).all()
        assert timer.kind == "talent.certification_expiry" and timer.key == me["talent_id"]
        decided = await _events(applicant_app, "certification.decided.v1")
        assert [(e["stage"], e["status"]) for e in decided] == [("county", "county_approved"), ("city", "certified")]

    async def test_officer_may_grant_another_tier_than_claimed(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent, claimed_tier="C")
        await decide(client, certification["id"], officials.nanhu, tier="D")
        response = await decide(client, certification["id"], officials.city)
        assert response.json()["tier"] == "D"
        assert (await client.get("/api/v1/me/talent", headers=talent)).json()["tier"] == "D"

    async def test_tier_a_needs_two_different_city_approvers(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent, claimed_tier="A", route="expert_recommendation")
        assert certification["city_approvals_needed"] == 2
        await decide(client, certification["id"], officials.nanhu)
        first = await decide(client, certification["id"], officials.city)
        assert first.status_code == 200 and first.json()["status"] == "county_approved"
        # The first approver no longer sees it; the second one does.
        assert (await client.get("/api/v1/reviews/certifications", headers=officials.city)).json()["items"] == []
        queue = (await client.get("/api/v1/reviews/certifications", headers=officials.city2)).json()["items"]
        assert [c["id"] for c in queue] == [certification["id"]]
        again = await decide(client, certification["id"], officials.city)
        assert again.status_code == 409
        assert "different officer" in again.json()["detail"]
        second = await decide(client, certification["id"], officials.city2)
        assert second.json()["status"] == "certified"

    async def test_case_by_case_needs_two_city_approvers_whatever_the_tier(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent, claimed_tier="E", route="case_by_case")
        await decide(client, certification["id"], officials.nanhu)
        assert (await decide(client, certification["id"], officials.city)).json()["status"] == "county_approved"
        assert (await decide(client, certification["id"], officials.city2)).json()["status"] == "certified"

    async def test_one_officer_never_decides_two_stages(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, test_keys: TestKeys
    ) -> None:
        both = test_keys.headers("official-both", ["county_reviewer", "city_approver"], region="330402")
        await register(client, talent)
        certification = await submit(client, talent)
        assert (await decide(client, certification["id"], both)).status_code == 200
        response = await decide(client, certification["id"], both)
        assert response.status_code == 403
        assert "one stage" in response.json()["detail"]

    async def test_county_reviewer_cannot_take_the_city_stage(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        await decide(client, certification["id"], officials.nanhu)
        response = await decide(client, certification["id"], officials.nanhu)
        assert response.status_code == 403
        assert "city_approver" in response.json()["detail"]

    async def test_city_approver_cannot_skip_the_county(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        response = await decide(client, certification["id"], officials.city)
        assert response.status_code == 403

    async def test_decision_out_of_the_reviewers_region_is_404(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        assert (await decide(client, certification["id"], officials.xiuzhou)).status_code == 404

    async def test_decision_on_a_rejected_certification_is_409(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        rejected = await decide(client, certification["id"], officials.nanhu, "reject", reason="diploma unreadable")
        assert rejected.json()["status"] == "rejected"
        response = await decide(client, certification["id"], officials.city)
        assert response.status_code == 409
        assert "rejected" in response.json()["detail"]

    async def test_reject_and_return_need_a_reason(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        response = await decide(client, certification["id"], officials.nanhu, "return", reason="")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "reason"

    async def test_unknown_certification_and_bad_decision_are_clear_4xx(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        assert (await decide(client, str(uuid.uuid4()), officials.city)).status_code == 404
        response = await client.post(
            f"/api/v1/reviews/certifications/{uuid.uuid4()}/decisions",
            json={"decision": "maybe", "reason": "x"},
            headers=officials.city,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "decision"


class TestReturnAndResubmit:
    async def test_returned_certification_is_resubmitted_as_a_new_round(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        returned = await decide(client, certification["id"], officials.nanhu, "return", reason="scan the stamp page")
        assert returned.json()["status"] == "returned"
        new_evidence = [{"kind": "diploma", "reference": "files/diploma-2.pdf", "sha256": "B" * 64}]
        response = await client.post(
            f"/api/v1/me/certifications/{certification['id']}/resubmit",
            json={"evidence": new_evidence, "note": "added the stamp page"},
            headers=talent,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "submitted" and body["round"] == 2
        assert body["evidence"] == [{**new_evidence[0], "sha256": "b" * 64}]
        # The same county reviewer decides the new round (same stage), then the city certifies.
        assert (await decide(client, certification["id"], officials.nanhu)).json()["status"] == "county_approved"
        assert (await decide(client, certification["id"], officials.city)).json()["status"] == "certified"
        assert len(await _events(applicant_app, "certification.submitted.v1")) == 2

    async def test_only_a_returned_certification_can_be_resubmitted(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        response = await client.post(
            f"/api/v1/me/certifications/{certification['id']}/resubmit", json={}, headers=talent
        )
        assert response.status_code == 409

    async def test_a_return_at_city_stage_restarts_at_the_county(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent, claimed_tier="A", route="case_by_case")
        await decide(client, certification["id"], officials.nanhu)
        await decide(client, certification["id"], officials.city)
        await decide(client, certification["id"], officials.city2, "return", reason="need the award certificate")
        await client.post(
            f"/api/v1/me/certifications/{certification['id']}/resubmit",
            json={"evidence": [{"kind": "award", "reference": "files/award.pdf", "sha256": SHA}]},
            headers=talent,
        )
        await decide(client, certification["id"], officials.nanhu)
        # The earlier round's city approval does not count: two new ones are needed.
        assert (await decide(client, certification["id"], officials.city)).json()["status"] == "county_approved"
        assert (await decide(client, certification["id"], officials.city2)).json()["status"] == "certified"


class TestAudit:
    async def test_every_decision_is_in_the_hash_chained_log_for_auditors(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        certified = await certify(client, talent, officials)
        log = (await client.get("/api/v1/audit/applicant", headers=officials.auditor)).json()["items"]
        assert [e["action"] for e in log] == ["certification.city.approve", "certification.county.approve"]
        assert log[0]["subject_id"] == certified["id"]
        assert log[0]["before"]["status"] == "county_approved" and log[0]["after"]["status"] == "certified"
        assert log[0]["actor"] == "official-approver-city"
        verify = (await client.get("/api/v1/audit/applicant/verify", headers=officials.auditor)).json()
        assert verify == {"valid": True, "entries": 2, "first_broken_seq": None}

    async def test_a_reviewer_cannot_read_the_audit_log(self, client: httpx.AsyncClient, officials: Officials) -> None:
        assert (await client.get("/api/v1/audit/applicant", headers=officials.nanhu)).status_code == 403
