"""Straight-through 免申即享 and the reasons for manual review, as officials and talents read them in a real browser
(Debian's Chromium): a claim approved with no reviewer carries the straight-through badge in the console and a
calm sentence in the app; a claim drawn for the sampled review carries the 抽检 badge in the queue; a claim whose
employment the employer disputed waits in the queue with that reason in words, the case page shows the blocker
and the employer's answer, and the app tells the talent why a person looks at it.

The scene is set through the public API with the cross-service straight-through test's helpers: the test's own
auto-granted policy for 秀洲 (330411) with straight-through rules and a sampling share of 0 or 1, and a talent of
秀洲 attested by employer.demo; the browser pages are only read.
"""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from . import test_e2e_straight_through as e2e
from .browser import app_access_token, sign_in_to_the_app, sign_in_to_the_console, unique_phone
from .helpers import Headers

new_policy = e2e.new_policy  # the fixture: policies made for the test, deactivated when it ends
REVIEWER = "reviewer.xiuzhou"  # 秀洲's county reviewer


async def signed_in_talent(app: Page) -> Headers:
    """A new talent signed in to the app (as a person does it); the scene is then set up as this talent."""
    await sign_in_to_the_app(app, unique_phone())
    return {"Authorization": f"Bearer {await app_access_token(app)}"}


class TestStraightThroughInTheConsoleAndTheApp:
    async def test_a_claim_approved_with_no_reviewer_says_so_in_the_console_and_the_app(
        self, console: Page, app: Page, gateway: httpx.AsyncClient, new_policy: e2e.PolicyMaker
    ) -> None:
        code = await new_policy(e2e.straight_through(sample_share=0.0))
        auth = await signed_in_talent(app)
        await e2e._talent(gateway, attestation="confirmed", auth=auth)
        [claim] = await e2e._claims_of(gateway, auth, code)
        claim = await e2e._until(gateway, auth, claim["id"], lambda c: c["status"] == "publicized")
        assert claim["straight_through"] is True, claim

        await sign_in_to_the_console(console, REVIEWER)
        await console.goto(f"/console/#/claims/{claim['id']}")
        await expect(console.get_by_test_id("claim-status")).to_have_text("公示中")
        await expect(console.get_by_test_id("straight-through")).to_have_text("免申即享·免审直通")
        await expect(console.get_by_test_id("sampled")).to_have_count(0)
        await expect(console.get_by_test_id("review-reasons")).to_have_count(0)
        await expect(console.get_by_test_id("employment-attestation")).to_have_text("确认在职")
        await expect(console.get_by_text("秒批（免审直通）")).to_be_visible()

        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{claim["id"]}"]')
        await expect(card.get_by_test_id("straight-through")).to_contain_text("无需等待人工审核")
        await expect(card.get_by_test_id("review-reasons")).to_have_count(0)

    async def test_a_sampled_claim_carries_the_sampled_badge_and_reason_in_the_queue(
        self, console: Page, app: Page, gateway: httpx.AsyncClient, new_policy: e2e.PolicyMaker
    ) -> None:
        code = await new_policy(e2e.straight_through(sample_share=1.0))
        auth = await signed_in_talent(app)
        await e2e._talent(gateway, attestation="confirmed", auth=auth)
        [claim] = await e2e._claims_of(gateway, auth, code)
        assert claim["sampled"] is True and claim["status"] == "accepted", claim

        await sign_in_to_the_console(console, REVIEWER)
        await console.get_by_role("link", name="政策申领审核").click()
        row = console.locator(f'tr[data-claim="{claim["id"]}"]')
        await expect(row.get_by_test_id("sampled")).to_have_text("抽检")
        await expect(row.get_by_test_id("straight-through")).to_have_count(0)
        await expect(row.locator('li[data-reason="sampled"]')).to_have_text("随机抽检")

        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{claim["id"]}"]')
        await expect(card.get_by_test_id("review-reasons")).to_contain_text("这是正常流程")
        await expect(card.locator('li[data-reason="sampled"]')).to_contain_text("随机抽中")

    async def test_a_disputed_employment_shows_its_reason_blocker_and_the_employers_answer(
        self, console: Page, app: Page, gateway: httpx.AsyncClient, new_policy: e2e.PolicyMaker
    ) -> None:
        code = await new_policy(e2e.straight_through(sample_share=0.0))
        auth = await signed_in_talent(app)
        await e2e._talent(gateway, attestation="disputed", auth=auth)
        [claim] = await e2e._claims_of(gateway, auth, code)
        assert "employment_disputed" in claim["manual_review_reasons"], claim

        await sign_in_to_the_console(console, REVIEWER)
        await console.get_by_role("link", name="政策申领审核").click()
        row = console.locator(f'tr[data-claim="{claim["id"]}"]')
        await expect(row.locator('li[data-reason="employment_disputed"]')).to_have_text("用人单位对在职情况有异议")
        await expect(row.get_by_test_id("straight-through")).to_have_count(0)

        await row.get_by_role("button", name="打开").click()
        await expect(console.get_by_test_id("claim-status")).to_have_text("已受理")  # the case page, not the queue
        reasons = console.get_by_test_id("review-reasons")
        await expect(reasons.locator('li[data-reason="employment_disputed"]')).to_be_visible()
        blockers = console.get_by_test_id("blockers")
        await expect(blockers.locator('li[data-reason="employment_disputed"]')).to_have_text("用人单位对在职情况有异议")
        await expect(console.get_by_test_id("employment-attestation")).to_have_text("不认可")

        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{claim["id"]}"]')
        await expect(card.locator('li[data-reason="employment_disputed"]')).to_contain_text("工作人员会与单位核实")
        await expect(card.get_by_test_id("straight-through")).to_have_count(0)
