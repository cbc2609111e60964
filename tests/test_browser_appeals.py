"""Batch decisions and appeals (复议) in a real browser (Debian's Chromium): a county reviewer decides several
claims of the queue at once and sees each claim's outcome; a talent appeals a rejection in the app and a city
approver who had no part in it overturns it in the console's appeals view.

The scene (a certified talent with claims) is set up through the public API; what the officers and the talent
decide is done by clicking in the pages.
"""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from .browser import (
    app_access_token,
    auto_granted_claim,
    certify,
    official_headers,
    sign_in_to_the_app,
    sign_in_to_the_console,
    unique_phone,
)


class TestBatchDecisionsInTheConsole:
    async def test_a_reviewer_decides_picked_claims_at_once_and_sees_each_outcome(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        talent = {"Authorization": f"Bearer {token}"}
        await certify(gateway, token)
        allowance = await auto_granted_claim(gateway, token)
        rent = await gateway.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)
        assert rent.status_code == 201 and rent.json()["status"] == "accepted", rent.text
        rent_id = rent.json()["id"]

        # The county reviewer picks both claims in the queue.
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.get_by_role("link", name="政策申领审核").click()
        for claim_id in (allowance["id"], rent_id):
            await console.locator(f'tr[data-claim="{claim_id}"]').get_by_role("checkbox").check()
        # Meanwhile the talent withdraws the rent subsidy: that claim can no longer be decided.
        withdrawn = await gateway.post(f"/api/v1/me/claims/{rent_id}/withdraw", headers=talent)
        assert withdrawn.status_code == 200, withdrawn.text

        batch = console.get_by_test_id("batch-form")
        await batch.get_by_label("通过", exact=True).check()
        await batch.get_by_label("理由").fill("毕业证书与社保缴纳记录核验无误")
        await batch.get_by_role("button", name="批量办理").click()

        outcomes = console.get_by_test_id("batch-outcomes")
        decided = outcomes.locator(f'li[data-claim="{allowance["id"]}"]')
        await expect(decided).to_have_attribute("data-outcome", "decided")
        await expect(decided).to_contain_text("初审通过")
        await expect(outcomes.locator(f'li[data-claim="{rent_id}"]')).to_have_attribute("data-outcome", "refused")
        await expect(console.locator(f'tr[data-claim="{allowance["id"]}"]')).to_have_count(0)  # left the queue

        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{allowance["id"]}"]')
        await expect(card.get_by_test_id("claim-status")).to_have_text("初审通过")


class TestAppealInTheAppAndTheConsole:
    async def test_a_talent_appeals_a_rejection_and_another_approver_overturns_it(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        await certify(gateway, token)
        claim = await auto_granted_claim(gateway, token)
        rejected = await gateway.post(
            f"/api/v1/reviews/claims/{claim['id']}/decisions",
            json={"decision": "reject", "reason": "社保缴纳月数不足"},
            headers=await official_headers(gateway, "reviewer.nanhu"),
        )
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text

        # The talent sees the rejection and appeals it with a reason.
        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{claim["id"]}"]')
        await expect(card.get_by_test_id("claim-status")).to_have_text("未通过")
        await card.get_by_label("您对未通过决定的异议理由").fill("社保已连续缴纳6个月，见社保缴费证明")
        await card.get_by_role("button", name="申请复议").click()
        await expect(card.get_by_test_id("claim-status")).to_have_text("复议中")
        await expect(card.get_by_test_id("status-meaning")).to_contain_text("10个工作日")
        await expect(card.get_by_test_id("appeal-form")).to_have_count(0)

        # A city approver finds it in the appeals view and overturns the rejection: 公示 starts.
        await sign_in_to_the_console(console, "approver.city")
        await console.get_by_role("link", name="复议", exact=True).click()
        await console.locator(f'tr[data-claim="{claim["id"]}"]').get_by_role("button", name="打开").click()
        await expect(console.get_by_test_id("claim-status")).to_have_text("复议中")
        await console.get_by_label("撤销原决定（通过）").check()
        await console.get_by_label("理由").fill("社保缴费证明核验无误，撤销原决定")
        await console.get_by_role("button", name="提交决定").click()
        await expect(console.get_by_test_id("claim-status")).to_have_text("公示中")
        await expect(console.get_by_text("复议：撤销原决定")).to_be_visible()

        await app.reload()
        await expect(card.get_by_test_id("claim-status")).to_have_text("公示中")
