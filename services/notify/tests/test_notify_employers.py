"""What a talent hears of employers (用人单位): a confirmation, a dispute or a mismatch of their employment, a
revoked attestation and a recommendation; and that no partner ever receives any of it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from contracts import (
    PARTNER_VISIBLE_TYPES,
    EmploymentAttestationWithdrawn,
    EmploymentAttested,
    RecommendationFiled,
    TalentRegistered,
)
from notify import catalogue

Headers = dict[str, str]
CREDIT_CODE = "91330402MA2B3C4D53"
EMPLOYER_TYPES = (EmploymentAttested.type, EmploymentAttestationWithdrawn.type, RecommendationFiled.type)


async def _inbox(client: httpx.AsyncClient, talent: Headers) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/me/inbox", headers=talent)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _registered(driver: Any, event_of: Any, talent_id: str, locale: str) -> None:
    assert await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale=locale))


class TestAttestations:
    async def test_a_dispute_tells_the_talent_what_it_means_and_what_to_do(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: Headers, talent_id: str
    ) -> None:
        await _registered(driver, event_of, talent_id, "zh-CN")
        dispute = event_of(
            EmploymentAttested,
            talent_id=talent_id,
            employer_credit_code=CREDIT_CODE,
            outcome="disputed",
            attested_facts=[],
            mismatched_facts=[],
            blocking=True,
        )
        assert await driver.inbox(dispute)
        [entry, _] = await _inbox(client, talent)
        assert entry["title"] == "用人单位对您的在职信息提出异议" and entry["category"] == "certification"
        assert CREDIT_CODE in entry["body"] and "信息变更申请" in entry["body"]

    async def test_a_confirmation_with_other_months_names_the_fact_in_the_talents_language(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: Headers, talent_id: str
    ) -> None:
        await _registered(driver, event_of, talent_id, "en")
        mismatch = event_of(
            EmploymentAttested,
            talent_id=talent_id,
            outcome="confirmed",
            attested_facts=["employer"],
            mismatched_facts=["social_insurance_months"],
            blocking=True,
        )
        assert await driver.inbox(mismatch)
        [entry, _] = await _inbox(client, talent)
        assert entry["title"] == "Your employer's records differ from your profile"
        assert "months of social insurance" in entry["body"] and "straight through" in entry["body"]

    async def test_a_plain_confirmation_is_a_short_positive_note(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: Headers, talent_id: str
    ) -> None:
        await _registered(driver, event_of, talent_id, "zh-CN")
        confirmation = event_of(
            EmploymentAttested,
            talent_id=talent_id,
            outcome="confirmed",
            attested_facts=["employer", "social_insurance_months"],
            mismatched_facts=[],
            blocking=False,
        )
        assert await driver.inbox(confirmation)
        [entry, _] = await _inbox(client, talent)
        assert entry["title"] == "用人单位已确认您的在职信息"
        assert "工作单位、社保缴纳月数现标记为“单位核验”" in entry["body"] and "异议" not in entry["body"]

    async def test_a_revocation_is_news_but_the_talents_own_change_of_employer_is_not(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: Headers, talent_id: str
    ) -> None:
        await _registered(driver, event_of, talent_id, "en")
        assert await driver.inbox(
            event_of(EmploymentAttestationWithdrawn, talent_id=talent_id, reason="employer_changed")
        )
        assert [e["title"] for e in await _inbox(client, talent)] == ["Welcome to the Talent Code"]
        assert await driver.inbox(event_of(EmploymentAttestationWithdrawn, talent_id=talent_id, reason="revoked"))
        [entry, _] = await _inbox(client, talent)
        assert entry["title"] == "Your employer withdrew its attestation of your employment"


class TestRecommendations:
    @pytest.mark.parametrize(
        ("locale", "title", "cite"),
        [
            ("en", "Your employer recommended you", "Cite it when you apply for certification on the employer "),
            ("zh-CN", "用人单位为您提交了举荐", "请选择“用人单位举荐”途径并引用此举荐"),
        ],
    )
    async def test_a_recommendation_says_to_cite_it_on_the_employer_recommendation_route(
        self,
        client: httpx.AsyncClient,
        driver: Any,
        event_of: Any,
        talent: Headers,
        talent_id: str,
        locale: str,
        title: str,
        cite: str,
    ) -> None:
        await _registered(driver, event_of, talent_id, locale)
        filed = event_of(RecommendationFiled, talent_id=talent_id, recommendation_id="rec-42", claimed_tier="C")
        assert await driver.inbox(filed)
        [entry, _] = await _inbox(client, talent)
        assert entry["title"] == title and cite in entry["body"] and "rec-42" in entry["body"]


class TestNeverForPartners:
    def test_no_partner_kind_receives_employer_events_by_default(self) -> None:
        for kind, types in PARTNER_VISIBLE_TYPES.items():
            assert not set(EMPLOYER_TYPES) & types, kind

    def test_employer_events_are_on_the_never_list_with_no_payload_allow_list(self) -> None:
        loaded = catalogue.load()
        assert set(EMPLOYER_TYPES) <= loaded.never_for_partners
        assert not set(EMPLOYER_TYPES) & set(loaded.partner_payload_fields)

    @pytest.mark.parametrize("event_type", EMPLOYER_TYPES)
    async def test_an_administrator_cannot_let_a_partner_kind_see_them(
        self, client: httpx.AsyncClient, admin: Headers, event_type: str
    ) -> None:
        url = "/api/v1/admin/partner-kinds/bank/event-types"
        response = await client.put(url, json={"event_types": [event_type], "reason": "pilot"}, headers=admin)
        assert response.status_code == 422, response.text


@pytest.fixture
def admin(test_keys: Any) -> Headers:
    headers: Headers = test_keys.headers("admin-1", ["admin"])
    return headers
