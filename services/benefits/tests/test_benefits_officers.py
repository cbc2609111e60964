"""Named officers (首问负责制) on claims and the public 公示 list a citizen can read."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import NANHU, Events, certified, fire_timers, registered

Headers = dict[str, str]


def _named(test_keys: TestKeys, sub: str, role: str, name: str, phone: str, region: str | None = None) -> Headers:
    """An official whose token carries the display name and office phone, as the gateway issues it."""
    return test_keys.headers(sub, [role], region=region, name=name, office_phone=phone)


async def _claim(client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, **facts: Any) -> str:
    await events.apply(registered(talent_id, **facts))
    await events.apply(certified(talent_id, "D"))
    response = await client.post(
        "/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY", "details": {"months": 6}}, headers=talent
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestNamedOfficer:
    async def test_the_first_reviewer_to_open_a_claim_owns_it_and_the_talent_sees_them(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, test_keys: TestKeys
    ) -> None:
        claim_id = await _claim(client, events, talent, talent_id)
        assert (await client.get(f"/api/v1/me/claims/{claim_id}", headers=talent)).json()["officer"] is None
        wang = _named(test_keys, "off-wang", "county_reviewer", "南湖区人才办 王老师", "0573-82000001", NANHU)
        li = _named(test_keys, "off-li", "county_reviewer", "南湖区人才办 李老师", "0573-82000003", NANHU)
        opened = await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=wang)
        assert opened.status_code == 200, opened.text
        assert opened.json()["officer"] == {"display_name": "南湖区人才办 王老师", "office_phone": "0573-82000001"}
        # A second official opening it later does not take it over.
        assert (await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=li)).status_code == 200
        mine = (await client.get(f"/api/v1/me/claims/{claim_id}", headers=talent)).json()
        assert mine["officer"] == {"display_name": "南湖区人才办 王老师", "office_phone": "0573-82000001"}
        assert "officer_id" not in json.dumps(mine)

    async def test_an_auditor_opening_a_claim_does_not_own_it_but_the_deciding_reviewer_does(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        test_keys: TestKeys,
        officials: dict[str, Headers],
    ) -> None:
        claim_id = await _claim(client, events, talent, talent_id)
        assert (await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=officials["auditor.city"])).json()[
            "officer"
        ] is None
        wang = _named(test_keys, "off-wang", "county_reviewer", "南湖区人才办 王老师", "0573-82000001", NANHU)
        decided = await client.post(
            f"/api/v1/reviews/claims/{claim_id}/decisions", json={"decision": "approve", "reason": "ok"}, headers=wang
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["officer"]["display_name"] == "南湖区人才办 王老师"

    async def test_a_city_approver_reassigns_a_claim_audited_and_others_may_not(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        test_keys: TestKeys,
        officials: dict[str, Headers],
    ) -> None:
        claim_id = await _claim(client, events, talent, talent_id)
        wang = _named(test_keys, "off-wang", "county_reviewer", "南湖区人才办 王老师", "0573-82000001", NANHU)
        await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=wang)
        body = {"officer_id": "off-zhao", "display_name": "南湖区人才办 赵老师", "office_phone": "0573-82000009"}
        refused = await client.post(f"/api/v1/reviews/claims/{claim_id}/officer", json=body, headers=wang)
        assert refused.status_code == 403
        moved = await client.post(
            f"/api/v1/reviews/claims/{claim_id}/officer", json=body, headers=officials["approver.city"]
        )
        assert moved.status_code == 200, moved.text
        mine = (await client.get(f"/api/v1/me/claims/{claim_id}", headers=talent)).json()
        assert mine["officer"] == {"display_name": "南湖区人才办 赵老师", "office_phone": "0573-82000009"}
        audit = await client.get(
            "/api/v1/audit/benefits?action=claim.officer_reassigned", headers=officials["auditor.city"]
        )
        [entry] = audit.json()["items"]
        assert entry["subject_id"] == claim_id

    async def test_a_reassignment_naming_nobody_is_422(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        claim_id = await _claim(client, events, talent, talent_id)
        response = await client.post(
            f"/api/v1/reviews/claims/{claim_id}/officer",
            json={"officer_id": "", "display_name": ""},
            headers=officials["approver.city"],
        )
        assert response.status_code == 422

    async def test_an_escalation_names_the_owning_officer_for_their_inbox(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        test_keys: TestKeys,
        benefits_app: FastAPI,
    ) -> None:
        claim_id = await _claim(client, events, talent, talent_id)
        wang = _named(test_keys, "off-wang", "county_reviewer", "南湖区人才办 王老师", "0573-82000001", NANHU)
        await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=wang)
        assert await fire_timers(benefits_app, utcnow() + timedelta(days=30)) >= 1
        async with benefits_app.state.database.sessionmaker() as session:
            rows = (await session.exec(select(OutboxEvent))).all()
        escalated = [
            json.loads(e.payload)["data"] for e in rows if e.event_type == "talent.benefits.claim.escalated.v1"
        ]
        assert escalated and {e["officer_id"] for e in escalated} == {"off-wang"}
        # Taking the claim told notify whose queue it is in, once.
        [assigned] = [
            json.loads(e.payload)["data"] for e in rows if e.event_type == "talent.benefits.claim.officer_assigned.v1"
        ]
        assert (assigned["claim_id"], assigned["officer_id"], assigned["status"]) == (claim_id, "off-wang", "accepted")
        assert assigned["stage_due_at"] is not None


class TestPublicity:
    async def test_the_publicity_list_shows_masked_name_employer_amount_and_objection_deadline(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
    ) -> None:
        claim_id = await _claim(
            client, events, talent, talent_id, name_masked="张*伟", employer_name="嘉兴某科技有限公司"
        )
        for official in ("reviewer.nanhu", "approver.city"):
            decided = await client.post(
                f"/api/v1/reviews/claims/{claim_id}/decisions",
                json={"decision": "approve", "reason": "ok"},
                headers=officials[official],
            )
            assert decided.status_code == 200, decided.text
        response = await client.get("/api/v1/publicity")
        assert response.status_code == 200, response.text
        [entry] = response.json()["items"]
        assert entry["claim_id"] == claim_id
        assert (entry["name_masked"], entry["employer"], entry["policy_code"]) == (
            "张*伟",
            "嘉兴某科技有限公司",
            "RENT_SUBSIDY",
        )
        assert entry["amount_fen"] == 6 * 200000 and entry["objections_until"] is not None
        assert set(entry) == {"claim_id", "name_masked", "employer", "policy_code", "amount_fen", "objections_until"}

    async def test_the_publicity_list_is_empty_before_any_approval(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/publicity")
        assert response.status_code == 200 and response.json()["items"] == []
