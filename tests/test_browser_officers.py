"""Named officers (首问负责制), the officials' inbox and the readable 公示 list in a real browser: the talent sees
who answers for their certification and claim (name and office phone), the console shows the owner on the
case page and lets a city approver hand the case to another official, every official has an inbox page, and
the public list shows the masked name and the employer.

The scene (a certified talent with a claim) is set up through the public API; what the officials and the
talent see and do is done in the pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from benefits.flow import PUBLICITY_TIMER
from playwright.async_api import Page, expect

from .browser import (
    app_access_token,
    auto_granted_claim,
    certify,
    official_headers,
    sign_in_to_the_app,
    sign_in_to_the_console,
    sign_out_of_the_console,
    unique_phone,
)
from .helpers import set_timer_due, talent
from .stack import Stack


class TestNamedOfficer:
    async def test_the_talent_sees_the_officer_and_a_city_approver_reassigns_the_claim(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        await certify(gateway, token)  # decided first by reviewer.nanhu: the certification's officer
        claim = await auto_granted_claim(gateway, token)

        await app.goto("/app/#/me")
        certification = app.locator("[data-certification]").first
        await expect(certification.get_by_test_id("officer")).to_contain_text("南湖区人才办 王老师")
        await expect(certification.get_by_test_id("officer")).to_contain_text("0573-82000001")

        # The county reviewer opens the claim first and owns it.
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.goto(f"/console/#/claims/{claim['id']}")
        await expect(console.get_by_test_id("case-officer")).to_have_text("南湖区人才办 王老师 · 0573-82000001")
        await expect(console.get_by_test_id("reassign-form")).to_have_count(0)  # only city approvers reassign

        await app.goto("/app/#/benefits")
        card = app.locator(f'[data-claim="{claim["id"]}"]')
        await expect(card.get_by_test_id("officer")).to_contain_text("南湖区人才办 王老师")

        # A city approver hands it to another official; the talent sees the new one.
        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "approver.city")
        await console.goto(f"/console/#/claims/{claim['id']}")
        await expect(console.get_by_test_id("case-officer")).to_contain_text("王老师")  # opening does not take it
        form = console.get_by_test_id("reassign-form")
        await form.get_by_label("经办人账号 ID").fill("official-zhao")
        await form.get_by_label("对外显示姓名").fill("南湖区人才办 赵老师")
        await form.get_by_label("办公电话").fill("0573-82000009")
        await form.get_by_role("button", name="改派").click()
        await expect(console.get_by_test_id("case-officer")).to_have_text("南湖区人才办 赵老师 · 0573-82000009")

        await app.reload()
        await expect(card.get_by_test_id("officer")).to_contain_text("南湖区人才办 赵老师")

        # Every official has an inbox page of their own.
        await console.get_by_role("link", name="我的消息").click()
        await expect(console.get_by_role("heading", name="我的消息")).to_be_visible()


async def _claim_on_notice(gateway: httpx.AsyncClient) -> dict[str, Any]:
    """A new talent's 免申即享 claim, approved by the county and the city unless it went straight through."""
    token = (await talent(gateway))["Authorization"].removeprefix("Bearer ")
    await certify(gateway, token)
    claim = await auto_granted_claim(gateway, token)
    if claim["status"] != "publicized":  # held for review: the county and the city approve it
        for official in ("reviewer.nanhu", "approver.city"):
            decided = await gateway.post(
                f"/api/v1/reviews/claims/{claim['id']}/decisions",
                json={"decision": "approve", "reason": "材料核验无误"},
                headers=await official_headers(gateway, official),
            )
            assert decided.status_code == 200, decided.text
    return claim


class TestPublicity:
    async def test_the_public_list_shows_the_masked_name_and_the_employer(
        self, console: Page, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        # The stack's 公示 lasts 2 s (so payment tests need not wait days): this claim's notice is held open for the
        # page by moving its end an hour ahead the moment it starts. A claim whose notice ended first (a loaded
        # machine, or a straight-through grant before we got here) is replaced by another talent's.
        claim: dict[str, Any] | None = None
        for _ in range(3):
            claim = await _claim_on_notice(gateway)
            held = await set_timer_due(
                stack.env["benefits"]["BENEFITS_DATABASE_URL"],
                PUBLICITY_TIMER,
                claim["id"],
                datetime.now(UTC) + timedelta(hours=1),
            )
            if held:
                break
        else:
            raise AssertionError("three claims in a row left 公示 before their notice could be held open")
        assert claim is not None

        await sign_in_to_the_console(console, "auditor.city")
        await console.get_by_role("link", name="公示").click()
        row = console.locator(f'tr[data-claim="{claim["id"]}"]')
        await expect(row.get_by_test_id("name-masked")).to_have_text("王*")
        await expect(row).to_contain_text("嘉兴某科技有限公司")
        await expect(row).not_to_contain_text("王五")
