"""Trusted facts: what a talent may still change on their own once a certification was submitted, the change
requests county reviewers decide, the provenance of each decision fact, and admins' identity corrections."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from sqlmodel import select

from .conftest import Officials, certify, decide, profile_body, register, resident_id, submit

CHANGES = "/api/v1/me/change-requests"
QUEUE = "/api/v1/reviews/change-requests"
AUDIT = "/api/v1/audit/applicant"


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()  # type: ignore[arg-type]
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


async def _put(client: httpx.AsyncClient, talent: dict[str, str], **overrides: Any) -> httpx.Response:
    return await client.put("/api/v1/me/profile", json=profile_body(**overrides), headers=talent)


async def _points(client: httpx.AsyncClient, talent: dict[str, str]) -> int:
    points: int = (await client.get("/api/v1/me/talent", headers=talent)).json()["points"]
    return points


async def _request(client: httpx.AsyncClient, talent: dict[str, str], **changes: Any) -> dict[str, Any]:
    body = {"changes": changes, "reason": "I finished my doctorate"}
    response = await client.post(CHANGES, json=body, headers=talent)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _decide(
    client: httpx.AsyncClient, request_id: str, headers: dict[str, str], decision: str = "approve"
) -> httpx.Response:
    body = {"decision": decision, "reason": "diploma checked against 学信网"}
    return await client.post(f"{QUEUE}/{request_id}/decisions", json=body, headers=headers)


async def _audit_actions(client: httpx.AsyncClient, officials: Officials) -> list[str]:
    response = await client.get(AUDIT, headers=officials.auditor, params={"limit": 200})
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["items"]]


DOCTOR = {"degree": "doctor", "school": "浙江大学", "graduated_on": "2025-06-30"}


class TestBeforeCertification:
    async def test_the_profile_stays_freely_editable_and_nothing_is_locked(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        response = await _put(client, talent, name="张三丰", education=DOCTOR, social_insurance_months=40)
        assert response.status_code == 200, response.text
        assert response.json()["locked_fields"] == []
        assert response.json()["provenance"]["education"] == {"source": "self_declared", "by": None, "at": None}

    async def test_a_change_request_is_refused_while_nothing_is_locked(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        response = await client.post(CHANGES, json={"changes": {"title": "senior"}, "reason": "x"}, headers=talent)
        assert response.status_code == 409
        assert "PUT /api/v1/me/profile" in response.json()["detail"]


class TestLocking:
    async def test_identity_is_locked_from_the_first_submission(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        await submit(client, talent)
        response = await _put(
            client,
            talent,
            name="李四",
            id_number=resident_id(sequence="456"),
            birth_date="1995-03-07",
        )
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in response.json()["errors"]} == {"name", "id_number"}
        # The number is never echoed back, not even in the refusal.
        assert resident_id(sequence="456") not in response.text

    async def test_a_certified_talent_cannot_raise_their_own_points(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        before = await _points(client, talent)
        response = await _put(
            client, talent, education=DOCTOR, title="senior", social_insurance_months=40, region_code="330411"
        )
        assert response.status_code == 409
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"education", "title", "social_insurance_months", "region_code"}
        assert await _points(client, talent) == before
        profile = (await client.get("/api/v1/me/profile", headers=talent)).json()
        assert profile["education"]["degree"] == "master" and profile["region_code"] == "330402"
        assert set(profile["locked_fields"]) >= {"name", "id_number", "education", "employer", "owns_home_in_city"}

    async def test_a_pending_talent_cannot_change_the_facts_under_review(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        await submit(client, talent)
        response = await _put(client, talent, title="senior")
        assert response.status_code == 409
        assert [e["field"] for e in response.json()["errors"]] == ["title"]

    async def test_contact_details_stay_editable(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        response = await _put(client, talent, email="new@example.org", locale="en")
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "new@example.org"

    async def test_facts_that_only_remove_benefits_apply_at_once_and_are_audited(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        before = await _points(client, talent)
        response = await _put(client, talent, social_insurance_months=2, owns_home_in_city=True)
        assert response.status_code == 200, response.text
        assert await _points(client, talent) < before
        assert "profile.facts.declared" in await _audit_actions(client, officials)
        # More months would raise points again: that needs review.
        response = await _put(client, talent, social_insurance_months=12, owns_home_in_city=True)
        assert response.status_code == 409
        assert [e["field"] for e in response.json()["errors"]] == ["social_insurance_months"]


class TestChangeRequests:
    async def test_an_approved_request_changes_profile_points_provenance_and_events(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        before = await _points(client, talent)
        created = await _request(client, talent, education=DOCTOR, title="senior")
        assert created["status"] == "submitted"
        assert created["changes"] == {"education": DOCTOR, "title": "senior"}
        assert created["before"]["education"]["degree"] == "master" and created["before"]["title"] is None
        # Benefits learns at once that the facts may change (names only, never the values).
        [submitted_event] = await _events(applicant_app, "change_request.submitted.v1")
        assert submitted_event["change_request_id"] == created["id"]
        assert submitted_event["facts"] == ["education", "title"] and "doctor" not in json.dumps(submitted_event)

        queue = (await client.get(QUEUE, headers=officials.nanhu)).json()["items"]
        [item] = [i for i in queue if i["id"] == created["id"]]
        assert item["applicant"]["points"] == before and item["points_after"] > before
        assert item["provenance"]["education"]["source"] == "officer_confirmed"

        decided = await _decide(client, created["id"], officials.nanhu)
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "approved" and decided.json()["decided_by"] == "official-reviewer-nanhu"
        assert await _points(client, talent) == item["points_after"]
        profile = (await client.get("/api/v1/me/profile", headers=talent)).json()
        assert profile["education"] == DOCTOR and profile["title"] == "senior"
        assert profile["provenance"]["title"]["source"] == "officer_confirmed"
        assert profile["provenance"]["title"]["by"] == "official-reviewer-nanhu"
        [*_, updated] = await _events(applicant_app, "talent.profile_updated.v1")
        assert updated["degree"] == "doctor" and updated["provenance"]["title"] == "officer_confirmed"
        [decided_event] = await _events(applicant_app, "change_request.decided.v1")
        assert decided_event["decision"] == "approve" and decided_event["facts"] == ["education", "title"]
        assert "doctor" not in json.dumps(decided_event)  # names of facts only, never their values
        [*_, points_changed] = await _events(applicant_app, "talent.points_changed.v1")
        assert points_changed["points"] == item["points_after"]
        # Traceable to the reviewer's decision in the audit log; the talent sees who read their case.
        assert "change_request.approve" in await _audit_actions(client, officials)
        log = (await client.get("/api/v1/me/access-log", headers=talent)).json()["items"]
        assert any(e["action"] == "change_request.read" and e["actor_kind"] == "official" for e in log)
        assert log[0]["action"] == "change_request.decide"

    async def test_a_rejected_request_changes_nothing_and_says_why(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        before = await _points(client, talent)
        created = await _request(client, talent, social_insurance_months=60)
        response = await _decide(client, created["id"], officials.nanhu, "reject")
        assert response.status_code == 200 and response.json()["status"] == "rejected"
        assert await _points(client, talent) == before
        [mine] = (await client.get(CHANGES, headers=talent)).json()["items"]
        assert mine["decision_reason"] == "diploma checked against 学信网"
        # Decided once: a second decision is a conflict.
        assert (await _decide(client, created["id"], officials.nanhu)).status_code == 409

    async def test_the_talents_requests_page_newest_first(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        first = await _request(client, talent, title="senior")
        assert (await _decide(client, first["id"], officials.nanhu, "reject")).status_code == 200
        second = await _request(client, talent, title="deputy_senior")
        page = (await client.get(CHANGES, params={"limit": 1}, headers=talent)).json()
        assert [r["id"] for r in page["items"]] == [second["id"]] and page["next_cursor"]
        rest = (await client.get(CHANGES, params={"limit": 1, "cursor": page["next_cursor"]}, headers=talent)).json()
        assert [r["id"] for r in rest["items"]] == [first["id"]] and rest["next_cursor"] is None

    async def test_a_reviewer_of_another_region_sees_nothing_and_gets_404(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        created = await _request(client, talent, title="senior")
        assert (await client.get(QUEUE, headers=officials.xiuzhou)).json()["items"] == []
        assert (await client.get(f"{QUEUE}/{created['id']}", headers=officials.xiuzhou)).status_code == 404
        assert (await _decide(client, created["id"], officials.xiuzhou)).status_code == 404

    async def test_city_approvers_and_talents_may_not_decide(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        created = await _request(client, talent, title="senior")
        assert (await _decide(client, created["id"], officials.city)).status_code == 403
        assert (await _decide(client, created["id"], talent)).status_code == 403

    async def test_the_same_person_may_not_decide_their_own_case(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        created = await _request(client, talent, title="senior")
        # An official whose subject is the talent's own (e.g. a reviewer who is also a registered talent).
        own = officials.keys.headers(talent_id, ["county_reviewer"], region="330402")
        response = await _decide(client, created["id"], own)
        assert response.status_code == 403
        assert "your own" in response.json()["detail"]

    async def test_one_open_request_at_a_time_and_no_empty_requests(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        same = await client.post(CHANGES, json={"changes": {"title": None}, "reason": "same"}, headers=talent)
        assert same.status_code == 422
        await _request(client, talent, title="senior")
        again = await client.post(CHANGES, json={"changes": {"title": "intermediate"}, "reason": "x"}, headers=talent)
        assert again.status_code == 409

    async def test_invalid_values_are_422_naming_the_field(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        bad_region = {"changes": {"region_code": "999999"}, "reason": "moved"}
        response = await client.post(CHANGES, json=bad_region, headers=talent)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "region_code"
        unknown = {"changes": {"tier": "A"}, "reason": "please"}
        assert (await client.post(CHANGES, json=unknown, headers=talent)).status_code == 422


class TestChangeRequestEvidence:
    async def test_evidence_is_the_talents_own_documents_shown_to_the_reviewer(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, tmp_path: Any
    ) -> None:
        from .test_applicant_documents import png, uploaded

        await certify(client, talent, officials)
        document = await uploaded(client, talent, png(), kind="diploma")
        stranger = officials.keys.headers("talent-stranger", ["talent"])
        body = {"changes": {"education": DOCTOR}, "reason": "new degree", "evidence": [{"document_id": document["id"]}]}
        refused = await client.post(CHANGES, json=body, headers=stranger)
        assert refused.status_code in (409, 422)  # the stranger has no profile, and the document is not theirs
        created = await client.post(CHANGES, json=body, headers=talent)
        assert created.status_code == 201, created.text
        [evidence] = created.json()["evidence"]
        assert evidence["document_id"] == document["id"] and evidence["content_type"] == "image/png"
        case = (await client.get(f"{QUEUE}/{created.json()['id']}", headers=officials.nanhu)).json()
        assert case["evidence"] == created.json()["evidence"]
        viewed = await client.get(f"/api/v1/reviews/documents/{document['id']}", headers=officials.nanhu)
        assert viewed.status_code == 200 and viewed.content == png()

    async def test_a_document_that_is_not_yours_is_422_naming_the_item(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        body = {"changes": {"title": "senior"}, "reason": "x", "evidence": [{"document_id": "someone-elses"}]}
        response = await client.post(CHANGES, json=body, headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "evidence.0.document_id"


class TestProvenance:
    async def test_certifying_confirms_the_facts_the_reviewers_saw(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        case = await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.nanhu)
        assert case.json()["applicant"]["provenance"]["education"]["source"] == "self_declared"
        assert (await decide(client, certification["id"], officials.nanhu)).status_code == 200
        assert (await decide(client, certification["id"], officials.city)).status_code == 200
        provenance = (await client.get("/api/v1/me/profile", headers=talent)).json()["provenance"]
        assert provenance["education"]["source"] == "officer_confirmed"
        assert provenance["education"]["by"] == "official-approver-city"
        assert provenance["social_insurance_months"]["source"] == "self_declared"

    async def test_a_fact_changed_on_the_talents_word_is_self_declared_again(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        created = await _request(client, talent, social_insurance_months=30)
        assert (await _decide(client, created["id"], officials.nanhu)).status_code == 200
        response = await _put(client, talent, social_insurance_months=20)
        assert response.status_code == 200, response.text
        assert response.json()["provenance"]["social_insurance_months"]["source"] == "self_declared"


class TestIdentityCorrections:
    async def test_an_admin_corrects_a_locked_identity_with_the_old_value_sealed(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        officials: Officials,
        applicant_app: FastAPI,
    ) -> None:
        await certify(client, talent, officials)
        url = f"/api/v1/admin/talents/{talent_id}/identity-corrections"
        body = {"changes": {"name": "张叁"}, "reason": "公安户籍核对：姓名录入错误"}
        response = await client.post(url, json=body, headers=officials.admin)
        assert response.status_code == 201, response.text
        assert response.json()["fields"] == ["name"]
        assert (await client.get("/api/v1/me/profile", headers=talent)).json()["name"] == "张叁"
        # Audited by field name only; the old name is stored only sealed.
        audit = (await client.get(AUDIT, headers=officials.auditor, params={"limit": 200})).json()["items"]
        [entry] = [e for e in audit if e["action"] == "talent.identity.corrected"]
        assert "张三" not in json.dumps(entry, ensure_ascii=False)
        async with applicant_app.state.database.engine.connect() as conn:
            from sqlalchemy import text

            sealed = (await conn.execute(text("SELECT before_sealed FROM talent_identity_correction"))).scalar_one()
        assert "张三" not in sealed
        assert json.loads(applicant_app.state.protector.cipher.decrypt(sealed)) == {"name": "张三"}

    async def test_only_admins_and_only_valid_identities(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        url = f"/api/v1/admin/talents/{talent_id}/identity-corrections"
        body = {"changes": {"id_number": "330402199503071230"}, "reason": "typo"}
        assert (await client.post(url, json=body, headers=officials.nanhu)).status_code == 403
        assert (await client.post(url, json=body, headers=talent)).status_code == 403
        response = await client.post(url, json=body, headers=officials.admin)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "changes.id_number"
        nobody = "/api/v1/admin/talents/nobody/identity-corrections"
        assert (
            await client.post(nobody, json={"changes": {"name": "x"}, "reason": "x"}, headers=officials.admin)
        ).status_code == 404
