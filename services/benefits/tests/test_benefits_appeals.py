"""复议: a talent appeals an officer's rejection within 15 days; a city approver who took no decision on the claim
before upholds or overturns it within 10 working days; stopped claims and automatic rejections are not appealable."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from benefits.models import ClaimHistory
from contracts import TalentRevoked
from fastapi import FastAPI
from servicekit.calendar import add_working_days
from servicekit.db import utcnow
from servicekit.messages import format_datetime
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import col, select, update

from .conftest import Events, certified, fire_timers, registered

Headers = dict[str, str]


async def _certified_talent(events: Events, talent_id: str, tier: str = "D") -> None:
    await events.apply(registered(talent_id))
    await events.apply(certified(talent_id, tier))


async def _claim(client: httpx.AsyncClient, headers: Headers, code: str = "HEALTH_CHECK") -> dict[str, Any]:
    response = await client.post("/api/v1/me/claims", json={"policy_code": code}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _decide(
    client: httpx.AsyncClient, headers: Headers, claim_id: str, decision: str = "approve", reason: str = "checked"
) -> httpx.Response:
    body = {"decision": decision, "reason": reason}
    return await client.post(f"/api/v1/reviews/claims/{claim_id}/decisions", json=body, headers=headers)


async def _appeal(
    client: httpx.AsyncClient, headers: Headers, claim_id: str, reason: str = "my degree was verified", **extra: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/me/claims/{claim_id}/appeal", json={"reason": reason}, headers=headers, **extra)


async def _rejected_by_county(
    client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
) -> dict[str, Any]:
    await _certified_talent(events, talent_id)
    claim = await _claim(client, talent)
    rejected = await _decide(client, officials["reviewer.nanhu"], claim["id"], "reject", "degree not verified")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    return claim


async def _events(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    return [json.loads(e.payload)["data"] for e in rows if e.event_type == event_type]


class TestAppeal:
    async def test_overturned_appeal_goes_on_public_notice_audited_and_evented(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        claim = await _rejected_by_county(client, events, talent, talent_id, officials)
        appealed = await _appeal(client, talent, claim["id"])
        assert appealed.status_code == 200, appealed.text
        body = appealed.json()
        assert body["status"] == "appealed"
        assert body["history"][-1] | {"at": None} == body["history"][-1] | {
            "at": None,
            "action": "appealed",
            "stage": "appeal",
            "actor": talent_id,
            "reason": "my degree was verified",
        }
        # 10 working days from the appeal (a county or city stage has 5).
        expected = add_working_days(_parse(body["history"][-1]["at"]), 10, timedelta(hours=8))
        assert abs(_parse(body["stage_due_at"]) - expected) < timedelta(seconds=1)
        # The city approvers' queue holds it.
        queue = await client.get("/api/v1/reviews/claims?status=appealed", headers=officials["approver.city"])
        assert [c["id"] for c in queue.json()["items"]] == [claim["id"]]

        overturned = await _decide(client, officials["approver.city"], claim["id"], "approve", "degree confirmed")
        assert overturned.status_code == 200, overturned.text
        after = overturned.json()
        assert after["status"] == "publicized" and after["publicized_until"] is not None
        assert [h["action"] for h in after["history"]][-3:] == ["appealed", "appeal_overturned", "publicized"]
        decided = [e for e in await _events(benefits_app, "talent.benefits.claim.decided.v1") if e["stage"] == "appeal"]
        assert [(e["decision"], e["status"], e["decided_by"]) for e in decided] == [
            ("approve", "city_approved", "official-approver-city")
        ]
        submitted = await _events(benefits_app, "talent.benefits.claim.submitted.v1")
        assert [e["status"] for e in submitted] == ["submitted", "appealed"]
        audit = await client.get(
            "/api/v1/audit/benefits?action=claim.appeal_overturned", headers=officials["auditor.city"]
        )
        assert [e["subject_id"] for e in audit.json()["items"]] == [claim["id"]]

    async def test_city_queue_merges_appealed_and_county_approved_claims_oldest_first_page_by_page(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        test_keys: TestKeys,
        officials: dict[str, Headers],
    ) -> None:
        appealed = await _rejected_by_county(client, events, talent, talent_id, officials)
        assert (await _appeal(client, talent, appealed["id"])).status_code == 200
        approved_ids = []
        for _ in range(2):
            other = str(uuid.uuid4())
            await _certified_talent(events, other)
            claim = await _claim(client, test_keys.headers(other, ["talent"]))
            assert (await _decide(client, officials["reviewer.nanhu"], claim["id"])).status_code == 200
            approved_ids.append(claim["id"])

        whole = (await client.get("/api/v1/reviews/claims", headers=officials["approver.city"])).json()["items"]
        assert sorted(c["id"] for c in whole) == sorted([appealed["id"], *approved_ids])
        assert {c["status"] for c in whole} == {"appealed", "county_approved"}
        order = [(c["submitted_at"], c["id"]) for c in whole]
        assert order == sorted(order)

        paged: list[str] = []
        cursor = ""
        while True:
            page = (
                await client.get(f"/api/v1/reviews/claims?limit=1{cursor}", headers=officials["approver.city"])
            ).json()
            paged += [c["id"] for c in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert paged == [c["id"] for c in whole]

    async def test_upheld_appeal_is_final_and_decided_by_an_approver_new_to_the_claim(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        await _certified_talent(events, talent_id)
        claim = await _claim(client, talent)
        assert (await _decide(client, officials["reviewer.nanhu"], claim["id"])).status_code == 200
        rejected = await _decide(client, officials["approver.city"], claim["id"], "reject", "not in the city")
        assert rejected.json()["status"] == "rejected"
        assert (await _appeal(client, talent, claim["id"])).status_code == 200

        same_approver = await _decide(client, officials["approver.city"], claim["id"], "approve")
        assert same_approver.status_code == 403 and "another officer" in same_approver.json()["detail"]
        county = await _decide(client, officials["reviewer.nanhu"], claim["id"], "approve")
        assert county.status_code == 403  # not the county's stage
        returned = await _decide(client, officials["approver.city2"], claim["id"], "return", "more papers")
        assert returned.status_code == 422 and returned.json()["errors"][0]["field"] == "decision"

        upheld = await _decide(client, officials["approver.city2"], claim["id"], "reject", "rejection stands")
        assert upheld.status_code == 200 and upheld.json()["status"] == "rejected"
        assert upheld.json()["history"][-1]["action"] == "appeal_upheld"
        again = await _appeal(client, talent, claim["id"])
        assert again.status_code == 409 and "final" in again.json()["detail"]
        # Upheld, the period is free again: the talent may claim it anew.
        assert (
            await client.post("/api/v1/me/claims", json={"policy_code": "HEALTH_CHECK"}, headers=talent)
        ).status_code == 201

    async def test_appeal_after_15_days_is_409_saying_until_when(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        claim = await _rejected_by_county(client, events, talent, talent_id, officials)
        rejected_at = utcnow() - timedelta(days=16)
        async with benefits_app.state.database.sessionmaker() as session:
            await session.exec(
                update(ClaimHistory)
                .where(col(ClaimHistory.claim_id) == claim["id"], col(ClaimHistory.to_status) == "rejected")
                .values(at=rejected_at)
            )
            await session.commit()
        late = await _appeal(client, talent, claim["id"])
        assert late.status_code == 409, late.text
        assert format_datetime(rejected_at + timedelta(days=15), "en") in late.json()["detail"]  # city time

    async def test_stopped_claims_and_automatic_rejections_are_not_appealable(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        test_keys: TestKeys,
    ) -> None:
        await _certified_talent(events, talent_id)
        claim = await _claim(client, talent)
        await events.apply(TalentRevoked(talent_id=talent_id, pseudonym="tp_x", reason="left", revoked_at=utcnow()))
        stopped = await _appeal(client, talent, claim["id"])
        assert stopped.status_code == 409 and "stopped" in stopped.json()["detail"]

        other_id = str(uuid.uuid4())
        other = test_keys.headers(other_id, ["talent"])
        assert (await _appeal(client, other, claim["id"])).status_code == 404
        accepted_claim = await _appeal(client, talent, str(uuid.uuid4()))
        assert accepted_claim.status_code == 404
        assert (await _appeal(client, talent, claim["id"], reason="")).status_code == 422

    async def test_open_claim_is_not_appealable(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id)
        claim = await _claim(client, talent)
        response = await _appeal(client, talent, claim["id"])
        assert response.status_code == 409 and response.json()["status"] == 409

    async def test_appeal_refused_once_the_period_is_claimed_again(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        claim = await _rejected_by_county(client, events, talent, talent_id, officials)
        await _claim(client, talent)  # the same policy and year, filed again after the rejection
        response = await _appeal(client, talent, claim["id"])
        assert response.status_code == 409 and "same period" in response.json()["detail"]

    async def test_idempotency_key_replays_the_appeal(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        claim = await _rejected_by_county(client, events, talent, talent_id, officials)
        key = {"Idempotency-Key": "appeal-1"}
        first = await _appeal(client, talent | key, claim["id"])
        second = await _appeal(client, talent | key, claim["id"])
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()

    async def test_an_appeal_not_decided_in_10_working_days_escalates(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        claim = await _rejected_by_county(client, events, talent, talent_id, officials)
        appealed = await _appeal(client, talent, claim["id"])
        due = _parse(appealed.json()["stage_due_at"])
        assert due - utcnow() > timedelta(days=12)  # 10 working days, not the 5 of a review stage
        assert await fire_timers(benefits_app, due - timedelta(hours=1)) == 0
        assert await fire_timers(benefits_app, due + timedelta(hours=1)) == 1
        [escalated] = await _events(benefits_app, "talent.benefits.claim.escalated.v1")
        assert escalated["stage"] == "appeal" and escalated["claim_id"] == claim["id"]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
