"""Employers' 举荐 (recommendations): filed for a talent on their staff only, one filed at a time per talent and
employer, withdrawn until a certification cites it; the employer_recommendation certification route cites one
(this talent's, from the employer the profile names now, still filed, recommending a tier at least as good as
claimed) and the reviewers see it in the case view."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from applicant.employer.models import Recommendation
from applicant.states import RecommendationStatus
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from .conftest import Officials, decide, profile_body, register, resident_id

RECOMMENDATIONS = "/api/v1/employer/recommendations"
MINE = "/api/v1/me/recommendations"
CERTIFICATIONS = "/api/v1/me/certifications"
REVIEWS = "/api/v1/reviews/certifications"

# The employer the default profile names (conftest.profile_body), and another company.
CODE = "91330402MA2B3C4D53"
OTHER_CODE = "91330402MA2B3C4D66"
OTHER_EMPLOYER = {"name": "嘉兴另一家公司", "credit_code": OTHER_CODE, "region_code": "330402"}
REASON = "主持研发国产车规级芯片，带领十五人团队"
EVIDENCE = [{"kind": "employment_contract", "reference": "files/contract.pdf", "sha256": "b" * 64}]


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
    return test_keys.headers("talent-other-0002", ["talent"])


async def _recommend(
    client: httpx.AsyncClient, employer: dict[str, str], talent_id: str, tier: str = "C", **extra: Any
) -> dict[str, Any]:
    body = {"talent_id": talent_id, "claimed_tier": tier, "reason": REASON, **extra}
    response = await client.post(RECOMMENDATIONS, json=body, headers=employer)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _certification(recommendation_id: str | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"route": "employer_recommendation", "claimed_tier": "C", "evidence": EVIDENCE}
    if recommendation_id is not None:
        body["recommendation_id"] = recommendation_id
    body.update(overrides)
    return body


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()  # type: ignore[arg-type]
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


def _field(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


class TestFiling:
    async def test_an_employer_recommends_a_talent_on_its_staff(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
        officials: Officials,
    ) -> None:
        await register(client, talent)
        created = await _recommend(client, employer, talent_id, tier="B")
        assert created | {"id": None, "filed_at": None} == {
            "id": None,
            "talent_id": talent_id,
            "employer_credit_code": CODE,
            "employer_name": "嘉兴某科技有限公司",
            "claimed_tier": "B",
            "reason": REASON,
            "status": "filed",
            "certification_id": None,
            "filed_at": None,
        }
        assert [r["id"] for r in (await client.get(RECOMMENDATIONS, headers=employer)).json()["items"]] == [
            created["id"]
        ]
        assert [r["id"] for r in (await client.get(MINE, headers=talent)).json()["items"]] == [created["id"]]

        [event] = await _events(applicant_app, ".recommendation.filed.v1")
        assert event == {
            "recommendation_id": created["id"],
            "talent_id": talent_id,
            "employer_credit_code": CODE,
            "claimed_tier": "B",
            "filed_at": event["filed_at"],
        }
        audit = await client.get("/api/v1/audit/applicant", headers=officials.auditor, params={"limit": 200})
        [entry] = [e for e in audit.json()["items"] if e["action"] == "recommendation.file"]
        assert entry["actor"] == "employer-user-1" and entry["subject_id"] == created["id"]
        assert REASON not in json.dumps(entry, ensure_ascii=False)  # the employer's free text stays out of the chain

    async def test_a_talent_not_on_the_staff_is_a_404_like_one_that_does_not_exist(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        other_employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        body = {"talent_id": talent_id, "claimed_tier": "C", "reason": REASON}
        response = await client.post(RECOMMENDATIONS, json=body, headers=other_employer)
        assert response.status_code == 404, response.text
        assert "张三" not in response.text
        unknown = await client.post(
            RECOMMENDATIONS, json=body | {"talent_id": "no-such-talent"}, headers=other_employer
        )
        assert unknown.status_code == 404
        assert response.json()["title"] == unknown.json()["title"]

    async def test_another_employer_neither_sees_nor_withdraws_it(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
        other_employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        created = await _recommend(client, employer, talent_id)
        assert (await client.get(RECOMMENDATIONS, headers=other_employer)).json()["items"] == []
        response = await client.delete(f"{RECOMMENDATIONS}/{created['id']}", headers=other_employer)
        assert response.status_code == 404
        assert (await client.get(RECOMMENDATIONS, headers=employer)).json()["items"][0]["status"] == "filed"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"reason": "   "}, "reason"),
            ({"reason": "长" * 2001}, "reason"),
            ({"claimed_tier": "F"}, "claimed_tier"),
            ({"talent_id": ""}, "talent_id"),
            ({"tier": "C"}, "tier"),
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
        change: dict[str, Any],
        field: str,
    ) -> None:
        await register(client, talent)
        body = {"talent_id": talent_id, "claimed_tier": "C", "reason": REASON} | change
        response = await client.post(RECOMMENDATIONS, json=body, headers=employer)
        assert response.status_code == 422, response.text
        assert field in _field(response)

    async def test_a_talent_holds_one_filed_recommendation_per_employer(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        first = await _recommend(client, employer, talent_id)
        again = await client.post(
            RECOMMENDATIONS, json={"talent_id": talent_id, "claimed_tier": "B", "reason": REASON}, headers=employer
        )
        assert again.status_code == 409
        assert first["id"] in again.json()["detail"]

        assert (await client.delete(f"{RECOMMENDATIONS}/{first['id']}", headers=employer)).status_code == 204
        second = await _recommend(client, employer, talent_id, tier="B")
        statuses = {r["id"]: r["status"] for r in (await client.get(MINE, headers=talent)).json()["items"]}
        assert statuses == {first["id"]: "withdrawn", second["id"]: "filed"}
        # Withdrawing a withdrawn one changes nothing.
        assert (await client.delete(f"{RECOMMENDATIONS}/{first['id']}", headers=employer)).status_code == 204

    async def test_a_withdrawal_is_announced_once_without_the_employers_reason(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        recommendation = await _recommend(client, employer, talent_id)
        for _ in range(2):  # the second changes nothing, so it announces nothing
            assert (
                await client.delete(f"{RECOMMENDATIONS}/{recommendation['id']}", headers=employer)
            ).status_code == 204
        [event] = await _events(applicant_app, ".recommendation.withdrawn.v1")
        assert event == {
            "recommendation_id": recommendation["id"],
            "talent_id": talent_id,
            "employer_credit_code": CODE,
            "withdrawn_at": event["withdrawn_at"],
        }
        assert REASON not in json.dumps(event, ensure_ascii=False)

    async def test_the_database_itself_keeps_two_concurrent_filings_out(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, talent: dict[str, str], talent_id: str
    ) -> None:
        # Two requests may both pass the 409 check before either commits: the partial unique index refuses the
        # second filed row at commit (the kit answers an integrity error with a 409); other statuses may repeat.
        await register(client, talent)

        def row(status: RecommendationStatus) -> Recommendation:
            return Recommendation(
                id=str(uuid.uuid4()),
                talent_id=talent_id,
                employer_credit_code=CODE,
                employer_name="嘉兴某科技有限公司",
                claimed_tier="C",
                reason=REASON,
                status=status,
                filed_by="employer-user-1",
            )

        async with applicant_app.state.database.sessionmaker() as session:
            session.add_all([row(RecommendationStatus.WITHDRAWN), row(RecommendationStatus.WITHDRAWN)])
            session.add(row(RecommendationStatus.FILED))
            await session.commit()
        async with applicant_app.state.database.sessionmaker() as session:
            session.add(row(RecommendationStatus.FILED))
            with pytest.raises(IntegrityError):
                await session.commit()

    async def test_a_retry_with_the_same_idempotency_key_files_once(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        body = {"talent_id": talent_id, "claimed_tier": "C", "reason": REASON}
        headers = employer | {"Idempotency-Key": "recommend-zhang-1"}
        first = await client.post(RECOMMENDATIONS, json=body, headers=headers)
        retry = await client.post(RECOMMENDATIONS, json=body, headers=headers)
        assert first.status_code == retry.status_code == 201
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()["id"] == first.json()["id"]
        assert len(await _events(applicant_app, ".recommendation.filed.v1")) == 1
        other = await client.post(RECOMMENDATIONS, json=body | {"claimed_tier": "B"}, headers=headers)
        assert other.status_code == 409

    async def test_lists_page_newest_first(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        ids = []
        for _ in range(3):
            created = await _recommend(client, employer, talent_id)
            ids.append(created["id"])
            assert (await client.delete(f"{RECOMMENDATIONS}/{created['id']}", headers=employer)).status_code == 204
        first = (await client.get(RECOMMENDATIONS, headers=employer, params={"limit": 2})).json()
        rest = (await client.get(RECOMMENDATIONS, headers=employer, params={"cursor": first["next_cursor"]})).json()
        assert [r["id"] for r in first["items"] + rest["items"]] == ids[::-1]
        assert rest["next_cursor"] is None
        bad = await client.get(MINE, headers=talent, params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422

    async def test_only_employers_file_and_only_talents_read_their_own(
        self,
        client: httpx.AsyncClient,
        test_keys: TestKeys,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
        officials: Officials,
    ) -> None:
        await register(client, talent)
        body = {"talent_id": talent_id, "claimed_tier": "C", "reason": REASON}
        for headers in (talent, officials.nanhu, officials.admin):
            assert (await client.post(RECOMMENDATIONS, json=body, headers=headers)).status_code == 403
        assert (await client.get(MINE, headers=employer)).status_code == 403
        assert (await client.post(RECOMMENDATIONS, json=body)).status_code == 401
        # An employer token without the employer's claims names no employer.
        bare = test_keys.headers("employer-user-9", ["employer"], region="330402")
        assert (await client.post(RECOMMENDATIONS, json=body, headers=bare)).status_code == 403


class TestCertificationRoute:
    async def test_the_route_needs_a_recommendation_and_no_other_route_takes_one(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        missing = await client.post(CERTIFICATIONS, json=_certification(None), headers=talent)
        assert missing.status_code == 422, missing.text
        assert _field(missing) == ["recommendation_id"]
        recommendation = await _recommend(client, employer, talent_id)
        elsewhere = await client.post(
            CERTIFICATIONS, json=_certification(recommendation["id"], route="degree"), headers=talent
        )
        assert elsewhere.status_code == 422
        assert _field(elsewhere) == ["recommendation_id"]

    async def test_submitting_cites_the_recommendation_which_can_then_not_be_withdrawn(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
        officials: Officials,
    ) -> None:
        await register(client, talent)
        recommendation = await _recommend(client, employer, talent_id, tier="C")
        response = await client.post(CERTIFICATIONS, json=_certification(recommendation["id"]), headers=talent)
        assert response.status_code == 201, response.text
        certification = response.json()

        [mine] = (await client.get(MINE, headers=talent)).json()["items"]
        assert mine["status"] == "cited" and mine["certification_id"] == certification["id"]
        withdraw = await client.delete(f"{RECOMMENDATIONS}/{recommendation['id']}", headers=employer)
        assert withdraw.status_code == 409
        assert certification["id"] in withdraw.json()["detail"]

        case = (await client.get(f"{REVIEWS}/{certification['id']}", headers=officials.nanhu)).json()
        assert case["recommendation"] == mine
        [queued] = (await client.get(REVIEWS, headers=officials.nanhu)).json()["items"]
        assert queued["recommendation"]["id"] == recommendation["id"]

    async def test_a_returned_certification_keeps_its_recommendation_when_resubmitted(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        employer: dict[str, str],
        officials: Officials,
    ) -> None:
        await register(client, talent)
        recommendation = await _recommend(client, employer, talent_id)
        certification = (
            await client.post(CERTIFICATIONS, json=_certification(recommendation["id"]), headers=talent)
        ).json()
        returned = await decide(client, certification["id"], officials.nanhu, "return", reason="补充劳动合同")
        assert returned.json()["status"] == "returned"
        resubmitted = await client.post(
            f"{CERTIFICATIONS}/{certification['id']}/resubmit", json={"note": "合同已补充"}, headers=talent
        )
        assert resubmitted.status_code == 200, resubmitted.text
        case = (await client.get(f"{REVIEWS}/{certification['id']}", headers=officials.nanhu)).json()
        assert case["status"] == "submitted"
        assert case["recommendation"]["id"] == recommendation["id"]
        assert case["recommendation"]["status"] == "cited"

    async def test_the_claimed_tier_may_not_be_better_than_the_recommended_one(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        recommendation = await _recommend(client, employer, talent_id, tier="C")
        better = await client.post(
            CERTIFICATIONS, json=_certification(recommendation["id"], claimed_tier="B"), headers=talent
        )
        assert better.status_code == 422
        assert _field(better) == ["claimed_tier"]
        [mine] = (await client.get(MINE, headers=talent)).json()["items"]
        assert mine["status"] == "filed"  # the refused submission cited nothing
        worse = await client.post(
            CERTIFICATIONS, json=_certification(recommendation["id"], claimed_tier="D"), headers=talent
        )
        assert worse.status_code == 201, worse.text

    async def test_another_talents_recommendation_cannot_be_cited(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        talent_id: str,
        other_talent: dict[str, str],
        employer: dict[str, str],
    ) -> None:
        await register(client, talent)
        await register(client, other_talent, id_number=resident_id(sequence="456"), name="李四")
        recommendation = await _recommend(client, employer, talent_id)
        response = await client.post(CERTIFICATIONS, json=_certification(recommendation["id"]), headers=other_talent)
        assert response.status_code == 422
        assert _field(response) == ["recommendation_id"]
        unknown = await client.post(CERTIFICATIONS, json=_certification("no-such-recommendation"), headers=talent)
        assert unknown.status_code == 422
        assert _field(unknown) == ["recommendation_id"]

    async def test_a_recommendation_of_a_former_employer_cannot_be_cited(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        recommendation = await _recommend(client, employer, talent_id)
        moved = await client.put("/api/v1/me/profile", json=profile_body(employer=OTHER_EMPLOYER), headers=talent)
        assert moved.status_code == 200, moved.text
        response = await client.post(CERTIFICATIONS, json=_certification(recommendation["id"]), headers=talent)
        assert response.status_code == 422
        assert _field(response) == ["recommendation_id"]
        assert "no longer names" in response.json()["detail"]

    async def test_a_withdrawn_recommendation_cannot_be_cited(
        self, client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, employer: dict[str, str]
    ) -> None:
        await register(client, talent)
        recommendation = await _recommend(client, employer, talent_id)
        assert (await client.delete(f"{RECOMMENDATIONS}/{recommendation['id']}", headers=employer)).status_code == 204
        response = await client.post(CERTIFICATIONS, json=_certification(recommendation["id"]), headers=talent)
        assert response.status_code == 409
        assert _field(response) == ["recommendation_id"]
        assert (await client.get(CERTIFICATIONS, headers=talent)).json()["items"] == []
