"""Housing's rules are versioned data: version 1 is the package's seed, an administrator changes them through
the audited admin API (a new version, in force at once), an invalid document is refused and changes nothing,
and auditors read every version but change none."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import httpx
import pytest
from servicekit.testing import TestKeys

from .conftest import Platform

RULES_URL = "/api/v1/admin/rules/housing/apartments"
LIST_RENT = 300000  # 3,000.00 CNY a month


def _seed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resources.files("housing").joinpath("data/rules.json").read_text("utf-8"))
    return document


@pytest.fixture
def admin(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("admin-1", ["admin"])


@pytest.fixture
def auditor(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("auditor-1", ["auditor"])


async def _change(client: httpx.AsyncClient, headers: dict[str, str], reason: str, **changes: Any) -> httpx.Response:
    """PUT the rules in force with `changes` applied."""
    current = (await client.get(RULES_URL, headers=headers)).json()["document"]
    return await client.put(RULES_URL, json={"document": {**current, **changes}, "reason": reason}, headers=headers)


async def _versions(client: httpx.AsyncClient, headers: dict[str, str]) -> list[int]:
    response = await client.get(f"{RULES_URL}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return [v["version"] for v in response.json()["items"]]


async def _offer_in_a_new_round(platform: Platform, tier: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A drawn round of one 1BR unit at LIST_RENT with one applicant of `tier`: their open offer and headers."""
    project = await platform.project()
    unit_ids = await platform.units(project, (f"{tier}-1", "1BR", LIST_RENT))
    round_id = await platform.round(unit_ids)
    _, talent = await platform.talent(tier, 60)
    assert (await platform.apply(round_id, talent)).status_code == 201
    await platform.close_and_draw(round_id)
    offer = await platform.open_offer(talent)
    assert offer is not None
    return offer, talent


async def _accept(platform: Platform, offer: dict[str, Any], talent: dict[str, str]) -> dict[str, Any]:
    response = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
    assert response.status_code == 200, response.text
    lease: dict[str, Any] = response.json()
    return lease


class TestVersionOne:
    async def test_version_1_is_the_packages_seed(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        response = await client.get(RULES_URL, headers=admin)
        assert response.status_code == 200, response.text
        current = response.json()
        assert (current["version"], current["created_by"]) == (1, "seed")
        assert current["document"] == _seed()
        assert await _versions(client, admin) == [1]

    async def test_the_public_catalogue_shows_the_rules_in_force(self, client: httpx.AsyncClient) -> None:
        catalogue = (await client.get("/api/v1/housing/catalogue")).json()
        assert catalogue["rent_percent_of_list"] == _seed()["rent_percent_of_list"]
        assert catalogue["tier_order"] == ["A", "B", "C", "D", "E"]


class TestChangingTheRules:
    async def test_a_new_rent_share_prices_the_next_offer_and_lease(
        self, platform: Platform, admin: dict[str, str]
    ) -> None:
        offer, _ = await _offer_in_a_new_round(platform, "B")
        assert offer["monthly_rent_fen"] == 90000  # version 1: tier B pays 30 % of the list rent

        shares = {**_seed()["rent_percent_of_list"], "B": 45}
        response = await _change(platform.client, admin, "2027 rents", rent_percent_of_list=shares)
        assert response.status_code == 200, response.text
        assert (response.json()["version"], response.json()["created_by"]) == (2, "admin-1")

        offer, talent = await _offer_in_a_new_round(platform, "B")
        assert offer["monthly_rent_fen"] == 135000  # version 2: 45 %
        lease = await _accept(platform, offer, talent)
        assert (lease["list_rent_fen"], lease["monthly_rent_fen"]) == (LIST_RENT, 135000)
        assert (await platform.client.get("/api/v1/housing/catalogue")).json()["rent_percent_of_list"]["B"] == 45

    async def test_a_lease_signed_before_a_change_keeps_its_rent(
        self, platform: Platform, admin: dict[str, str]
    ) -> None:
        offer, talent = await _offer_in_a_new_round(platform, "D")
        signed = await _accept(platform, offer, talent)
        assert signed["monthly_rent_fen"] == 210000  # 70 %
        shares = {**_seed()["rent_percent_of_list"], "D": 60}
        assert (await _change(platform.client, admin, "cheaper for D", rent_percent_of_list=shares)).status_code == 200
        assert (await platform.mine(talent))["lease"]["monthly_rent_fen"] == 210000

    async def test_a_new_offer_clock_applies_to_the_next_draw(self, platform: Platform, admin: dict[str, str]) -> None:
        assert (await _change(platform.client, admin, "a shorter clock", offer_valid_hours=48)).status_code == 200
        offer, _ = await _offer_in_a_new_round(platform, "C")
        made_at, expires_at = datetime.fromisoformat(offer["made_at"]), datetime.fromisoformat(offer["expires_at"])
        assert expires_at - made_at == timedelta(hours=48)

    async def test_every_version_is_kept_with_who_made_it_and_why(
        self, client: httpx.AsyncClient, admin: dict[str, str], auditor: dict[str, str]
    ) -> None:
        assert (await _change(client, admin, "longer leases", lease_term_years=4)).status_code == 200
        assert (await _change(client, admin, "back to three years", lease_term_years=3)).status_code == 200
        versions = (await client.get(f"{RULES_URL}/versions", headers=auditor)).json()["items"]
        assert [(v["version"], v["created_by"], v["reason"]) for v in versions][1:] == [
            (2, "admin-1", "longer leases"),
            (3, "admin-1", "back to three years"),
        ]
        assert [v["document"]["lease_term_years"] for v in versions] == [3, 4, 3]

    async def test_the_change_is_in_the_audit_log_as_rules_changed(
        self, client: httpx.AsyncClient, admin: dict[str, str], auditor: dict[str, str]
    ) -> None:
        assert (await _change(client, admin, "fewer declines before the bar", declines_before_bar=3)).status_code == 200
        response = await client.get("/api/v1/audit/housing?action=rules.changed", headers=auditor)
        [entry] = response.json()["items"]
        assert (entry["actor"], entry["subject_type"], entry["subject_id"]) == ("admin-1", "rule_set", "apartments")
        assert entry["reason"] == "fewer declines before the bar"
        assert entry["before"]["version"] == 1 and entry["before"]["document"]["declines_before_bar"] == 2
        assert entry["after"]["version"] == 2 and entry["after"]["document"]["declines_before_bar"] == 3
        assert (await client.get("/api/v1/audit/housing/verify", headers=auditor)).json()["valid"] is True


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in _seed().items() if k != key}


