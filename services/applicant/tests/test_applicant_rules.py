"""The applicant's rules are versioned data: the package's JSON is version 1, an admin stores a new version
through the admin API (checked, audited, in force at once), and the decisions after it follow it. Catalogues
(regions, the shortage-occupation list, family relations) stay package data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from applicant.rules import RULES
from servicekit.db import Database
from servicekit.migrations import upgrade
from servicekit.rulebook import RuleVersion
from servicekit.testing import TestDatabases
from sqlmodel import SQLModel

from .conftest import ALEMBIC_INI, Officials, register, submit

RULES_API = "/api/v1/admin/rules/applicant"
DOCTORATE = {"degree": "doctor", "school": "浙江大学", "graduated_on": "2020-06-30"}


def seed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        resources.files("applicant").joinpath(f"data/{name}.json").read_text(encoding="utf-8")
    )
    return document


def points_with(**changes: Any) -> dict[str, Any]:
    document = seed("points")
    document.update(changes)
    return document


def tiers_without(tier: str) -> dict[str, Any]:
    document = seed("tiers")
    del document["tiers"][tier]
    return document


async def put_rules(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, document: dict[str, Any], reason: str
) -> httpx.Response:
    return await client.put(f"{RULES_API}/{name}", json={"document": document, "reason": reason}, headers=headers)


async def points_of(client: httpx.AsyncClient, talent: dict[str, str]) -> int:
    response = await client.get("/api/v1/me/talent", headers=talent)
    assert response.status_code == 200, response.text
    points: int = response.json()["points"]
    return points


@pytest.fixture(autouse=True)
async def seed_rules_in_force_afterwards(applicant_databases: TestDatabases) -> AsyncIterator[None]:
    """The rule book is the process's: what a test put in force must not reach the tests after it."""
    yield
    with applicant_databases.fresh() as url:
        database = Database(url)
        try:
            await RULES.load(database)
        finally:
            await database.dispose()


