"""What a talent is told when the bank refuses a claim's payment (a later batch pays it), when their amended
claim is submitted again and when an employer withdraws its recommendation, in their own language."""

from __future__ import annotations

from typing import Any

import httpx
from contracts import ClaimPaymentFailed, ClaimSubmitted, TalentRegistered
from contracts.events import RecommendationWithdrawn


class TestRefusedPayment:
    async def test_the_talent_hears_in_chinese_that_the_bank_refused_and_a_later_batch_pays(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="zh-CN"))
        refused = event_of(ClaimPaymentFailed, talent_id=talent_id, policy_code="RENT_SUBSIDY", amount_fen=123456)
        assert await driver.inbox(refused)
        [entry, _] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert entry["category"] == "benefits"
        assert entry["title"] == "租房补贴 ¥1,234.56 银行支付未成功"
        assert "后续批次中重新拨付" in entry["body"]

    async def test_the_talent_hears_in_english_too(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="en"))
        await driver.inbox(event_of(ClaimPaymentFailed, talent_id=talent_id, policy_code="RENT_SUBSIDY"))
        [entry, _] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert entry["title"].startswith("Rent subsidy: the bank could not pay")
        assert "a later payment batch will pay it" in entry["body"]


class TestResubmission:
    async def test_a_resubmitted_claim_says_so_rather_than_filed(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="en"))
        filed = {"talent_id": talent_id, "policy_code": "RENT_SUBSIDY", "status": "submitted", "auto": False}
        await driver.inbox(event_of(ClaimSubmitted, **filed, resubmitted=False))
        await driver.inbox(event_of(ClaimSubmitted, **filed, resubmitted=True))
        [again, first, _] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert first["title"] == "Claim filed: rent subsidy"
        assert again["title"] == "Claim resubmitted: rent subsidy" and "amended claim" in again["body"]


class TestWithdrawnRecommendation:
    async def test_the_talent_hears_that_the_employer_withdrew_its_recommendation(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="zh-CN"))
        await driver.inbox(event_of(RecommendationWithdrawn, talent_id=talent_id, employer_credit_code="91330100X"))
        [entry, _] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert entry["category"] == "certification" and entry["title"] == "用人单位撤回了对您的举荐"
        assert "91330100X" in entry["body"] and "不能再被引用" in entry["body"]