def _with(**changes: Any) -> dict[str, Any]:
    return {**_seed(), **changes}


def _part(key: str, *, drop: str | None = None, **changes: Any) -> dict[str, Any]:
    """The seed with one of its tables changed (`drop` leaves an entry out)."""
    table = {k: v for k, v in {**_seed()[key], **changes}.items() if k != drop}
    return _with(**{key: table})


INVALID = {
    "a rule left out": (_without("lease_term_years"), "lease_term_years"),
    "a tier without its rent": (_part("rent_percent_of_list", drop="E"), "rent_percent_of_list"),
    "a share above 100 %": (_part("rent_percent_of_list", B=130), "rent_percent_of_list.B"),
    "a negative share": (_part("rent_percent_of_list", A=-5), "rent_percent_of_list.A"),
    "an unknown tier": (_part("renewals_allowed", F=2), "renewals_allowed.F.[key]"),
    "a tier without its renewals": (_part("renewals_allowed", drop="A"), "renewals_allowed"),
    "a lease of no years": (_with(lease_term_years=0), "lease_term_years"),
    "an offer clock of no time": (_with(offer_valid_hours=0), "offer_valid_hours"),
    "a negative bar": (_with(bar_days=-30), "bar_days"),
    "no declines before the bar": (_with(declines_before_bar=0), "declines_before_bar"),
    "a unit type nobody fits in": (_part("unit_capacity", studio=0), "unit_capacity.studio"),
    "a unit type left out": (_part("unit_capacity", drop="3BR"), "unit_capacity"),
    "tiers out of order": (_with(tier_order=["E", "D", "C", "B", "A"]), "tier_order"),
    "a tier left out of the order": (_with(tier_order=["A", "B", "C", "D"]), "tier_order"),
    "a number as text": (_with(lease_term_years="3"), "lease_term_years"),
    "a misspelt rule": (_with(lease_term_yaers=4), "lease_term_yaers"),
}


class TestInvalidRules:
    @pytest.mark.parametrize("document, field", INVALID.values(), ids=INVALID.keys())
    async def test_an_invalid_document_is_a_422_naming_the_field_and_changes_nothing(
        self, client: httpx.AsyncClient, admin: dict[str, str], document: dict[str, Any], field: str
    ) -> None:
        before = (await client.get("/api/v1/housing/catalogue")).json()
        response = await client.put(RULES_URL, json={"document": document, "reason": "a mistake"}, headers=admin)
        assert response.status_code == 422, response.text
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
        assert await _versions(client, admin) == [1]
        assert (await client.get("/api/v1/housing/catalogue")).json() == before


class TestWhoMayChangeTheRules:
    async def test_an_auditor_reads_every_version_but_cannot_change_them(
        self, client: httpx.AsyncClient, auditor: dict[str, str]
    ) -> None:
        assert (await client.get("/api/v1/admin/rules/housing", headers=auditor)).json()["items"][0]["name"] == (
            "apartments"
        )
        assert await _versions(client, auditor) == [1]
        refused = await client.put(RULES_URL, json={"document": _seed(), "reason": "just looking"}, headers=auditor)
        assert refused.status_code == 403
        assert await _versions(client, auditor) == [1]

    async def test_a_housing_officer_and_a_talent_cannot_change_them_either(
        self, client: httpx.AsyncClient, officer: dict[str, str], test_keys: TestKeys
    ) -> None:
        talent = test_keys.headers("talent-1", ["talent"])
        for headers in (officer, talent):
            response = await client.put(RULES_URL, json={"document": _seed(), "reason": "cheaper"}, headers=headers)
            assert response.status_code == 403
