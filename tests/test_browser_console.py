"""The officials' console in a real browser (Debian's Chromium): officers decide claims, and the talent
watches the claim move on in the web app.

The scene (a certified talent with an auto-granted claim) is set up through the public API; everything the
officers and the talent do is done by clicking in the pages.
"""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from .browser import (
    app_access_token,
    auto_granted_claim,
    certify,
    sign_in_to_the_app,
    sign_in_to_the_console,
    sign_out_of_the_console,
    unique_phone,
)


class TestOfficersApproveAClaimInTheConsole:
    async def test_the_talent_sees_each_approval_move_the_claim_on(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        # A certified young talent: benefits granted the living allowance without being asked (免申即享).
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        await certify(gateway, token)
        claim = await auto_granted_claim(gateway, token)
        assert claim["status"] == "accepted"

        # The talent's app shows it accepted (受理), waiting for the county.
        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{claim["id"]}"]')
        await expect(card.get_by_test_id("claim-status")).to_have_text("已受理")
        await expect(card.locator('[aria-current="step"]')).to_have_text("受理")

        # The county reviewer finds it in the region's queue, opens the case and approves with a reason.
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.get_by_role("link", name="政策申领审核").click()
        await console.locator(f'tr[data-claim="{claim["id"]}"]').get_by_role("button", name="打开").click()
        await expect(console.get_by_test_id("claim-status")).to_have_text("已受理")
        await console.get_by_label("理由").fill("毕业证书与社保缴纳记录核验无误")
        await console.get_by_role("button", name="提交决定").click()
        await expect(console.get_by_test_id("claim-status")).to_have_text("初审通过")
        await expect(console.get_by_role("heading", name="办理记录")).to_be_visible()

        await app.reload()
        await expect(card.get_by_test_id("claim-status")).to_have_text("初审通过")
        await expect(card.locator('[aria-current="step"]')).to_have_text("初审")

        # A city approver (another person: one officer never decides two stages) approves: 公示 starts.
        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "approver.city")
        await console.goto(f"/console/#/claims/{claim['id']}")
        await console.get_by_label("理由").fill("复审通过")
        await console.get_by_role("button", name="提交决定").click()
        await expect(console.get_by_test_id("claim-status")).to_have_text("公示中")

        await app.reload()
        await expect(card.get_by_test_id("claim-status")).to_have_text("公示中")
        await expect(card.locator('[aria-current="step"]')).to_have_text("公示")
        await expect(card.locator("li.done")).to_have_count(3)

    async def test_a_decision_needs_a_reason(self, console: Page, app: Page, gateway: httpx.AsyncClient) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        await certify(gateway, token)
        claim = await auto_granted_claim(gateway, token)

        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.goto(f"/console/#/claims/{claim['id']}")
        await console.get_by_role("button", name="提交决定").click()

        reason = console.get_by_label("理由")
        assert await reason.evaluate("el => !el.validity.valid")
        await expect(console.get_by_test_id("claim-status")).to_have_text("已受理")


class TestSignIn:
    async def test_a_wrong_password_is_said_plainly(self, console: Page) -> None:
        await console.goto("/console/")
        await console.get_by_label("用户名").fill("nobody.here")
        await console.get_by_label("密码").fill("not-the-password")
        await console.get_by_role("button", name="登录").click()
        await expect(console.get_by_role("alert")).to_have_text("用户名或密码错误。")

    async def test_each_role_sees_only_its_pages(self, console: Page) -> None:
        await sign_in_to_the_console(console, "housing.city")
        nav = console.get_by_role("navigation", name="主导航")
        await expect(nav.get_by_role("link")).to_have_text(["人才公寓", "我的消息"])

        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "finance.city")
        await expect(nav.get_by_role("link")).to_have_text(["政策申领审核", "资金拨付", "公示", "成本结算", "我的消息"])

        # A leader reads the city's statistics and nothing else (no cases, no inbox).
        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "leader.city")
        await expect(nav.get_by_role("link")).to_have_text(["统计"])

        # An administrator keeps the employers, the partner cities (互认城市) and cost settlement (成本结算).
        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "admin")
        await expect(nav.get_by_role("link")).to_have_text(
            ["公示", "用人单位", "互认城市", "统计", "成本结算", "我的消息"]
        )
