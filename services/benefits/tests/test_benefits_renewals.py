"""Renewals: a multi-year policy (the living allowance, 3 years) renews on a persisted yearly timer, armed when
a year's claim is granted (公示) and due on 1 January of the next year in the city's time; eligibility is
checked again then, and a talent who no longer qualifies gets no claim and an event saying why."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from benefits import renewals
from benefits.clock import Clock
from benefits.config import get_settings
from benefits.models import Claim
from contracts import TalentProfileUpdated
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.timers import ScheduledTimer
from sqlmodel import col, select

from .conftest import Events, certified, fire_timers, registered, today

Headers = dict[str, str]
POLICY = "LIVING_ALLOWANCE"


def _clock(app: FastAPI) -> Clock:
    """The flow's clock the worker's timers use (the same settings as the app under test)."""
    return Clock.from_settings(get_settings())


async def _claims(app: FastAPI, talent_id: str) -> list[Claim]:
    async with app.state.database.sessionmaker() as session:
        query = select(Claim).where(Claim.talent_id == talent_id).order_by(col(Claim.year))
        return list((await session.exec(query)).all())


async def _renewal_timer(app: FastAPI, talent_id: str, year: int) -> ScheduledTimer | None:
    key = renewals.renewal_key(talent_id, POLICY, year)
    async with app.state.database.sessionmaker() as session:
        query = select(ScheduledTimer).where(ScheduledTimer.kind == renewals.RENEWAL_TIMER, ScheduledTimer.key == key)
        return (await session.exec(query)).first()


async def _events_of(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).where(OutboxEvent.event_type == event_type))).all()
    return [json.loads(r.payload)["data"] for r in rows]


async def _grant(client: httpx.AsyncClient, officials: dict[str, Headers], claim_id: str) -> None:
    """Bring an accepted claim to 公示 through the two reviews (a claim approved straight through is there already)."""
    claim = (await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=officials["reviewer.nanhu"])).json()
    for stage in ("reviewer.nanhu", "approver.city"):
        if claim["status"] == "publicized":
            break
        decided = await client.post(
            f"/api/v1/reviews/claims/{claim_id}/decisions",
            json={"decision": "approve", "reason": "checked"},
            headers=officials[stage],
        )
        assert decided.status_code == 200, decided.text
        claim = decided.json()
    assert claim["status"] == "publicized", claim


async def _year_one_granted(
    app: FastAPI,
    events: Events,
    client: httpx.AsyncClient,
    officials: dict[str, Headers],
    talent_id: str,
    **certification: Any,
) -> Claim:
    """A certified tier-E master's graduate: the living allowance is auto-granted for this year, then granted."""
    await events.apply(registered(talent_id))
    await events.apply(certified(talent_id, "E", **certification))
    [claim] = await _claims(app, talent_id)
    await _grant(client, officials, claim.id)
    return claim


def _left_the_city(talent_id: str) -> TalentProfileUpdated:
    facts = registered(talent_id, works_in_city=False, employer_region_code=None).model_dump()
    return TalentProfileUpdated(**{k: v for k, v in facts.items() if k in TalentProfileUpdated.model_fields})


