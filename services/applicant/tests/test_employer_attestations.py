"""Employers (用人单位): the staff they see (the talents whose profile names them), and their attestations of
employment and social-insurance months at the source — provenance, supersession, revocation, lapse on a change
of employer, the events and the reviewers' case views."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from applicant.employer.models import EmploymentAttestation
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from .conftest import Officials, certify, profile_body, register, resident_id, submit, verified_talent

STAFF = "/api/v1/employer/staff"
ATTESTATIONS = "/api/v1/employer/attestations"
MINE = "/api/v1/me/attestations"
LOG = "/api/v1/me/access-log"

# The employer the default profile names (conftest.profile_body), and another company.
CODE = "91330402MA2B3C4D53"
OTHER_CODE = "91330402MA2B3C4D66"
OTHER_EMPLOYER = {"name": "嘉兴另一家公司", "credit_code": OTHER_CODE, "region_code": "330402"}
PHONE = "+8613712345678"


@pytest.fixture
def talent(test_keys: TestKeys, talent_id: str) -> dict[str, str]:
    """The talents here signed in with PHONE: their tokens vouch for it, so their profiles may name it."""
    return verified_talent(test_keys, talent_id, PHONE)


def _employer_headers(keys: TestKeys, user: str, code: str, name: str) -> dict[str, str]:
    return keys.headers(
        user, ["employer"], region="330402", employer_id=f"emp-{code[-4:]}", credit_code=code, employer_name=name
    )


@pytest.fixture
def employer(test_keys: TestKeys) -> dict[str, str]:
    return _employer_headers(test_keys, "employer-user-1", CODE, "嘉兴某科技有限公司")


@pytest.fixture
def other_employer(test_keys: TestKeys) -> dict[str, str]:
    return _employer_headers(test_keys, "employer-user-2", OTHER_CODE, "嘉兴另一家公司")


@pytest.fixture
def other_talent(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("talent-other-0001", ["talent"])


async def _talent_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    talent_id: str = (await client.get("/api/v1/me/profile", headers=headers)).json()["talent_id"]
    return talent_id


def _attestation(talent_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "talent_id": talent_id,
        "employed_since": "2024-07-01",
        "position": "算法工程师",
        "social_insurance_months": 12,  # as the default profile says
        "outcome": "confirmed",
    }
    body.update(overrides)
    return body


async def _attest(
    client: httpx.AsyncClient, employer: dict[str, str], talent_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(ATTESTATIONS, json=_attestation(talent_id, **overrides), headers=employer)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _provenance(client: httpx.AsyncClient, talent: dict[str, str]) -> dict[str, str]:
    profile = (await client.get("/api/v1/me/profile", headers=talent)).json()
    return {name: p["source"] for name, p in profile["provenance"].items()}


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()  # type: ignore[arg-type]
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


async def _log(client: httpx.AsyncClient, talent: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(LOG, headers=talent)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _statuses(client: httpx.AsyncClient, employer: dict[str, str]) -> dict[str, str]:
    page = (await client.get(ATTESTATIONS, headers=employer)).json()
    return {a["id"]: a["status"] for a in page["items"]}


class TestStaff:
    async def test_an_employer_sees_only_the_talents_whose_profile_names_it(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        other_talent: dict[str, str],
        employer: dict[str, str],
        other_employer: dict[str, str],
    ) -> None:
        await register(client, talent, phone=PHONE)
        await register(client, other_talent, id_number=resident_id(sequence="456"), employer=OTHER_EMPLOYER)
        mine, theirs = await _talent_id(client, talent), await _talent_id(client, other_talent)

        page = await client.get(STAFF, headers=employer)
        assert page.status_code == 200, page.text
        assert [m["talent_id"] for m in page.json()["items"]] == [mine]
        assert [m["talent_id"] for m in (await client.get(STAFF, headers=other_employer)).json()["items"]] == [theirs]

        # Another employer's talent does not exist for this one: a 404, the same as an unknown id.
        assert (await client.get(f"{STAFF}/{theirs}", headers=employer)).status_code == 404
        assert (await client.get(f"{STAFF}/no-such-talent", headers=employer)).status_code == 404
        refused = await client.post(ATTESTATIONS, json=_attestation(theirs), headers=employer)
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")

    async def test_a_staff_member_shows_only_what_the_employer_needs(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent, phone=PHONE)
        talent_id = await _talent_id(client, talent)
        response = await client.get(f"{STAFF}/{talent_id}", headers=employer)
        assert response.status_code == 200, response.text
        member = response.json()
        assert set(member) == {
            "talent_id",
            "name",
            "id_number_masked",
            "tier",
            "status",
            "certified_until",
            "points",
            "attestation",
        }
        assert member["name"] == "张三" and member["status"] == "registered" and member["attestation"] is None
        assert member["id_number_masked"].startswith("330402") and "*" in member["id_number_masked"]
        for secret in (resident_id(), PHONE, "zhang.san@example.org", "浙江大学"):
            assert secret not in response.text

    async def test_every_staff_read_is_in_the_talents_read_log(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        other_talent: dict[str, str],
        employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        await register(client, other_talent, id_number=resident_id(sequence="456"), name="李四")
        assert len((await client.get(STAFF, headers=employer)).json()["items"]) == 2
        for headers in (talent, other_talent):
            [entry] = await _log(client, headers)
            assert (entry["actor_kind"], entry["action"]) == ("employer", "staff.list")
            # Who read: the employer by its credit code and the user by account id, never a person's name.
            assert entry["actor"] == f"{CODE} (employer-user-1)"

        await client.get(f"{STAFF}/{await _talent_id(client, talent)}", headers=employer)
        assert [e["action"] for e in await _log(client, talent)] == ["staff.read", "staff.list"]
        assert len(await _log(client, other_talent)) == 1

    async def test_the_staff_list_pages(
        self, client: httpx.AsyncClient, test_keys: TestKeys, employer: dict[str, str]
    ) -> None:
        for n in range(3):
            headers = test_keys.headers(f"talent-staff-{n}", ["talent"])
            await register(client, headers, id_number=resident_id(sequence=f"10{n}"))
        first = (await client.get(STAFF, headers=employer, params={"limit": 2})).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = (await client.get(STAFF, headers=employer, params={"limit": 2, "cursor": first["next_cursor"]})).json()
        assert [m["talent_id"] for m in second["items"]] == ["talent-staff-2"] and second["next_cursor"] is None
        bad = await client.get(STAFF, headers=employer, params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422

    async def test_only_employer_accounts_with_their_employer_claims_get_in(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        assert (await client.get(STAFF)).status_code == 401
        for headers in (talent, officials.nanhu, officials.admin):
            assert (await client.get(STAFF, headers=headers)).status_code == 403
            assert (await client.post(ATTESTATIONS, json=_attestation(talent_id), headers=headers)).status_code == 403
        # An employer token that names no employer (no credit code) is refused, not treated as "every employer".
        bare = test_keys.headers("employer-user-9", ["employer"], region="330402")
        response = await client.get(STAFF, headers=bare)
        assert response.status_code == 403
        assert "names no employer" in response.json()["detail"]
        # The talent's own list is for talents.
        assert (await client.get(MINE, headers=bare)).status_code == 403


class TestAttesting:
    async def test_a_matching_confirmation_makes_employer_and_months_employer_attested(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        attestation = await _attest(client, employer, talent_id, note="在职，社保按月缴纳")
        assert attestation["status"] == "standing" and attestation["outcome"] == "confirmed"
        assert attestation["employer_credit_code"] == CODE and attestation["employer_name"] == "嘉兴某科技有限公司"
        assert attestation["attested_facts"] == ["employer", "social_insurance_months"]
        assert attestation["mismatched_facts"] == [] and attestation["blocking"] is False
        assert attestation["attested_by"] == "employer-user-1" and attestation["withdrawn_at"] is None

        profile = (await client.get("/api/v1/me/profile", headers=talent)).json()
        assert profile["provenance"]["employer"]["source"] == "employer_attested"
        assert profile["provenance"]["employer"]["by"] == "employer-user-1"
        assert profile["provenance"]["social_insurance_months"]["source"] == "employer_attested"
        assert profile["provenance"]["education"]["source"] == "self_declared"

        [attested] = await _events(applicant_app, "employment.attested.v1")
        assert attested["attestation_id"] == attestation["id"] and attested["talent_id"] == talent_id
        assert attested["outcome"] == "confirmed" and attested["blocking"] is False
        assert attested["attested_facts"] == ["employer", "social_insurance_months"]
        # The other services' read models learn the new provenance.
        updated = (await _events(applicant_app, "profile_updated.v1"))[-1]
        assert (
            updated["provenance"]["employer"]
            == updated["provenance"]["social_insurance_months"]
            == ("employer_attested")
        )
        # The staff entry shows this employer's standing attestation; the talent sees it too.
        member = (await client.get(f"{STAFF}/{talent_id}", headers=employer)).json()
        assert member["attestation"]["id"] == attestation["id"] and member["attestation"]["blocking"] is False
        assert [a["id"] for a in (await client.get(MINE, headers=talent)).json()["items"]] == [attestation["id"]]

    async def test_other_months_attest_the_employer_only_and_block(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        attestation = await _attest(client, employer, await _talent_id(client, talent), social_insurance_months=7)
        assert attestation["attested_facts"] == ["employer"]
        assert attestation["mismatched_facts"] == ["social_insurance_months"] and attestation["blocking"] is True
        provenance = await _provenance(client, talent)
        assert provenance["employer"] == "employer_attested"
        assert provenance["social_insurance_months"] == "self_declared"
        [event] = await _events(applicant_app, "employment.attested.v1")
        assert event["mismatched_facts"] == ["social_insurance_months"] and event["blocking"] is True

    async def test_a_dispute_attests_nothing_and_withdraws_what_this_employer_attested(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        first = await _attest(client, employer, talent_id)
        dispute = await _attest(client, employer, talent_id, outcome="disputed", note="查无此人")
        assert dispute["attested_facts"] == [] and dispute["mismatched_facts"] == [] and dispute["blocking"] is True
        provenance = await _provenance(client, talent)
        assert provenance["employer"] == provenance["social_insurance_months"] == "self_declared"
        # The newer one supersedes the older: one standing attestation per employer and talent.
        assert await _statuses(client, employer) == {dispute["id"]: "standing", first["id"]: "superseded"}
        member = (await client.get(f"{STAFF}/{talent_id}", headers=employer)).json()
        assert member["attestation"]["id"] == dispute["id"] and member["attestation"]["outcome"] == "disputed"

    async def test_a_fact_an_officer_confirmed_since_is_left_alone(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        await _attest(client, employer, talent_id)
        # Certifying confirms the employer (officer_confirmed, by the city approver); the months stay attested.
        await certify(client, talent, officials)
        provenance = await _provenance(client, talent)
        assert (provenance["employer"], provenance["social_insurance_months"]) == (
            "officer_confirmed",
            "employer_attested",
        )
        await _attest(client, employer, talent_id, outcome="disputed")
        provenance = await _provenance(client, talent)
        assert (provenance["employer"], provenance["social_insurance_months"]) == (
            "officer_confirmed",
            "self_declared",
        )

    async def test_a_second_confirmation_moves_the_attestation_to_the_new_one(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        first = await _attest(client, employer, talent_id, social_insurance_months=7)
        second = await _attest(client, employer, talent_id)
        assert await _statuses(client, employer) == {second["id"]: "standing", first["id"]: "superseded"}
        superseded = next(a for a in (await client.get(MINE, headers=talent)).json()["items"] if a["id"] == first["id"])
        assert superseded["withdrawn_at"] is not None
        provenance = await _provenance(client, talent)
        assert provenance["employer"] == provenance["social_insurance_months"] == "employer_attested"

    async def test_the_dates_and_months_are_checked(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)  # born 1995-03-07
        talent_id = await _talent_id(client, talent)
        for overrides in (
            {"employed_since": "2099-01-01"},
            {"employed_since": "2011-03-06"},  # the day before the 16th birthday
        ):
            response = await client.post(ATTESTATIONS, json=_attestation(talent_id, **overrides), headers=employer)
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["field"] == "employed_since"
        assert (await _attest(client, employer, talent_id, employed_since="2011-03-07"))["status"] == "standing"
        for months in (-1, 601):
            body = _attestation(talent_id, social_insurance_months=months)
            assert (await client.post(ATTESTATIONS, json=body, headers=employer)).status_code == 422
        unknown = await client.post(ATTESTATIONS, json=_attestation(talent_id, tier="A"), headers=employer)
        assert unknown.status_code == 422

    async def test_the_database_keeps_one_standing_attestation_per_talent_and_employer(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        # Two attestations at the same moment both find no standing one to supersede: the second insert fails
        # (the kit answers a 409) instead of leaving two standing.
        await register(client, talent)
        standing = await _attest(client, employer, await _talent_id(client, talent))
        async with applicant_app.state.database.sessionmaker() as session:
            row = await session.get(EmploymentAttestation, standing["id"])
            assert row is not None
            session.add(EmploymentAttestation(**{**row.model_dump(), "id": "concurrent-one"}))
            with pytest.raises(IntegrityError):
                await session.commit()

    async def test_a_retry_with_the_same_idempotency_key_attests_once(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        body = _attestation(await _talent_id(client, talent))
        headers = {**employer, "Idempotency-Key": "attest-1"}
        first = await client.post(ATTESTATIONS, json=body, headers=headers)
        again = await client.post(ATTESTATIONS, json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"] and again.headers.get("Idempotent-Replayed") == "true"
        assert len(await _events(applicant_app, "employment.attested.v1")) == 1
        other = await client.post(ATTESTATIONS, json={**body, "outcome": "disputed"}, headers=headers)
        assert other.status_code == 409


class TestRevoking:
    async def test_revoking_returns_the_facts_to_the_talents_word(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        talent: dict[str, str],
        employer: dict[str, str],
        other_employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        attestation = await _attest(client, employer, await _talent_id(client, talent))
        # Another employer cannot touch it.
        assert (await client.delete(f"{ATTESTATIONS}/{attestation['id']}", headers=other_employer)).status_code == 404

        assert (await client.delete(f"{ATTESTATIONS}/{attestation['id']}", headers=employer)).status_code == 204
        assert await _statuses(client, employer) == {attestation["id"]: "revoked"}
        provenance = await _provenance(client, talent)
        assert provenance["employer"] == provenance["social_insurance_months"] == "self_declared"
        [withdrawn] = await _events(applicant_app, "employment.attestation_withdrawn.v1")
        assert withdrawn["attestation_id"] == attestation["id"] and withdrawn["reason"] == "revoked"
        assert (await _events(applicant_app, "profile_updated.v1"))[-1]["provenance"]["employer"] == "self_declared"

        # Revoking again changes nothing (no second event).
        assert (await client.delete(f"{ATTESTATIONS}/{attestation['id']}", headers=employer)).status_code == 204
        assert len(await _events(applicant_app, "employment.attestation_withdrawn.v1")) == 1
        assert (await client.delete(f"{ATTESTATIONS}/no-such-id", headers=employer)).status_code == 404

    async def test_each_move_is_audited_without_personal_data(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        first = await _attest(client, employer, talent_id, note="张三在职")
        await _attest(client, employer, talent_id)
        await client.delete(f"{ATTESTATIONS}/{first['id']}", headers=employer)  # superseded already: no move
        response = await client.get("/api/v1/audit/applicant", headers=officials.auditor, params={"limit": 200})
        entries = [e for e in response.json()["items"] if e["action"].startswith("attestation.")]
        assert sorted(e["action"] for e in entries) == [
            "attestation.attest",
            "attestation.attest",
            "attestation.supersede",
        ]
        assert all(e["actor"] == "employer-user-1" for e in entries)
        assert "张三" not in json.dumps(entries, ensure_ascii=False)


class TestEmployerChange:
    async def test_a_talent_who_names_another_employer_loses_the_old_attestation(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        talent: dict[str, str],
        employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        talent_id = await _talent_id(client, talent)
        attestation = await _attest(client, employer, talent_id)

        response = await client.put("/api/v1/me/profile", json=profile_body(employer=OTHER_EMPLOYER), headers=talent)
        assert response.status_code == 200, response.text
        assert response.json()["provenance"]["social_insurance_months"]["source"] == "self_declared"
        assert await _statuses(client, employer) == {attestation["id"]: "lapsed"}
        [withdrawn] = await _events(applicant_app, "employment.attestation_withdrawn.v1")
        assert withdrawn["reason"] == "employer_changed" and withdrawn["employer_credit_code"] == CODE
        # The profile event of the change already carries the new provenance.
        assert (await _events(applicant_app, "profile_updated.v1"))[-1]["provenance"]["social_insurance_months"] == (
            "self_declared"
        )
        # The talent is no longer on the old employer's staff.
        assert (await client.get(f"{STAFF}/{talent_id}", headers=employer)).status_code == 404

    async def test_the_same_employer_in_a_new_profile_keeps_its_attestation(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        attestation = await _attest(client, employer, await _talent_id(client, talent))
        await client.put("/api/v1/me/profile", json=profile_body(title="intermediate"), headers=talent)
        assert await _statuses(client, employer) == {attestation["id"]: "standing"}
        assert (await _provenance(client, talent))["employer"] == "employer_attested"

    async def test_an_approved_change_of_employer_lapses_it_and_the_reviewer_saw_it(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        talent: dict[str, str],
        employer: dict[str, str],
        officials: Officials,
    ) -> None:
        await certify(client, talent, officials)
        talent_id = await _talent_id(client, talent)
        attestation = await _attest(client, employer, talent_id)
        body = {"changes": {"employer": OTHER_EMPLOYER}, "reason": "I changed jobs"}
        request = await client.post("/api/v1/me/change-requests", json=body, headers=talent)
        assert request.status_code == 201, request.text

        case = await client.get(f"/api/v1/reviews/change-requests/{request.json()['id']}", headers=officials.nanhu)
        assert case.json()["attestation"]["id"] == attestation["id"]
        # A queue page does not load it (one query per row is for the case view only).
        queue = await client.get("/api/v1/reviews/change-requests", headers=officials.nanhu)
        assert [item["attestation"] for item in queue.json()["items"]] == [None]

        decision = {"decision": "approve", "reason": "labour contract checked"}
        decided = await client.post(
            f"/api/v1/reviews/change-requests/{request.json()['id']}/decisions", json=decision, headers=officials.nanhu
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["attestation"] is None
        assert await _statuses(client, employer) == {attestation["id"]: "lapsed"}
        # The new employer is the reviewer's word; the months the old employer attested are the talent's again.
        provenance = await _provenance(client, talent)
        assert (provenance["employer"], provenance["social_insurance_months"]) == (
            "officer_confirmed",
            "self_declared",
        )
        assert [e["reason"] for e in await _events(applicant_app, "employment.attestation_withdrawn.v1")] == [
            "employer_changed"
        ]
        updated = (await _events(applicant_app, "profile_updated.v1"))[-1]["provenance"]
        assert (updated["employer"], updated["social_insurance_months"]) == ("officer_confirmed", "self_declared")


class TestReviewers:
    async def test_the_certification_case_view_shows_the_standing_attestation(
        self, client: httpx.AsyncClient, talent: dict[str, str], employer: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        case_url = f"/api/v1/reviews/certifications/{certification['id']}"
        assert (await client.get(case_url, headers=officials.nanhu)).json()["attestation"] is None

        attestation = await _attest(client, employer, await _talent_id(client, talent), social_insurance_months=3)
        case = (await client.get(case_url, headers=officials.nanhu)).json()
        assert case["attestation"]["id"] == attestation["id"]
        assert case["attestation"]["mismatched_facts"] == ["social_insurance_months"]
        queue = (await client.get("/api/v1/reviews/certifications", headers=officials.nanhu)).json()
        assert [item["attestation"] for item in queue["items"]] == [None]
