"""Employers' attestations in housing's read model (any order, replays change nothing), shown to the housing
officer on a round's applications and never on the public results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import EmploymentAttestationWithdrawn, EmploymentAttested
from fastapi import FastAPI
from housing.models import HousingTalent

from .conftest import Platform

CREDIT_CODE = "91330402MA2B3C4D53"


def attested(talent_id: str, outcome: str = "disputed", **extra: Any) -> EmploymentAttested:
    values: dict[str, Any] = {
        "attestation_id": str(uuid.uuid4()),
        "talent_id": talent_id,
        "employer_credit_code": CREDIT_CODE,
        "outcome": outcome,
        "blocking": outcome == "disputed",
        "attested_at": datetime.now(UTC),
    }
    values.update(extra)
    return EmploymentAttested(**values)


def withdrawn(talent_id: str, attestation_id: str, reason: str = "revoked") -> EmploymentAttestationWithdrawn:
    return EmploymentAttestationWithdrawn(
        attestation_id=attestation_id,
        talent_id=talent_id,
        employer_credit_code=CREDIT_CODE,
        reason=reason,
        withdrawn_at=datetime.now(UTC),
    )


async def _talent(app: FastAPI, talent_id: str) -> HousingTalent:
    async with app.state.database.sessionmaker() as session:
        row: HousingTalent | None = await session.get(HousingTalent, talent_id)
    assert row is not None
    return row


class TestReadModel:
    async def test_a_newer_attestation_stands_and_an_older_one_arriving_late_changes_nothing(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        newer = attested("t-1", "confirmed", mismatched_facts=["social_insurance_months"], blocking=True)
        await platform.deliver(newer, subject="t-1", time=now)
        await platform.deliver(attested("t-1", "disputed"), subject="t-1", time=now - timedelta(minutes=1))
        row = await _talent(housing_app, "t-1")
        assert (row.attestation_id, row.attestation_outcome, row.attestation_blocking) == (
            newer.attestation_id,
            "confirmed",
            True,
        )
        assert row.attestation_mismatched_facts == ["social_insurance_months"]

    async def test_a_withdrawal_clears_only_the_attestation_it_names(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        old, new = attested("t-2"), attested("t-2")
        await platform.deliver(new, subject="t-2", time=now)
        # Even a later withdrawal of another attestation leaves the standing one alone.
        later = now + timedelta(seconds=30)
        await platform.deliver(withdrawn("t-2", old.attestation_id, "employer_changed"), subject="t-2", time=later)
        assert (await _talent(housing_app, "t-2")).attestation_id == new.attestation_id
        await platform.deliver(withdrawn("t-2", new.attestation_id), subject="t-2", time=now + timedelta(minutes=1))
        row = await _talent(housing_app, "t-2")
        assert row.attestation_id is None and row.attestation_blocking is False and row.attestation_outcome is None

    async def test_a_replayed_attestation_after_its_withdrawal_does_not_stand_again(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        dispute = attested("t-3")
        await platform.deliver(withdrawn("t-3", dispute.attestation_id), subject="t-3", time=now)
        await platform.deliver(dispute, subject="t-3", time=now - timedelta(minutes=1))
        row = await _talent(housing_app, "t-3")
        assert row.attestation_id is None and row.attestation_blocking is False


class TestOfficerView:
    async def test_the_officer_sees_a_disputed_applicants_blocking_flag_and_the_public_results_do_not(
        self, platform: Platform
    ) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        disputed_id, disputed = await platform.talent("C", 60)
        _, plain = await platform.talent("D", 40)
        assert (await platform.apply(round_id, disputed)).status_code == 201
        assert (await platform.apply(round_id, plain)).status_code == 201
        await platform.deliver(attested(disputed_id), subject=disputed_id)

        url = f"/api/v1/housing/rounds/{round_id}/applications"
        response = await platform.client.get(url, headers=platform.officer)
        assert response.status_code == 200, response.text
        first, second = response.json()["items"]
        assert first["tier"] == "C" and first["talent"]["status"] == "certified"
        assert first["talent"]["employment_attestation"] == "disputed" and first["talent"]["employment_blocking"]
        assert second["talent"]["employment_attestation"] is None and not second["talent"]["employment_blocking"]

        page = await platform.client.get(url, params={"limit": 1}, headers=platform.officer)
        cursor = page.json()["next_cursor"]
        rest = await platform.client.get(url, params={"limit": 1, "cursor": cursor}, headers=platform.officer)
        assert [a["id"] for a in rest.json()["items"]] == [second["id"]] and rest.json()["next_cursor"] is None

        await platform.close_and_draw(round_id)
        results = await platform.client.get(f"/api/v1/housing/rounds/{round_id}/results")
        assert "employment" not in results.text and "talent" not in results.json()["items"][0]

    async def test_only_housing_officers_see_applications_and_an_unknown_round_is_404(self, platform: Platform) -> None:
        project = await platform.project()
        round_id = await platform.round(await platform.units(project, ("101", "1BR", 300000)))
        _, talent = await platform.talent()
        url = f"/api/v1/housing/rounds/{round_id}/applications"
        assert (await platform.client.get(url, headers=talent)).status_code == 403
        assert (await platform.client.get(url)).status_code == 401
        missing = await platform.client.get(
            "/api/v1/housing/rounds/no-such-round/applications", headers=platform.officer
        )
        assert missing.status_code == 404
        bad = await platform.client.get(url, params={"cursor": "not-a-cursor"}, headers=platform.officer)
        assert bad.status_code == 422
