"""Offers down the ranked list, the cascade on decline and lapse, the bar after two declines, and leases."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from housing.handlers import TIMERS
from housing.models import HousingApplication, HousingLease, HousingOffer
from servicekit.models import OutboxEvent
from servicekit.timers import TimerRunner
from sqlmodel import select

from .conftest import Platform


async def _drawn_round(platform: Platform, units: int, talents: list[tuple[str, int]], **round_extra: Any) -> Any:
    """A drawn round of `units` 1BR units (list rent 3,000.00 CNY) and applicants of the given (tier, points)."""
    project = await platform.project()
    unit_ids = await platform.units(project, *[(f"{100 + i}", "1BR", 300000) for i in range(units)])
    round_id = await platform.round(unit_ids, **round_extra)
    people = []
    for tier, points in talents:
        talent_id, headers = await platform.talent(tier, points)
        assert (await platform.apply(round_id, headers)).status_code == 201
        people.append((talent_id, headers))
    await platform.close_and_draw(round_id)
    return round_id, unit_ids, people


async def _types(app: FastAPI) -> list[str]:
    async with app.state.database.sessionmaker() as session:
        return [e.event_type for e in (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()]


class TestOffers:
    async def test_offers_go_down_the_ranked_list_and_the_rest_wait(self, platform: Platform) -> None:
        _, _, people = await _drawn_round(platform, 2, [("E", 20), ("B", 80), ("D", 40)])
        (_, e_talent), (_, b_talent), (_, d_talent) = people
        assert await platform.open_offer(b_talent) is not None
        assert await platform.open_offer(d_talent) is not None
        assert await platform.open_offer(e_talent) is None
        mine = await platform.mine(e_talent)
        assert mine["applications"][0]["status"] == "waitlisted" and mine["applications"][0]["rank"] == 3
        offer = await platform.open_offer(b_talent)
        assert offer is not None
        assert offer["monthly_rent_fen"] == 90000  # tier B pays 30% of 3,000.00
        assert datetime.fromisoformat(offer["expires_at"]) - datetime.fromisoformat(offer["made_at"]) == timedelta(
            hours=72
        )

    async def test_an_offer_respects_preferences_and_household_size(self, platform: Platform) -> None:
        near = await platform.project("近的")
        far = await platform.project("远的")
        near_units = await platform.units(near, ("N1", "studio", 100000))
        far_units = await platform.units(far, ("F1", "3BR", 500000), ("F2", "studio", 100000))
        round_id = await platform.round(near_units + far_units)
        _, top = await platform.talent("A", 100)
        _, family = await platform.talent("B", 80)
        await platform.apply(round_id, top, preferred_project_ids=[far, near], household_size=1)
        await platform.apply(round_id, family, preferred_project_ids=[far], household_size=5)
        await platform.close_and_draw(round_id)
        top_offer = await platform.open_offer(top)
        family_offer = await platform.open_offer(family)
        assert top_offer is not None and family_offer is not None
        # The top applicant gets the smallest fitting unit of the first preferred project, not the family flat.
        assert (top_offer["project_id"], top_offer["unit_number"]) == (far, "F2")
        assert (family_offer["project_id"], family_offer["unit_number"]) == (far, "F1")

    async def test_declining_passes_the_unit_to_the_next_ranked_applicant(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        _, _, people = await _drawn_round(platform, 1, [("C", 60), ("D", 40), ("E", 20)])
        (_, first), (_, second), (_, third) = people
        offer = await platform.open_offer(first)
        assert offer is not None
        response = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/decline", headers=first)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "declined"
        passed = await platform.open_offer(second)
        assert passed is not None and passed["unit_id"] == offer["unit_id"]
        assert await platform.open_offer(third) is None
        assert (await _types(housing_app))[-2:] == [
            "talent.housing.offer.declined.v1",
            "talent.housing.offer.made.v1",
        ]

    async def test_two_declines_bar_the_person_for_a_year(self, platform: Platform) -> None:
        project = await platform.project()
        _talent_id, picky = await platform.talent("A", 100)
        for attempt in range(2):
            unit_ids = await platform.units(project, (f"{attempt}01", "1BR", 300000))
            round_id = await platform.round(unit_ids)
            assert (await platform.apply(round_id, picky)).status_code == 201
            await platform.close_and_draw(round_id)
            offer = await platform.open_offer(picky)
            assert offer is not None
            declined = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/decline", headers=picky)
            assert declined.status_code == 200
        unit_ids = await platform.units(project, ("301", "1BR", 300000))
        round_id = await platform.round(unit_ids)
        refused = await platform.apply(round_id, picky)
        assert refused.status_code == 422
        [reason] = refused.json()["reasons"]
        assert reason["code"] == "barred_after_declines"
        assert str(date.today().year + 1) in reason["message"]

    async def test_an_unanswered_offer_lapses_after_72_hours_and_moves_on(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        _, _, people = await _drawn_round(platform, 1, [("C", 60), ("D", 40)])
        (_, slow), (_, next_one) = people
        offer = await platform.open_offer(slow)
        assert offer is not None
        later = datetime.now(UTC) + timedelta(hours=73)
        runner = TimerRunner(housing_app.state.database, TIMERS, clock=lambda: later)
        assert await runner.fire_due() >= 1
        statuses = {o["id"]: o["status"] for o in (await platform.mine(slow))["offers"]}
        assert statuses[offer["id"]] == "lapsed"
        assert await platform.open_offer(next_one) is not None
        accept = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=slow)
        assert accept.status_code == 409
        assert accept.json()["offer_status"] == "lapsed"

    async def test_an_expired_offer_cannot_be_accepted_even_before_the_timer_fires(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        _, _, [(talent_id, talent)] = await _drawn_round(platform, 1, [("C", 60)])
        async with housing_app.state.database.transaction() as session:
            offer = (await session.exec(select(HousingOffer).where(HousingOffer.talent_id == talent_id))).one()
            offer.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            offer_id = offer.id
        response = await platform.client.post(f"/api/v1/me/housing/offers/{offer_id}/accept", headers=talent)
        assert response.status_code == 409
        assert "expired" in response.json()["detail"]

    async def test_someone_elses_offer_is_404(self, platform: Platform) -> None:
        _, _, [(_, owner)] = await _drawn_round(platform, 1, [("C", 60)])
        offer = await platform.open_offer(owner)
        assert offer is not None
        _, intruder = await platform.talent()
        for verb in ("accept", "decline"):
            response = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/{verb}", headers=intruder)
            assert response.status_code == 404


class TestLeases:
    async def test_accepting_starts_a_lease_at_the_tiers_rent(self, platform: Platform, housing_app: FastAPI) -> None:
        round_id, [unit_id], [(_, talent)] = await _drawn_round(platform, 1, [("D", 40)])
        offer = await platform.open_offer(talent)
        assert offer is not None
        response = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        assert response.status_code == 200, response.text
        lease = response.json()
        assert lease["unit_id"] == unit_id and lease["monthly_rent_fen"] == 210000  # 70% of 3,000.00
        starts, ends = date.fromisoformat(lease["starts_on"]), date.fromisoformat(lease["ends_on"])
        assert (ends.year - starts.year, lease["renewable"]) == (3, False)
        assert (await platform.mine(talent))["lease"]["id"] == lease["id"]
        types = await _types(housing_app)
        assert types[-3:] == [
            "talent.housing.offer.accepted.v1",
            "talent.housing.lease.started.v1",
            "talent.housing.round.completed.v1",  # its only offer is answered
        ]
        round_ = (await platform.client.get(f"/api/v1/housing/rounds/{round_id}")).json()
        assert round_["status"] == "completed"
        again = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        assert again.status_code == 409

    async def test_tier_e_renews_once_and_other_tiers_not_at_all(self, platform: Platform) -> None:
        _, _, [(_, young), (_, leader)] = await _drawn_round(platform, 2, [("E", 20), ("D", 40)])
        for talent in (young, leader):
            offer = await platform.open_offer(talent)
            assert offer is not None
            await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        renewed = await platform.client.post("/api/v1/me/housing/lease/renew", headers=young)
        assert renewed.status_code == 200, renewed.text
        body = renewed.json()
        assert body["renewals"] == 1 and body["renewable"] is False
        assert date.fromisoformat(body["ends_on"]).year - date.fromisoformat(body["starts_on"]).year == 6
        assert (await platform.client.post("/api/v1/me/housing/lease/renew", headers=young)).status_code == 409
        refused = await platform.client.post("/api/v1/me/housing/lease/renew", headers=leader)
        assert refused.status_code == 409
        assert "tier D" in refused.json()["detail"]

    async def test_moving_out_ends_the_lease_and_frees_the_unit(self, platform: Platform, housing_app: FastAPI) -> None:
        _, [_unit_id], [(_, talent)] = await _drawn_round(platform, 1, [("C", 60)])
        offer = await platform.open_offer(talent)
        assert offer is not None
        await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        response = await platform.client.post("/api/v1/me/housing/lease/move-out", headers=talent)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ended" and response.json()["end_reason"] == "moved_out"
        assert (await platform.mine(talent))["lease"] is None
        assert (await _types(housing_app))[-1] == "talent.housing.lease.ended.v1"
        projects = (await platform.client.get("/api/v1/housing/projects")).json()["items"]
        assert projects[0]["available_units"] == 1
        assert (await platform.client.post("/api/v1/me/housing/lease/move-out", headers=talent)).status_code == 404

    async def test_an_officer_ends_a_lease_with_a_reason_in_the_audit_log(self, platform: Platform) -> None:
        _, _, [(_, talent)] = await _drawn_round(platform, 1, [("C", 60)])
        offer = await platform.open_offer(talent)
        assert offer is not None
        lease = (await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)).json()
        response = await platform.client.post(
            f"/api/v1/housing/leases/{lease['id']}/end", json={"reason": "转租违规"}, headers=platform.officer
        )
        assert response.status_code == 200, response.text
        auditor = platform.keys.headers("auditor.city", ["auditor"])
        entries = (
            await platform.client.get(f"/api/v1/audit/housing?subject_id={lease['id']}", headers=auditor)
        ).json()["items"]
        assert [(e["action"], e["reason"]) for e in entries] == [("housing.lease.end", "转租违规")]
        again = await platform.client.post(
            f"/api/v1/housing/leases/{lease['id']}/end", json={"reason": "again"}, headers=platform.officer
        )
        assert again.status_code == 409

    async def test_a_lease_ends_by_itself_when_its_term_runs_out(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        _, _, [(_, talent)] = await _drawn_round(platform, 1, [("C", 60)])
        offer = await platform.open_offer(talent)
        assert offer is not None
        await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        in_four_years = datetime.now(UTC) + timedelta(days=4 * 366)
        await TimerRunner(housing_app.state.database, TIMERS, clock=lambda: in_four_years).fire_due()
        async with housing_app.state.database.sessionmaker() as session:
            [lease] = (await session.exec(select(HousingLease))).all()
        assert (lease.status, lease.end_reason) == ("ended", "term_ended")


class TestConcurrency:
    async def test_two_talents_accepting_the_last_unit_at_once_get_exactly_one_lease(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        # Two offers out for one unit (as after an operator's manual re-offer): both accept at the same moment.
        _, [unit_id], [(_first_id, first), (second_id, second)] = await _drawn_round(
            platform, 1, [("C", 60), ("C", 50)]
        )
        async with housing_app.state.database.transaction() as session:
            waiting = (
                await session.exec(select(HousingApplication).where(HousingApplication.talent_id == second_id))
            ).one()
            waiting.status = "offered"
            template = (await session.exec(select(HousingOffer))).one()
            session.add(
                HousingOffer(
                    round_id=template.round_id,
                    unit_id=unit_id,
                    application_id=waiting.id,
                    talent_id=second_id,
                    expires_at=template.expires_at,
                )
            )
        offers = [await platform.open_offer(first), await platform.open_offer(second)]
        assert all(o is not None and o["unit_id"] == unit_id for o in offers)
        responses = await asyncio.gather(
            *(
                platform.client.post(f"/api/v1/me/housing/offers/{o['id']}/accept", headers=h)  # type: ignore[index]
                for o, h in zip(offers, (first, second), strict=True)
            )
        )
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        async with housing_app.state.database.sessionmaker() as session:
            leases = (await session.exec(select(HousingLease).where(HousingLease.unit_id == unit_id))).all()
        assert len(leases) == 1

    @pytest.mark.parametrize("attempts", [2])
    async def test_one_talent_accepting_offers_of_two_rounds_at_once_gets_one_lease(
        self, platform: Platform, housing_app: FastAPI, attempts: int
    ) -> None:
        project = await platform.project()
        talent_id, talent = await platform.talent("B", 80)
        offer_ids = []
        for n in range(attempts):
            round_id = await platform.round(await platform.units(project, (f"R{n}", "1BR", 300000)))
            await platform.apply(round_id, talent)
            await platform.close_and_draw(round_id)
        offer_ids = [o["id"] for o in (await platform.mine(talent))["offers"] if o["status"] == "open"]
        assert len(offer_ids) == attempts
        responses = await asyncio.gather(
            *(platform.client.post(f"/api/v1/me/housing/offers/{o}/accept", headers=talent) for o in offer_ids)
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        async with housing_app.state.database.sessionmaker() as session:
            leases = (await session.exec(select(HousingLease).where(HousingLease.talent_id == talent_id))).all()
        assert len(leases) == 1
