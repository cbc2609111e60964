"""Claims: one-tap submission, the automatic checks, two-stage review, 公示, objections, payment, deadlines."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from benefits.models import Claim
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import XIUZHOU, Events, certified, fire_timers, registered

Headers = dict[str, str]


async def _outbox_types(app: FastAPI) -> list[str]:
    async with app.state.database.sessionmaker() as session:
        return [e.event_type for e in (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()]


async def _certified_talent(events: Events, talent_id: str, tier: str = "D", **facts: Any) -> None:
    await events.apply(registered(talent_id, **facts))
    await events.apply(certified(talent_id, tier))


async def _claim(client: httpx.AsyncClient, headers: Headers, code: str, **details: Any) -> httpx.Response:
    return await client.post("/api/v1/me/claims", json={"policy_code": code, "details": details}, headers=headers)


async def _decide(
    client: httpx.AsyncClient, headers: Headers, claim_id: str, decision: str = "approve", **extra: Any
) -> httpx.Response:
    body = {"decision": decision, "reason": extra.pop("reason", "checked")} | extra
    return await client.post(f"/api/v1/reviews/claims/{claim_id}/decisions", json=body, headers=headers)


async def _to_publicized(client: httpx.AsyncClient, officials: dict[str, Headers], claim_id: str) -> dict[str, Any]:
    county = await _decide(client, officials["reviewer.nanhu"], claim_id)
    assert county.status_code == 200, county.text
    city = await _decide(client, officials["approver.city"], claim_id)
    assert city.status_code == 200, city.text
    body: dict[str, Any] = city.json()
    return body


async def _end_publicity(app: FastAPI) -> None:
    await fire_timers(app, utcnow() + timedelta(hours=2))


class TestSubmitClaim:
    async def test_eligible_claim_is_accepted_at_once_with_amount_and_history(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        response = await _claim(client, talent, "RENT_SUBSIDY", months=6)
        assert response.status_code == 201, response.text
        claim = response.json()
        assert claim["status"] == "accepted" and claim["auto"] is False
        # Version 2: the seeded catalogue's straight-through rules (migration b14e00000001) are a new version.
        assert claim["amount_fen"] == 6 * 200000 and claim["policy_version"] == 2
        assert [h["action"] for h in claim["history"]] == ["submitted", "accepted"]
        assert claim["stage_due_at"] is not None
        types = await _outbox_types(benefits_app)
        assert types[-2:] == ["talent.benefits.claim.submitted.v1", "talent.benefits.claim.decided.v1"]

    async def test_unknown_policy_is_422_naming_the_field(self, client: httpx.AsyncClient, talent: Headers) -> None:
        response = await _claim(client, talent, "NO_SUCH_POLICY")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "policy_code"

    async def test_ineligible_talent_is_422_with_every_reason(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id, "E", owns_home_in_city=True)
        response = await _claim(client, talent, "HOUSING_VOUCHER")
        assert response.status_code == 422
        assert [r["code"] for r in response.json()["reasons"]] == ["tier"]
        response = await _claim(client, talent, "RENT_SUBSIDY")
        assert [r["code"] for r in response.json()["reasons"]] == ["owns_home_in_city"]

    async def test_uncertified_talent_is_422(self, client: httpx.AsyncClient, talent: Headers) -> None:
        response = await _claim(client, talent, "HEALTH_CHECK")
        assert response.status_code == 422
        assert response.json()["reasons"][0]["code"] == "unknown_talent"

    async def test_second_claim_of_once_only_policy_is_409(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id, "C")
        assert (await _claim(client, talent, "HOUSING_VOUCHER")).status_code == 201
        second = await _claim(client, talent, "HOUSING_VOUCHER")
        assert second.status_code == 409
        assert second.json()["reasons"][0]["code"] == "already_claimed"

    async def test_withdrawn_claim_frees_the_period(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id, "C")
        first = (await _claim(client, talent, "HOUSING_VOUCHER")).json()
        withdrawn = await client.post(f"/api/v1/me/claims/{first['id']}/withdraw", headers=talent)
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
        again = await client.post(f"/api/v1/me/claims/{first['id']}/withdraw", headers=talent)
        assert again.status_code == 409
        assert (await _claim(client, talent, "HOUSING_VOUCHER")).status_code == 201

    async def test_idempotency_key_replays_the_first_response(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        headers = {**talent, "Idempotency-Key": "claim-1"}
        body = {"policy_code": "HEALTH_CHECK"}
        first = await client.post("/api/v1/me/claims", json=body, headers=headers)
        replay = await client.post("/api/v1/me/claims", json=body, headers=headers)
        assert first.status_code == replay.status_code == 201
        assert replay.json()["id"] == first.json()["id"] and replay.headers["idempotent-replayed"] == "true"
        other = await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=headers)
        assert other.status_code == 409

    async def test_details_that_do_not_fit_are_422(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        too_many = await _claim(client, talent, "RENT_SUBSIDY", months=13)
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "details.months"
        missing = await _claim(client, talent, "STARTUP_FUNDING")
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "details.amount_fen"
        unknown_field = await client.post(
            "/api/v1/me/claims", json={"policy_code": "HEALTH_CHECK", "tier": "A"}, headers=talent
        )
        assert unknown_field.status_code == 422

    async def test_another_talents_claim_is_404(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, test_keys: TestKeys
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "HEALTH_CHECK")).json()
        stranger = test_keys.headers(str(uuid.uuid4()), ["talent"])
        assert (await client.get(f"/api/v1/me/claims/{claim['id']}", headers=stranger)).status_code == 404
        assert (await client.post(f"/api/v1/me/claims/{claim['id']}/withdraw", headers=stranger)).status_code == 404
        assert (await client.get("/api/v1/me/claims", headers=stranger)).json()["items"] == []


class TestReview:
    async def test_full_flow_county_city_publicized_paid(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "RENT_SUBSIDY")).json()
        queue = (await client.get("/api/v1/reviews/claims", headers=officials["reviewer.nanhu"])).json()
        assert [c["id"] for c in queue["items"]] == [claim["id"]]
        assert (await client.get("/api/v1/reviews/claims", headers=officials["reviewer.xiuzhou"])).json()["items"] == []

        publicized = await _to_publicized(client, officials, claim["id"])
        assert publicized["status"] == "publicized" and publicized["publicized_until"]
        notices = (await client.get("/api/v1/claims/publicized")).json()["items"]
        assert [n["claim_id"] for n in notices] == [claim["id"]] and notices[0]["talent_pseudonym"].startswith("tp_")

        early = await client.post(
            f"/api/v1/reviews/claims/{claim['id']}/disbursement",
            json={"payment_reference": "PAY-0001"},
            headers=officials["finance.city"],
        )
        assert early.status_code == 409 and "public notice" in early.json()["detail"]

        await _end_publicity(benefits_app)
        payable = (await client.get("/api/v1/reviews/claims", headers=officials["finance.city"])).json()["items"]
        assert [c["id"] for c in payable] == [claim["id"]]
        paid = await client.post(
            f"/api/v1/reviews/claims/{claim['id']}/disbursement",
            json={"payment_reference": "PAY-0001"},
            headers=officials["finance.city"],
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "disbursed" and paid.json()["payment_reference"] == "PAY-0001"
        actions = [h["action"] for h in paid.json()["history"]]
        assert actions == [
            "submitted",
            "accepted",
            "approved",
            "approved",
            "publicized",
            "publicity_ended",
            "disbursed",
        ]
        types = await _outbox_types(benefits_app)
        assert "talent.benefits.claim.publicized.v1" in types and types[-1] == "talent.benefits.claim.disbursed.v1"

        audit = await client.get(f"/api/v1/audit/benefits?subject_id={claim['id']}", headers=officials["auditor.city"])
        assert {e["action"] for e in audit.json()["items"]} >= {"claim.approved", "claim.disbursed"}
        verify = await client.get("/api/v1/audit/benefits/verify", headers=officials["auditor.city"])
        assert verify.json()["valid"] is True

    async def test_used_payment_reference_is_409(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        ids = []
        for _ in range(2):
            tid = str(uuid.uuid4())
            await _certified_talent(events, tid, "D")
            claim = (await _claim(client, test_keys.headers(tid, ["talent"]), "HEALTH_CHECK")).json()
            await _to_publicized(client, officials, claim["id"])
            ids.append(claim["id"])
        await _end_publicity(benefits_app)
        pay = {"payment_reference": "PAY-SAME"}
        url = "/api/v1/reviews/claims/{}/disbursement"
        assert (await client.post(url.format(ids[0]), json=pay, headers=officials["finance.city"])).status_code == 200
        second = await client.post(url.format(ids[1]), json=pay, headers=officials["finance.city"])
        assert second.status_code == 409 and "payment_reference" in second.json()["detail"]

    async def test_decision_in_wrong_state_role_or_region_is_refused(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "HEALTH_CHECK")).json()
        assert (await _decide(client, officials["approver.city"], claim["id"])).status_code == 403
        assert (await _decide(client, officials["reviewer.xiuzhou"], claim["id"])).status_code == 404
        assert (await _decide(client, talent, claim["id"])).status_code == 403
        assert (await _decide(client, officials["reviewer.nanhu"], str(uuid.uuid4()))).status_code == 404
        no_reason = await _decide(client, officials["reviewer.nanhu"], claim["id"], "reject", reason="")
        assert no_reason.status_code == 422
        await _decide(client, officials["reviewer.nanhu"], claim["id"])
        twice = await _decide(client, officials["reviewer.nanhu"], claim["id"])
        assert twice.status_code == 403  # now the city's stage

    async def test_one_officer_may_not_decide_two_stages(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, test_keys: TestKeys
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "HEALTH_CHECK")).json()
        both = test_keys.headers("official-both", ["county_reviewer", "city_approver"], region="330402")
        assert (await _decide(client, both, claim["id"])).status_code == 200
        second_stage = await _decide(client, both, claim["id"])
        assert second_stage.status_code == 403 and "another officer" in second_stage.json()["detail"]

    async def test_return_then_resubmit_goes_back_to_county_review(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "RENT_SUBSIDY", months=12)).json()
        returned = await _decide(
            client, officials["reviewer.nanhu"], claim["id"], "return", reason="lease contract missing"
        )
        assert returned.json()["status"] == "returned"
        resubmitted = await client.post(
            f"/api/v1/me/claims/{claim['id']}/resubmit",
            json={"details": {"months": 10, "lease_contract": "HT-2026-001"}, "note": "contract attached"},
            headers=talent,
        )
        assert resubmitted.status_code == 200, resubmitted.text
        body = resubmitted.json()
        assert body["status"] == "accepted" and body["amount_fen"] == 10 * 200000
        assert [h["action"] for h in body["history"]][-3:] == ["returned", "resubmitted", "accepted"]
        not_returned = await client.post(f"/api/v1/me/claims/{claim['id']}/resubmit", json={}, headers=talent)
        assert not_returned.status_code == 409

    async def test_startup_funding_above_threshold_needs_two_city_approvers(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        await _certified_talent(events, talent_id, "B")
        claim = (await _claim(client, talent, "STARTUP_FUNDING", amount_fen=500_000_000)).json()
        assert claim["status"] == "accepted"
        await _decide(client, officials["reviewer.nanhu"], claim["id"])
        first = await _decide(client, officials["approver.city"], claim["id"])
        assert first.json()["status"] == "county_approved"
        same_again = await _decide(client, officials["approver.city"], claim["id"])
        assert same_again.status_code == 409 and "second, different" in same_again.json()["detail"]
        second = await _decide(client, officials["approver.city2"], claim["id"])
        assert second.json()["status"] == "publicized"

    async def test_small_startup_funding_needs_one_city_approver(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        await _certified_talent(events, talent_id, "E")
        claim = (await _claim(client, talent, "STARTUP_FUNDING", amount_fen=50_000_000)).json()
        assert (await _to_publicized(client, officials, claim["id"]))["status"] == "publicized"

    async def test_tax_rebate_amount_is_entered_by_the_officer(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
    ) -> None:
        await _certified_talent(events, talent_id, "B")
        claim = (await _claim(client, talent, "TAX_REBATE")).json()
        assert claim["amount_fen"] is None
        without = await _decide(client, officials["reviewer.nanhu"], claim["id"])
        assert without.status_code == 422 and without.json()["errors"][0]["field"] == "amount_fen"
        entered = await _decide(client, officials["reviewer.nanhu"], claim["id"], amount_fen=1_234_500)
        assert entered.status_code == 200 and entered.json()["amount_fen"] == 1_234_500
        other = (await _claim(client, talent, "HEALTH_CHECK")).json()
        refused = await _decide(client, officials["reviewer.nanhu"], other["id"], amount_fen=1)
        assert refused.status_code == 422


class TestPublicity:
    async def test_objection_sends_the_claim_back_to_city_review(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        test_keys: TestKeys,
        benefits_app: FastAPI,
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "HEALTH_CHECK")).json()
        await _to_publicized(client, officials, claim["id"])
        citizen = test_keys.headers(str(uuid.uuid4()), ["talent"])
        objection = await client.post(
            f"/api/v1/claims/{claim['id']}/objections", json={"reason": "does not work here"}, headers=citizen
        )
        assert objection.status_code == 201 and objection.json()["status"] == "open"
        back = (await client.get(f"/api/v1/me/claims/{claim['id']}", headers=talent)).json()
        assert back["status"] == "county_approved" and back["publicized_until"] is None
        queue = (await client.get("/api/v1/reviews/claims", headers=officials["approver.city"])).json()["items"]
        assert [c["id"] for c in queue] == [claim["id"]]
        # The old 公示 timer was cancelled: ending the period does nothing, and no payment is possible.
        await _end_publicity(benefits_app)
        again = await _decide(client, officials["approver.city"], claim["id"])
        assert again.json()["status"] == "publicized"
        late = await client.post(f"/api/v1/claims/{claim['id']}/objections", json={"reason": "x"})
        assert late.status_code == 401

    async def test_objection_outside_publicity_is_409(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "HEALTH_CHECK")).json()
        response = await client.post(f"/api/v1/claims/{claim['id']}/objections", json={"reason": "x"}, headers=talent)
        assert response.status_code == 409
        missing = await client.post(f"/api/v1/claims/{uuid.uuid4()}/objections", json={"reason": "x"}, headers=talent)
        assert missing.status_code == 404


class TestBudgets:
    async def test_quota_refuses_the_approval_that_would_exceed_it(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
    ) -> None:
        policy = (await client.get("/api/v1/policies/GREEN_CARD")).json()
        body = {k: policy[k] for k in ("name", "amount", "eligibility", "limits", "review", "effects")}
        body |= {"budget": {"yearly_quota": 1}, "change_reason": "pilot: one card this year"}
        assert (
            await client.put("/api/v1/admin/policies/GREEN_CARD", json=body, headers=officials["admin"])
        ).status_code == 200
        claims = []
        for _ in range(2):
            tid = str(uuid.uuid4())
            await _certified_talent(events, tid, "B")
            claim = (await _claim(client, test_keys.headers(tid, ["talent"]), "GREEN_CARD")).json()
            assert claim["status"] == "accepted" and claim["policy_version"] == 2
            await _decide(client, officials["reviewer.nanhu"], claim["id"])
            claims.append(claim["id"])
        assert (await _decide(client, officials["approver.city"], claims[0])).status_code == 200
        refused = await _decide(client, officials["approver.city"], claims[1])
        assert refused.status_code == 409 and "quota" in refused.json()["detail"]
        # Nothing of the refused approval was kept: the claim still waits for the city.
        state = (await client.get(f"/api/v1/reviews/claims/{claims[1]}", headers=officials["approver.city"])).json()
        assert state["status"] == "county_approved"
        # A new claim now fails the automatic checks: the quota is used up.
        tid = str(uuid.uuid4())
        await _certified_talent(events, tid, "A")
        late = (await _claim(client, test_keys.headers(tid, ["talent"]), "GREEN_CARD")).json()
        assert late["status"] == "rejected" and late["reasons"][0]["code"] == "quota_exhausted"


class TestDeadlines:
    async def test_missed_stage_deadline_escalates_once(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "HEALTH_CHECK")).json()
        assert await fire_timers(benefits_app, utcnow() + timedelta(days=6)) == 0  # 5 working days not over yet
        assert await fire_timers(benefits_app, utcnow() + timedelta(days=8)) == 1
        assert await fire_timers(benefits_app, utcnow() + timedelta(days=9)) == 0
        async with benefits_app.state.database.sessionmaker() as session:
            [escalated] = [
                json.loads(e.payload)
                for e in (await session.exec(select(OutboxEvent))).all()
                if e.event_type == "talent.benefits.claim.escalated.v1"
            ]
            stored = await session.get(Claim, claim["id"])
        assert escalated["data"]["stage"] == "county" and escalated["data"]["deadline"] == "stage"
        assert stored is not None and stored.escalated_at is not None
        audit = await client.get("/api/v1/audit/benefits?action=claim.escalated", headers=officials["auditor.city"])
        assert [e["subject_id"] for e in audit.json()["items"]] == [claim["id"]]

    async def test_end_to_end_deadline_escalates_an_open_claim(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        await _claim(client, talent, "HEALTH_CHECK")
        await fire_timers(benefits_app, utcnow() + timedelta(days=91))
        async with benefits_app.state.database.sessionmaker() as session:
            deadlines = [
                json.loads(e.payload)["data"]["deadline"]
                for e in (await session.exec(select(OutboxEvent))).all()
                if e.event_type == "talent.benefits.claim.escalated.v1"
            ]
        assert sorted(deadlines) == ["end_to_end", "stage"]


class TestReviewQueues:
    async def test_finance_sees_only_payable_claims_and_may_not_filter_others(
        self, client: httpx.AsyncClient, officials: dict[str, Headers]
    ) -> None:
        assert (await client.get("/api/v1/reviews/claims", headers=officials["finance.city"])).json()["items"] == []
        refused = await client.get("/api/v1/reviews/claims?status=accepted", headers=officials["finance.city"])
        assert refused.status_code == 403
        bad = await client.get("/api/v1/reviews/claims?status=nonsense", headers=officials["approver.city"])
        assert bad.status_code == 422

    async def test_county_queue_pages_with_a_cursor(
        self, client: httpx.AsyncClient, events: Events, test_keys: TestKeys, officials: dict[str, Headers]
    ) -> None:
        for region in ("330402", "330402", "330402", XIUZHOU):
            tid = str(uuid.uuid4())
            await events.apply(registered(tid, region_code=region))
            await events.apply(certified(tid, "D"))
            await _claim(client, test_keys.headers(tid, ["talent"]), "HEALTH_CHECK")
        first = (await client.get("/api/v1/reviews/claims?limit=2", headers=officials["reviewer.nanhu"])).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        rest = await client.get(
            f"/api/v1/reviews/claims?limit=2&cursor={first['next_cursor']}", headers=officials["reviewer.nanhu"]
        )
        assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
        assert (
            len((await client.get("/api/v1/reviews/claims", headers=officials["reviewer.xiuzhou"])).json()["items"])
            == 1
        )
