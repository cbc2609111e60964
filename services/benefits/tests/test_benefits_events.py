"""The read model from events (any order), 免申即享 exactly once, and the cross-service rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
from benefits.models import Claim, TalentFacts
from contracts import HousingVoucherUsed, LeaseEnded, LeaseStarted, TalentProfileUpdated, TalentRevoked
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.models import OutboxEvent
from sqlmodel import select

from .conftest import Events, certified, fire_timers, registered

Headers = dict[str, str]


async def _claims(app: FastAPI, talent_id: str) -> list[Claim]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.exec(select(Claim).where(Claim.talent_id == talent_id))).all())


def _lease_started(talent_id: str, lease_id: str = "lease-1") -> LeaseStarted:
    return LeaseStarted(
        lease_id=lease_id,
        talent_id=talent_id,
        unit_id="unit-1",
        starts_on=date.today(),
        ends_on=date.today() + timedelta(days=365),
        monthly_rent_fen=150000,
    )


class TestAutoGrant:
    async def test_certification_grants_the_living_allowance_without_asking(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        [claim] = (await client.get("/api/v1/me/claims", headers=talent)).json()["items"]
        assert claim["policy_code"] == "LIVING_ALLOWANCE" and claim["auto"] is True
        assert claim["status"] == "accepted" and claim["amount_fen"] == 2000000  # master
        assert [h["action"] for h in claim["history"]] == ["auto_granted", "accepted"]

    async def test_redelivered_and_repeated_certification_give_exactly_one_claim(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(registered(talent_id))
        event = await events.apply(certified(talent_id, "E"))
        assert await events.apply_event(event) is False  # the ledger drops the redelivery
        await events.apply(certified(talent_id, "E", points=45))  # a new event, same talent
        assert len(await _claims(benefits_app, talent_id)) == 1

    async def test_certification_before_the_profile_grants_once_the_profile_arrives(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(certified(talent_id, "E"))
        assert await _claims(benefits_app, talent_id) == []
        await events.apply(registered(talent_id))
        [claim] = await _claims(benefits_app, talent_id)
        assert claim.auto and claim.status == "accepted" and claim.region_code == "330402"

    async def test_ineligible_talent_gets_no_automatic_claim(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(registered(talent_id, graduated_on=date(2015, 6, 30)))
        await events.apply(certified(talent_id, "E"))
        assert await _claims(benefits_app, talent_id) == []

    async def test_an_older_profile_event_does_not_overwrite_a_newer_one(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        await events.apply(TalentProfileUpdated(talent_id=talent_id, social_insurance_months=30), time=now)
        await events.apply(registered(talent_id, social_insurance_months=1), time=now - timedelta(minutes=5))
        async with benefits_app.state.database.sessionmaker() as session:
            facts = await session.get(TalentFacts, talent_id)
        assert facts is not None and facts.social_insurance_months == 30 and facts.pseudonym

    async def test_the_read_model_keeps_where_each_fact_came_from(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        confirmed = {"education": "officer_confirmed", "social_insurance_months": "employer_attested"}
        await events.apply(TalentProfileUpdated(talent_id=talent_id, provenance=confirmed))
        async with benefits_app.state.database.sessionmaker() as session:
            facts = await session.get(TalentFacts, talent_id)
        assert facts is not None and facts.provenance == confirmed


class TestEligibility:
    async def test_every_policy_is_listed_with_every_reason(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        items = {
            i["policy_code"]: i for i in (await client.get("/api/v1/me/eligibility", headers=talent)).json()["items"]
        }
        assert len(items) == 8
        assert items["LIVING_ALLOWANCE"]["claimed"] is True and items["LIVING_ALLOWANCE"]["eligible"] is False
        assert items["RENT_SUBSIDY"]["eligible"] is True and items["RENT_SUBSIDY"]["amount_fen"] == 12 * 100000
        assert [r["code"] for r in items["HOUSING_VOUCHER"]["reasons"]] == ["tier"]
        assert {r["code"] for r in items["SOCIAL_INSURANCE"]["reasons"]} == {"shortage_catalogue"}
        assert items["STARTUP_FUNDING"]["eligible"] is True and items["STARTUP_FUNDING"]["amount_fen"] is None

    async def test_a_stranger_sees_why_nothing_is_claimable(self, client: httpx.AsyncClient, talent: Headers) -> None:
        items = (await client.get("/api/v1/me/eligibility", headers=talent)).json()["items"]
        assert all(not i["eligible"] and i["reasons"][0]["code"] == "unknown_talent" for i in items)

    async def test_eligibility_needs_a_talent_token(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/me/eligibility")).status_code == 401


class TestCrossServiceRules:
    async def test_lease_started_stops_the_rent_subsidy_and_lease_ended_reopens_it(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "D"))
        rent = (await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)).json()
        health = (await client.post("/api/v1/me/claims", json={"policy_code": "HEALTH_CHECK"}, headers=talent)).json()
        await events.apply(_lease_started(talent_id))
        stopped = (await client.get(f"/api/v1/me/claims/{rent['id']}", headers=talent)).json()
        assert stopped["status"] == "stopped"
        assert stopped["history"][-1]["action"] == "stopped" and stopped["history"][-1]["actor"] == "system"
        assert (await client.get(f"/api/v1/me/claims/{health['id']}", headers=talent)).json()["status"] == "accepted"
        again = await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        assert again.status_code == 422 and again.json()["reasons"][0]["code"] == "active_lease"

        await events.apply(
            LeaseEnded(
                lease_id="lease-1", talent_id=talent_id, unit_id="unit-1", ended_on=date.today(), reason="moved out"
            )
        )
        reopened = await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        assert reopened.status_code == 201 and reopened.json()["status"] == "accepted"
        async with benefits_app.state.database.sessionmaker() as session:
            decided = [
                json.loads(e.payload)["data"]
                for e in (await session.exec(select(OutboxEvent))).all()
                if e.event_type == "talent.benefits.claim.decided.v1"
            ]
        assert any(d["decided_by"] == "system" and d["decision"] == "reject" for d in decided)

    async def test_lease_ended_before_started_leaves_no_active_lease(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "D"))
        await events.apply(
            LeaseEnded(lease_id="l2", talent_id=talent_id, unit_id="u", ended_on=date.today(), reason="x")
        )
        await events.apply(_lease_started(talent_id, "l2"))
        response = await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        assert response.status_code == 201

    async def test_revocation_stops_every_open_claim(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        await events.apply(
            TalentRevoked(talent_id=talent_id, pseudonym="tp_x", reason="left the city", revoked_at=utcnow())
        )
        assert {c.status for c in await _claims(benefits_app, talent_id)} == {"stopped"}
        items = (await client.get("/api/v1/me/eligibility", headers=talent)).json()["items"]
        assert all(i["reasons"][0]["code"] == "not_certified" for i in items)
        # A certification older than the revocation does not bring the talent back.
        await events.apply(certified(talent_id, "E"), time=utcnow() - timedelta(hours=1))
        assert (await client.get("/api/v1/me/eligibility", headers=talent)).json()["items"][0]["eligible"] is False

    async def test_paid_housing_voucher_emits_the_event_housing_needs_and_ends_rent_subsidy(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "C"))
        voucher = (
            await client.post("/api/v1/me/claims", json={"policy_code": "HOUSING_VOUCHER"}, headers=talent)
        ).json()
        rent = (await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)).json()
        for who in ("reviewer.nanhu", "approver.city"):
            response = await client.post(
                f"/api/v1/reviews/claims/{voucher['id']}/decisions",
                json={"decision": "approve", "reason": "ok"},
                headers=officials[who],
            )
            assert response.status_code == 200, response.text
        await fire_timers(benefits_app, utcnow() + timedelta(hours=2))
        paid = await client.post(
            f"/api/v1/reviews/claims/{voucher['id']}/disbursement",
            json={"payment_reference": "VOUCHER-1"},
            headers=officials["finance.city"],
        )
        assert paid.status_code == 200, paid.text
        async with benefits_app.state.database.sessionmaker() as session:
            used = [
                json.loads(e.payload)
                for e in (await session.exec(select(OutboxEvent))).all()
                if e.event_type == HousingVoucherUsed.type
            ]
        assert [u["data"]["claim_id"] for u in used] == [voucher["id"]] and used[0]["subject"] == talent_id
        assert (await client.get(f"/api/v1/me/claims/{rent['id']}", headers=talent)).json()["status"] == "stopped"
        # Replaying our own event is harmless.
        await events.apply(HousingVoucherUsed(talent_id=talent_id, claim_id=voucher["id"]))
        again = await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        assert again.status_code == 422 and again.json()["reasons"][0]["code"] == "housing_voucher_used"
