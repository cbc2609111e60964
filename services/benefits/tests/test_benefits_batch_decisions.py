"""Batch decisions: one decision and reason for many claims, each decided as if alone (role, stage, region,
segregation of duties), audited and evented on its own; a refusal undoes nothing of the others."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from benefits.models import ClaimHistory
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import col, select

from .conftest import XIUZHOU, Events, certified, registered

Headers = dict[str, str]
BATCH = "/api/v1/reviews/claims/batch-decisions"


async def _talent_with_claim(
    client: httpx.AsyncClient, events: Events, test_keys: TestKeys, **facts: Any
) -> tuple[Headers, str]:
    talent_id = str(uuid.uuid4())
    await events.apply(registered(talent_id, **facts))
    await events.apply(certified(talent_id, "D", **({"region_code": facts["region_code"]} if facts else {})))
    headers = test_keys.headers(talent_id, ["talent"])
    response = await client.post("/api/v1/me/claims", json={"policy_code": "HEALTH_CHECK"}, headers=headers)
    assert response.status_code == 201 and response.json()["status"] == "accepted", response.text
    return headers, str(response.json()["id"])


async def _batch(
    client: httpx.AsyncClient, headers: Headers, claim_ids: list[str], decision: str = "approve", reason: str = "ok"
) -> httpx.Response:
    return await client.post(
        BATCH, json={"claim_ids": claim_ids, "decision": decision, "reason": reason}, headers=headers
    )


async def _decided_events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    return [json.loads(e.payload)["data"] for e in rows if e.event_type == "talent.benefits.claim.decided.v1"]


async def _history_actions(app: FastAPI, claim_id: str) -> list[str]:
    async with app.state.database.sessionmaker() as session:
        query = select(ClaimHistory).where(ClaimHistory.claim_id == claim_id).order_by(col(ClaimHistory.id))
        return [h.action for h in (await session.exec(query)).all()]


class TestBatchDecisions:
    async def test_each_claim_is_decided_alone_and_refusals_are_listed_with_their_problem(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        claims = [(await _talent_with_claim(client, events, test_keys))[1] for _ in range(3)]
        _, elsewhere = await _talent_with_claim(client, events, test_keys, region_code=XIUZHOU)
        unknown = str(uuid.uuid4())
        already = claims[2]
        first = await _batch(client, officials["reviewer.nanhu"], [already])
        assert first.json()["items"] == [
            {"claim_id": already, "outcome": "decided", "status": "county_approved", "problem": None}
        ]
        before = len(await _decided_events(benefits_app))

        response = await _batch(
            client, officials["reviewer.nanhu"], [claims[0], elsewhere, unknown, already, claims[1]]
        )
        assert response.status_code == 200, response.text
        items = {i["claim_id"]: i for i in response.json()["items"]}
        assert [i["claim_id"] for i in response.json()["items"]] == [claims[0], elsewhere, unknown, already, claims[1]]
        assert items[claims[0]]["outcome"] == items[claims[1]]["outcome"] == "decided"
        assert items[claims[0]]["status"] == "county_approved"
        # The problems a single decision would have given: another region's claim and an unknown one are 404,
        # a claim already at the city's stage is 403.
        assert items[elsewhere]["outcome"] == "refused" and items[elsewhere]["problem"]["status"] == 404
        assert items[unknown]["problem"]["status"] == 404 and items[unknown]["status"] is None
        assert items[already]["problem"]["status"] == 403
        assert {"type", "title", "status", "detail"} <= set(items[already]["problem"])
        single = await client.post(
            f"/api/v1/reviews/claims/{already}/decisions",
            json={"decision": "approve", "reason": "ok"},
            headers=officials["reviewer.nanhu"],
        )
        assert single.status_code == 403 and single.json()["detail"] == items[already]["problem"]["detail"]

        # Each decided claim has its own event, history line and audit entry; the refused ones have none.
        decided = (await _decided_events(benefits_app))[before:]
        assert [(e["claim_id"], e["stage"], e["decision"]) for e in decided] == [
            (claims[0], "county", "approve"),
            (claims[1], "county", "approve"),
        ]
        assert await _history_actions(benefits_app, elsewhere) == ["submitted", "accepted"]
        assert (await _history_actions(benefits_app, claims[1]))[-1] == "approved"
        audit = await client.get("/api/v1/audit/benefits?action=claim.approved", headers=officials["auditor.city"])
        assert sorted(e["subject_id"] for e in audit.json()["items"]) == sorted([already, claims[0], claims[1]])
        verified = await client.get("/api/v1/audit/benefits/verify", headers=officials["auditor.city"])
        assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text

    async def test_segregation_of_duties_holds_per_claim(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        _, mine = await _talent_with_claim(client, events, test_keys)
        _, theirs = await _talent_with_claim(client, events, test_keys)
        both = test_keys.headers("official-both", ["county_reviewer", "city_approver"], region="330402")
        assert (await _batch(client, both, [mine])).json()["items"][0]["outcome"] == "decided"
        assert (await _batch(client, officials["reviewer.nanhu"], [theirs])).json()["items"][0]["outcome"] == "decided"

        response = await _batch(client, both, [mine, theirs], "reject", "no local social insurance")
        items = response.json()["items"]
        assert items[0]["outcome"] == "refused" and items[0]["problem"]["status"] == 403
        assert "another officer" in items[0]["problem"]["detail"]
        assert items[1] == {"claim_id": theirs, "outcome": "decided", "status": "rejected", "problem": None}

    async def test_return_applies_the_one_reason_to_every_claim(
        self, client: httpx.AsyncClient, events: Events, test_keys: TestKeys, officials: dict[str, Headers]
    ) -> None:
        claims = [await _talent_with_claim(client, events, test_keys) for _ in range(2)]
        response = await _batch(client, officials["reviewer.nanhu"], [c for _, c in claims], "return", "add a receipt")
        assert [i["status"] for i in response.json()["items"]] == ["returned", "returned"]
        for headers, claim_id in claims:
            mine = (await client.get(f"/api/v1/me/claims/{claim_id}", headers=headers)).json()
            assert mine["history"][-1]["action"] == "returned" and mine["history"][-1]["reason"] == "add a receipt"

    async def test_a_batch_must_name_1_to_500_distinct_claims_and_a_reason_to_say_no(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], talent: Headers
    ) -> None:
        reviewer = officials["reviewer.nanhu"]
        too_many = [str(uuid.uuid4()) for _ in range(501)]
        assert (await _batch(client, reviewer, too_many)).status_code == 422
        assert (await _batch(client, reviewer, [])).status_code == 422
        one = str(uuid.uuid4())
        assert (await _batch(client, reviewer, [one, one])).status_code == 422
        no_reason = await _batch(client, reviewer, [one], "reject", "")
        assert no_reason.status_code == 422
        assert (await _batch(client, officials["finance.city"], [one])).status_code == 403
        assert (await _batch(client, talent, [one])).status_code == 403
        unknown_all = await _batch(client, reviewer, [str(uuid.uuid4()) for _ in range(500)])
        assert unknown_all.status_code == 200 and {i["outcome"] for i in unknown_all.json()["items"]} == {"refused"}
