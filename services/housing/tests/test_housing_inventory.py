"""Projects and units: officers manage them, everyone browses what is available, a unit is in one round at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .conftest import Platform


class TestProjects:
    async def test_public_list_shows_only_projects_with_available_units(self, platform: Platform) -> None:
        empty = await platform.project("还没有房")
        stocked = await platform.project("有房")
        await platform.units(stocked, ("101", "studio", 150000), ("102", "2BR", 350000), ("103", "2BR", 360000))
        response = await platform.client.get("/api/v1/housing/projects")
        assert response.status_code == 200
        [project] = response.json()["items"]
        assert project["id"] == stocked and project["id"] != empty
        assert project["available_units"] == 3 and project["available_by_type"] == {"studio": 1, "2BR": 2}

    async def test_a_talent_may_not_create_a_project(self, platform: Platform) -> None:
        _, talent = await platform.talent()
        body = {"name": "x", "region_code": "330402", "supply_model": "park", "address": "y"}
        assert (await platform.client.post("/api/v1/housing/projects", json=body, headers=talent)).status_code == 403

    async def test_bad_project_input_is_422_naming_each_field(self, platform: Platform) -> None:
        body = {"name": "", "region_code": "nanhu", "supply_model": "private", "address": "y", "status": "x"}
        response = await platform.client.post("/api/v1/housing/projects", json=body, headers=platform.officer)
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"name", "region_code", "supply_model", "status"}

    async def test_the_same_idempotency_key_returns_the_first_project(self, platform: Platform) -> None:
        body = {"name": "x", "region_code": "330402", "supply_model": "park", "address": "y"}
        headers = {**platform.officer, "Idempotency-Key": "p-1"}
        first = await platform.client.post("/api/v1/housing/projects", json=body, headers=headers)
        second = await platform.client.post("/api/v1/housing/projects", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        other = await platform.client.post("/api/v1/housing/projects", json={**body, "name": "z"}, headers=headers)
        assert other.status_code == 409

    async def test_an_unknown_project_is_404(self, platform: Platform) -> None:
        assert (await platform.client.get("/api/v1/housing/projects/nope")).status_code == 404
        body = {"units": [{"number": "1", "unit_type": "1BR", "area_m2": 40, "monthly_rent_fen": 1}]}
        url = "/api/v1/housing/projects/nope/units"
        response = await platform.client.post(url, json=body, headers=platform.officer)
        assert response.status_code == 404


class TestUnits:
    async def test_unit_numbers_are_unique_within_a_project(self, platform: Platform) -> None:
        project = await platform.project()
        await platform.units(project, ("101", "1BR", 300000))
        body = {"units": [{"number": "101", "unit_type": "1BR", "area_m2": 40, "monthly_rent_fen": 1}]}
        response = await platform.client.post(
            f"/api/v1/housing/projects/{project}/units", json=body, headers=platform.officer
        )
        assert response.status_code == 409 and response.json()["numbers"] == ["101"]

    async def test_bad_units_are_422(self, platform: Platform) -> None:
        project = await platform.project()
        body = {"units": [{"number": "1", "unit_type": "villa", "area_m2": -1, "monthly_rent_fen": "a lot"}]}
        response = await platform.client.post(
            f"/api/v1/housing/projects/{project}/units", json=body, headers=platform.officer
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {
            "units.0.unit_type",
            "units.0.area_m2",
            "units.0.monthly_rent_fen",
        }

    async def test_units_page_by_number_and_filter_by_status(self, platform: Platform) -> None:
        project = await platform.project()
        await platform.units(project, *[(f"{n:03d}", "studio", 100000) for n in range(5)])
        first = (await platform.client.get(f"/api/v1/housing/projects/{project}/units?limit=3")).json()
        second = (
            await platform.client.get(f"/api/v1/housing/projects/{project}/units?limit=3&cursor={first['next_cursor']}")
        ).json()
        assert [u["number"] for u in first["items"] + second["items"]] == ["000", "001", "002", "003", "004"]
        assert second["next_cursor"] is None
        leased = (await platform.client.get(f"/api/v1/housing/projects/{project}/units?status=leased")).json()
        assert leased["items"] == []

    async def test_an_officer_withdraws_a_free_unit_but_not_one_in_a_round(self, platform: Platform) -> None:
        project = await platform.project()
        free, busy = await platform.units(project, ("1", "1BR", 300000), ("2", "1BR", 300000))
        await platform.round([busy])
        withdrawn = await platform.client.patch(
            f"/api/v1/housing/units/{free}", json={"status": "withdrawn"}, headers=platform.officer
        )
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
        refused = await platform.client.patch(
            f"/api/v1/housing/units/{busy}", json={"status": "withdrawn"}, headers=platform.officer
        )
        assert refused.status_code == 409 and "reserved" in refused.json()["detail"]
        assert (await platform.client.get("/api/v1/housing/projects")).json()["items"] == []


class TestRoundCreation:
    async def test_a_unit_in_an_unfinished_round_cannot_join_another_round(self, platform: Platform) -> None:
        project = await platform.project()
        [unit] = await platform.units(project, ("101", "1BR", 300000))
        first = await platform.round([unit])
        body = {"name": "again", "unit_ids": [unit], "closes_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
        response = await platform.client.post("/api/v1/housing/rounds", json=body, headers=platform.officer)
        assert response.status_code == 409
        assert first in response.json()["detail"]

    async def test_bad_round_input_is_422(self, platform: Platform) -> None:
        project = await platform.project()
        [unit] = await platform.units(project, ("101", "1BR", 300000))
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        cases = [
            ({"name": "r", "unit_ids": [unit], "closes_at": past}, "closes_at"),
            ({"name": "r", "unit_ids": [unit, unit], "closes_at": future}, "unit_ids"),
            ({"name": "r", "unit_ids": ["ghost"], "closes_at": future}, "unit_ids"),
            ({"name": "r", "unit_ids": [unit], "closes_at": future, "tier_quotas": {"E": 2}}, "tier_quotas"),
            ({"name": "r", "unit_ids": [unit], "closes_at": future, "tier_quotas": {"F": 1}}, "tier_quotas.F.[key]"),
            ({"name": "r", "unit_ids": [unit], "closes_at": "2026-01-01T00:00:00"}, "closes_at"),
        ]
        for body, field in cases:
            response = await platform.client.post("/api/v1/housing/rounds", json=body, headers=platform.officer)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["errors"][0]["field"] == field, response.json()

    async def test_rounds_are_listed_newest_first(self, platform: Platform) -> None:
        project = await platform.project()
        units = await platform.units(project, ("1", "1BR", 1), ("2", "1BR", 1), ("3", "1BR", 1))
        ids = [await platform.round([u]) for u in units]
        first = (await platform.client.get("/api/v1/housing/rounds?limit=2")).json()
        rest = (await platform.client.get(f"/api/v1/housing/rounds?limit=2&cursor={first['next_cursor']}")).json()
        assert [r["id"] for r in first["items"] + rest["items"]] == list(reversed(ids))
        assert (await platform.client.get("/api/v1/housing/rounds?status=drawn")).json()["items"] == []
