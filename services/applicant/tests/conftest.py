"""Applicant test fixtures: the kit's testbed (a fresh migrated database per test, the app on the test broker,
a client) and the officials and helpers the scenarios use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from applicant.config import ApplicantSettings
from applicant.identity import resident_check_char
from applicant.main import build_app
from servicekit.testing import TestKeys
from servicekit.testing_fixtures import ServiceTestbed, talent_fixtures

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
TESTBED = ServiceTestbed("applicant", ApplicantSettings, build_app, ALEMBIC_INI)
applicant_databases, applicant_settings, applicant_app, client, settings_overrides = TESTBED.fixtures()
talent_id, talent = talent_fixtures()  # talent: headers of a freshly signed-in talent


def verified_talent(keys: TestKeys, talent_id: str, phone: str) -> dict[str, str]:
    """Headers of a talent who signed in with `phone`: the gateway's token vouches for it (OpenID claims)."""
    return keys.headers(talent_id, ["talent"], phone_number=phone, phone_number_verified=True)


def resident_id(birth: str = "19950307", region: str = "330402", sequence: str = "123") -> str:
    """A valid 居民身份证 number for the given birth date (YYYYMMDD)."""
    first17 = f"{region}{birth}{sequence}"
    return first17 + resident_check_char(first17)


def profile_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "张三",
        "id_type": "resident_id",
        "id_number": resident_id(),
        "birth_date": "1995-03-07",
        "email": "zhang.san@example.org",
        "locale": "zh-CN",
        "region_code": "330402",
        "education": {"degree": "master", "school": "浙江大学", "graduated_on": "2024-06-30"},
        "title": None,
        "employer": {"name": "嘉兴某科技有限公司", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
        "social_insurance_months": 12,
        "owns_home_in_city": False,
    }
    body.update(overrides)
    return body


SHA = "a" * 64
EVIDENCE = [{"kind": "diploma", "reference": "files/diploma.pdf", "sha256": SHA}]


def certification_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"route": "degree", "claimed_tier": "E", "evidence": EVIDENCE}
    body.update(overrides)
    return body


class Officials:
    """Headers of the officials the certification tests need (subjects as the gateway would sign them)."""

    def __init__(self, keys: TestKeys) -> None:
        self.keys = keys
        self.nanhu = keys.headers("official-reviewer-nanhu", ["county_reviewer"], region="330402")
        self.xiuzhou = keys.headers("official-reviewer-xiuzhou", ["county_reviewer"], region="330411")
        self.city = keys.headers("official-approver-city", ["city_approver"])
        self.city2 = keys.headers("official-approver-city2", ["city_approver"])
        self.admin = keys.headers("official-admin", ["admin"])
        self.auditor = keys.headers("official-auditor", ["auditor"])

    def partner(self, kind: str) -> dict[str, str]:
        return self.keys.headers(f"partner-{kind}", ["partner"], partner_kind=kind)


async def register(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.put("/api/v1/me/profile", json=profile_body(**overrides), headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def submit(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/me/certifications", json=certification_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def decide(
    client: httpx.AsyncClient, certification_id: str, headers: dict[str, str], decision: str = "approve", **extra: Any
) -> httpx.Response:
    body = {"decision": decision, "reason": extra.pop("reason", "checked the evidence"), **extra}
    return await client.post(f"/api/v1/reviews/certifications/{certification_id}/decisions", json=body, headers=headers)


async def certify(
    client: httpx.AsyncClient, headers: dict[str, str], officials: Officials, *, tier: str = "E", **profile: Any
) -> dict[str, Any]:
    """Register, submit and approve at both stages: a certified talent (one city approval, so not tier A)."""
    await register(client, headers, **profile)
    certification = await submit(client, headers, claimed_tier=tier)
    assert (await decide(client, certification["id"], officials.nanhu)).status_code == 200
    response = await decide(client, certification["id"], officials.city)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "certified"
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def officials(test_keys: TestKeys) -> Officials:
    return Officials(test_keys)