class TestRenewalTimer:
    async def test_a_granted_year_arms_the_next_years_renewal_for_new_year_in_the_citys_time(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id)
        year = first.year + 1
        assert await _renewal_timer(benefits_app, talent_id, year - 1) is None
        timer = await _renewal_timer(benefits_app, talent_id, year)
        assert timer is not None and timer.status == "pending"
        # 00:00 on 1 January in UTC+8 is 16:00 UTC on 31 December.
        assert timer.due_at == datetime(year - 1, 12, 31, 16, 0, tzinfo=UTC)
        assert timer.data() == {"claim_id": first.id, "year": year}

    async def test_a_claim_not_yet_granted_arms_nothing_and_a_once_only_policy_never_renews(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        [living] = await _claims(benefits_app, talent_id)
        if living.status != "publicized":  # in review: not granted yet, so no renewal is due
            assert await _renewal_timer(benefits_app, talent_id, living.year + 1) is None
        await events.apply(certified(talent_id, "D"))
        rent = await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        assert rent.status_code == 201, rent.text
        await _grant(client, officials, rent.json()["id"])
        async with benefits_app.state.database.sessionmaker() as session:
            keys = (
                await session.exec(select(ScheduledTimer.key).where(ScheduledTimer.kind == renewals.RENEWAL_TIMER))
            ).all()
        assert not any("RENT_SUBSIDY" in key for key in keys)


class TestRenewal:
    async def test_an_eligible_talent_gets_next_years_claim_filed_like_an_auto_grant(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id)
        due = renewals.renewal_due(_clock(benefits_app), first.year + 1)

        await fire_timers(benefits_app, due - timedelta(minutes=1))
        assert len(await _claims(benefits_app, talent_id)) == 1  # not before the new year

        await fire_timers(benefits_app, due)
        _, second = await _claims(benefits_app, talent_id)
        assert second.year == first.year + 1 and second.auto is True and second.policy_code == POLICY
        assert second.amount_fen == first.amount_fen == 2000000  # a master's yearly amount
        mine = (await client.get(f"/api/v1/me/claims/{second.id}", headers=talent)).json()
        assert mine["status"] in ("accepted", "publicized")  # then review, or straight through
        assert mine["history"][0]["action"] == "renewed"
        assert mine["history"][0]["reason"] == f"renewal for {second.year} of claim {first.id}"
        submitted = [e for e in await _events_of(benefits_app, "talent.benefits.claim.submitted.v1")]
        assert [e["auto"] for e in submitted if e["claim_id"] == second.id] == [True]
        assert await _events_of(benefits_app, "talent.benefits.renewal.refused.v1") == []

    async def test_three_years_are_paid_then_the_fourth_is_refused_as_all_years_received(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id)
        clock = _clock(benefits_app)
        for year in (first.year + 1, first.year + 2):
            await fire_timers(benefits_app, renewals.renewal_due(clock, year))
            renewed = [c for c in await _claims(benefits_app, talent_id) if c.year == year]
            assert len(renewed) == 1, year
            await _grant(client, officials, renewed[0].id)

        await fire_timers(benefits_app, renewals.renewal_due(clock, first.year + 3))
        claims = await _claims(benefits_app, talent_id)
        assert [c.year for c in claims] == [first.year, first.year + 1, first.year + 2]
        [refused] = await _events_of(benefits_app, "talent.benefits.renewal.refused.v1")
        assert refused == {
            "claim_id": claims[-1].id,
            "talent_id": talent_id,
            "policy_code": POLICY,
            "year": first.year + 3,
            "reasons": ["max_claims"],
        }
        audit = await client.get(
            f"/api/v1/audit/benefits?subject_id={claims[-1].id}", headers=officials["auditor.city"]
        )
        assert "claim.renewal_refused" in {e["action"] for e in audit.json()["items"]}

    async def test_a_talent_who_left_the_city_gets_no_renewal_and_is_told_why(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id)
        await events.apply(_left_the_city(talent_id))
        await fire_timers(benefits_app, renewals.renewal_due(_clock(benefits_app), first.year + 1))
        assert len(await _claims(benefits_app, talent_id)) == 1
        [refused] = await _events_of(benefits_app, "talent.benefits.renewal.refused.v1")
        assert refused["reasons"] == ["works_in_city"] and refused["year"] == first.year + 1
        assert not {"works_in_city", "degree", "birth_date"} & set(refused)  # reason codes only, no facts

    async def test_a_certification_that_ends_before_the_new_year_is_checked_as_of_the_renewal_date(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        ends = date(today().year, 12, 31)  # valid today, over on 1 January
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id, certified_until=ends)
        await fire_timers(benefits_app, renewals.renewal_due(_clock(benefits_app), first.year + 1))
        assert len(await _claims(benefits_app, talent_id)) == 1
        [refused] = await _events_of(benefits_app, "talent.benefits.renewal.refused.v1")
        assert refused["reasons"] == ["not_certified"]

    async def test_a_year_already_claimed_or_a_second_firing_files_nothing_and_says_nothing(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id)
        clock = _clock(benefits_app)
        await fire_timers(benefits_app, renewals.renewal_due(clock, first.year + 1))
        async with benefits_app.state.database.sessionmaker() as session:
            again = await renewals.renew(session, first.id, first.year + 1, clock)
            await session.commit()
        assert again is None
        assert len(await _claims(benefits_app, talent_id)) == 2
        assert await _events_of(benefits_app, "talent.benefits.renewal.refused.v1") == []

    async def test_a_year_no_longer_granted_when_the_timer_fires_renews_nothing(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        first = await _year_one_granted(benefits_app, events, client, officials, talent_id)
        withdrawn = await client.post(f"/api/v1/me/claims/{first.id}/withdraw", headers=talent)
        assert withdrawn.status_code == 200, withdrawn.text
        await fire_timers(benefits_app, renewals.renewal_due(_clock(benefits_app), first.year + 1))
        assert [c.id for c in await _claims(benefits_app, talent_id)] == [first.id]
        assert await _events_of(benefits_app, "talent.benefits.renewal.refused.v1") == []