class TestTheSeed:
    async def test_version_1_of_each_rule_set_is_its_package_file(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        response = await client.get(RULES_API, headers=officials.admin)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [(r["name"], r["version"], r["created_by"]) for r in items] == [
            ("points", 1, "seed"),
            ("privileges", 1, "seed"),
            ("review", 1, "seed"),
            ("tiers", 1, "seed"),
        ]
        names = ("points", "privileges", "review", "tiers")
        assert {r["name"]: r["document"] for r in items} == {n: seed(n) for n in names}

    async def test_catalogues_are_not_rule_sets(self, client: httpx.AsyncClient, officials: Officials) -> None:
        for catalogue in ("regions", "shortage_catalogue", "family"):
            assert (await client.get(f"{RULES_API}/{catalogue}", headers=officials.admin)).status_code == 404


class TestChangingARuleSet:
    async def test_a_new_points_formula_scores_the_next_profile_update(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        # doctor 15 + 12 insured months x 0.5 + an employer in the shortage catalogue 5
        await register(client, talent, education=DOCTORATE)
        assert await points_of(client, talent) == 26

        degree = {"doctor": 30, "master": 10, "bachelor": 5}
        response = await put_rules(
            client, officials.admin, "points", points_with(degree=degree), "doctorates count more"
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 2 and response.json()["created_by"] == "official-admin"

        assert await points_of(client, talent) == 26  # points are computed when the profile changes
        await register(client, talent, education=DOCTORATE)
        assert await points_of(client, talent) == 41

    async def test_every_version_is_kept_with_who_and_why(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        await put_rules(
            client, officials.admin, "points", points_with(shortage_catalogue_bonus=8), "more for shortages"
        )
        await put_rules(client, officials.admin, "points", points_with(shortage_catalogue_bonus=6), "a little less")

        versions = (await client.get(f"{RULES_API}/points/versions", headers=officials.admin)).json()["items"]
        assert [(v["version"], v["created_by"], v["reason"]) for v in versions] == [
            (1, "seed", "default (applicant/data/points.json)"),
            (2, "official-admin", "more for shortages"),
            (3, "official-admin", "a little less"),
        ]
        assert [v["document"]["shortage_catalogue_bonus"] for v in versions] == [5, 8, 6]
        in_force = (await client.get(f"{RULES_API}/points", headers=officials.admin)).json()
        assert in_force["version"] == 3

    async def test_a_tier_needing_two_city_approvals_shows_on_its_certifications(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent, claimed_tier="E")
        assert certification["city_approvals_needed"] == 1

        tiers = seed("tiers")
        tiers["tiers"]["E"]["city_approvals"] = 2
        assert (await put_rules(client, officials.admin, "tiers", tiers, "two approvers for E")).status_code == 200

        mine = (await client.get(f"/api/v1/me/certifications/{certification['id']}", headers=talent)).json()
        assert mine["city_approvals_needed"] == 2

    async def test_a_change_is_in_the_audit_log_as_rules_changed(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        await put_rules(
            client, officials.admin, "points", points_with(shortage_catalogue_bonus=8), "more for shortages"
        )

        log = (await client.get("/api/v1/audit/applicant?action=rules.changed", headers=officials.auditor)).json()
        [entry] = log["items"]
        assert (entry["subject_type"], entry["subject_id"]) == ("rule_set", "points")
        assert entry["actor"] == "official-admin" and entry["reason"] == "more for shortages"
        assert entry["before"]["version"] == 1 and entry["after"]["version"] == 2
        assert entry["after"]["document"]["shortage_catalogue_bonus"] == 8


class TestAnInvalidDocument:
    @pytest.mark.parametrize(
        ("name", "document", "field"),
        [
            ("points", points_with(shortage_catalogue_bonus=-5), "shortage_catalogue_bonus"),
            ("points", points_with(degree={"phd": 20}), "degree.phd.[key]"),
            ("points", points_with(bonus_for_everyone=10), "bonus_for_everyone"),
            ("tiers", tiers_without("C"), "tiers"),
            (
                "privileges",
                {**seed("privileges"), "partner_scenes": {"bank": ["bank", "casino"]}},
                "partner_scenes.bank.1",
            ),
            (
                "privileges",
                {**seed("privileges"), "scenes": {"bank": seed("privileges")["scenes"]["bank"]}},
                "partner_scenes",
            ),
        ],
        ids=["negative-points", "unknown-degree", "unknown-key", "missing-tier", "unknown-scene", "scene-without-rule"],
    )
    async def test_is_a_422_naming_the_field_and_changes_nothing(
        self, client: httpx.AsyncClient, officials: Officials, name: str, document: dict[str, Any], field: str
    ) -> None:
        response = await put_rules(client, officials.admin, name, document, "a mistake")
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]

        in_force = (await client.get(f"{RULES_API}/{name}", headers=officials.admin)).json()
        assert in_force["version"] == 1 and in_force["document"] == seed(name)

    async def test_a_rule_set_that_does_not_exist_is_a_404(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        response = await put_rules(client, officials.admin, "rents", {"percent": 80}, "not ours")
        assert response.status_code == 404


class TestWhoMayReadAndChange:
    async def test_an_auditor_reads_every_version_but_may_not_change_one(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        assert (await client.get(RULES_API, headers=officials.auditor)).status_code == 200
        assert (await client.get(f"{RULES_API}/points/versions", headers=officials.auditor)).status_code == 200
        response = await put_rules(client, officials.auditor, "points", points_with(), "auditors do not act")
        assert response.status_code == 403

    async def test_a_talent_may_neither_read_nor_change_the_rules(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        assert (await client.get(f"{RULES_API}/points", headers=talent)).status_code == 403
        assert (
            await put_rules(client, talent, "points", points_with(degree={"doctor": 99}), "mine")
        ).status_code == 403

    async def test_an_officer_may_not_change_the_rules(self, client: httpx.AsyncClient, officials: Officials) -> None:
        response = await put_rules(client, officials.city, "tiers", seed("tiers"), "city approver")
        assert response.status_code == 403


def test_the_migration_builds_rule_version_as_the_kit_defines_it(tmp_path: Path) -> None:
    """The repository's drift check compares the service's and the kit's own modules' tables; the rule book's
    table is checked here."""
    upgrade(ALEMBIC_INI, f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    table = RuleVersion.__tablename__
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": lambda obj, name, kind, *_: kind != "table" or name == table}
        )
        diff = compare_metadata(context, SQLModel.metadata)
        seeded = connection.execute(sa.text("SELECT name, version FROM rule_version ORDER BY name")).all()
    engine.dispose()
    assert diff == []
    # review: added by a later migration (a12f00000004) than the first three.
    assert seeded == [("points", 1), ("privileges", 1), ("review", 1), ("tiers", 1)]
