"""Rounds: applications with eligibility, close with a seed commitment, the draw, and the public results."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from contracts import HousingVoucherUsed, TalentRevoked
from fastapi import FastAPI
from housing import draw
from housing.handlers import TIMERS
from servicekit.models import OutboxEvent
from servicekit.timers import TimerRunner
from sqlmodel import select

from .conftest import Platform


async def _event_types(app: FastAPI) -> list[str]:
    async with app.state.database.sessionmaker() as session:
        return [e.event_type for e in (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()]


class TestApply:
    async def test_certified_talent_applies_and_gets_a_pseudonymous_application(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        talent_id, talent = await platform.talent("C", 60)
        response = await platform.apply(round_id, talent, preferred_project_ids=[project], household_size=2)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "submitted" and body["tier"] == "C" and body["points"] == 60
        assert body["application_pseudonym"].startswith("ha_") and talent_id not in body["application_pseudonym"]

    async def test_applying_twice_is_409(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        _, talent = await platform.talent()
        assert (await platform.apply(round_id, talent)).status_code == 201
        second = await platform.apply(round_id, talent)
        assert second.status_code == 409
        assert "already applied" in second.json()["detail"]

    async def test_every_reason_of_an_ineligible_talent_is_listed_in_a_422(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        talent_id, talent = await platform.talent(works_in_city=False, owns_home_in_city=True)
        await platform.deliver(HousingVoucherUsed(talent_id=talent_id, claim_id="c-1"), subject=talent_id)
        response = await platform.apply(round_id, talent)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        codes = [r["code"] for r in response.json()["reasons"]]
        assert codes == ["not_working_in_city", "owns_home_in_city", "voucher_used"]

    async def test_uncertified_and_revoked_talents_are_refused_with_the_reason(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        _, registered_only = await platform.talent(certified=False)
        response = await platform.apply(round_id, registered_only)
        assert response.status_code == 422
        assert response.json()["reasons"][0]["code"] == "not_certified"

        revoked_id, revoked = await platform.talent()
        await platform.deliver(
            TalentRevoked(talent_id=revoked_id, pseudonym="tp_x", reason="left", revoked_at=datetime.now(UTC)),
            subject=revoked_id,
        )
        response = await platform.apply(round_id, revoked)
        assert response.status_code == 422
        assert "revoked" in response.json()["reasons"][0]["message"]

    async def test_a_talent_never_seen_by_housing_is_422_not_500(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        stranger = platform.keys.headers("never-registered", ["talent"])
        response = await platform.apply(round_id, stranger)
        assert response.status_code == 422
        assert response.json()["reasons"][0]["code"] == "not_certified"

    async def test_a_project_outside_the_round_or_a_household_no_unit_fits_is_422(self, platform: Platform) -> None:
        project = await platform.project()
        other = await platform.project("别的公寓")
        round_id = await platform.round(await platform.units(project, ("101", "studio", 200000)))
        _, talent = await platform.talent()
        response = await platform.apply(round_id, talent, preferred_project_ids=[other])
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "preferred_project_ids"
        response = await platform.apply(round_id, talent, household_size=4)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "household_size"

    async def test_an_unknown_round_is_404_and_an_officer_may_not_apply(self, platform: Platform) -> None:
        _, talent = await platform.talent()
        assert (await platform.apply("no-such-round", talent)).status_code == 404
        assert (await platform.apply("no-such-round", platform.officer)).status_code == 403

    async def test_a_closed_round_takes_no_application(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        await platform.client.post(f"/api/v1/housing/rounds/{round_id}/close", headers=platform.officer)
        _, talent = await platform.talent()
        response = await platform.apply(round_id, talent)
        assert response.status_code == 409
        assert response.json()["round_status"] == "closed"


class TestCloseAndDraw:
    async def test_close_publishes_a_commitment_and_draw_reveals_the_matching_seed(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        for tier in "EDC":
            _, talent = await platform.talent(tier, 40)
            assert (await platform.apply(round_id, talent)).status_code == 201

        closed = await platform.client.post(f"/api/v1/housing/rounds/{round_id}/close", headers=platform.officer)
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed" and closed.json()["seed"] is None
        commitment = closed.json()["seed_commitment"]
        assert len(commitment) == 64
        public = (await platform.client.get(f"/api/v1/housing/rounds/{round_id}")).json()
        assert public["seed"] is None and public["application_count"] == 3

        drawn = await platform.client.post(f"/api/v1/housing/rounds/{round_id}/draw", headers=platform.officer)
        assert drawn.status_code == 200, drawn.text
        seed = drawn.json()["seed"]
        assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == commitment
        assert drawn.json()["status"] == "drawn"

        results = (await platform.client.get(f"/api/v1/housing/rounds/{round_id}/results")).json()
        assert [r["tier"] for r in results["items"]] == ["C", "D", "E"]
        assert [r["selected"] for r in results["items"]] == [True, False, False]
        assert results["items"][0]["status"] == "offered"
        assert {r["status"] for r in results["items"][1:]} == {"waitlisted"}
        assert draw.verify(results["items"], seed, unit_count=1, seed_commitment_hex=commitment).matches
        # Pseudonymous: the results carry no talent id.
        assert "talent_id" not in json.dumps(results)

        types = await _event_types(housing_app)
        assert types.count("talent.housing.round.opened.v1") == 1
        assert "talent.housing.round.closed.v1" in types and "talent.housing.round.drawn.v1" in types
        assert types.count("talent.housing.offer.made.v1") == 1

    async def test_drawing_an_open_round_is_409_and_results_wait_for_the_draw(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        response = await platform.client.post(f"/api/v1/housing/rounds/{round_id}/draw", headers=platform.officer)
        assert response.status_code == 409
        assert "close it first" in response.json()["detail"]
        assert (await platform.client.get(f"/api/v1/housing/rounds/{round_id}/results")).status_code == 409

    async def test_drawing_twice_and_closing_twice_are_409(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        await platform.close_and_draw(round_id)
        again = await platform.client.post(f"/api/v1/housing/rounds/{round_id}/draw", headers=platform.officer)
        assert again.status_code == 409
        close = await platform.client.post(f"/api/v1/housing/rounds/{round_id}/close", headers=platform.officer)
        assert close.status_code == 409

    async def test_a_talent_may_not_close_or_draw(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        _, talent = await platform.talent()
        response = await platform.client.post(f"/api/v1/housing/rounds/{round_id}/close", headers=talent)
        assert response.status_code == 403

    async def test_the_round_closes_itself_at_closes_at(self, platform: Platform, housing_app: FastAPI) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        later = datetime.now(UTC) + timedelta(days=8)
        runner = TimerRunner(housing_app.state.database, TIMERS, clock=lambda: later)
        assert await runner.fire_due() == 1
        round_ = (await platform.client.get(f"/api/v1/housing/rounds/{round_id}")).json()
        assert round_["status"] == "closed" and round_["seed_commitment"]

    async def test_a_round_with_no_applicant_completes_at_the_draw_and_frees_its_units(
        self, platform: Platform
    ) -> None:
        project = await platform.project()
        unit_ids = await platform.units(project, ("101", "1BR", 300000))
        round_id = await platform.round(unit_ids)
        drawn = await platform.close_and_draw(round_id)
        assert drawn["status"] == "completed"
        projects = (await platform.client.get("/api/v1/housing/projects")).json()["items"]
        assert [p["available_units"] for p in projects] == [1]


class TestAudit:
    async def test_officer_actions_are_in_the_verified_audit_chain(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        await platform.close_and_draw(round_id)
        auditor = platform.keys.headers("auditor.city", ["auditor"])
        entries = (await platform.client.get("/api/v1/audit/housing", headers=auditor)).json()["items"]
        actions = [e["action"] for e in reversed(entries)]
        assert actions == [
            "housing.project.create",
            "housing.units.add",
            "housing.round.open",
            "housing.round.close",
            "housing.round.draw",
        ]
        assert entries[0]["actor"] == "housing.city"
        verified = (await platform.client.get("/api/v1/audit/housing/verify", headers=auditor)).json()
        assert verified == {"valid": True, "entries": 5, "first_broken_seq": None}
