"""Administrators register employers (用人单位) in the console, in a real browser (Debian's Chromium): an employer
with its first user, another user, and disabling it; a refusal shows the gateway's problem in the form.
The employer's user then finds the console's door shut."""

from __future__ import annotations

import uuid

import httpx
from playwright.async_api import Page, expect

from .browser import official_headers, sign_in_to_the_console, sign_out_of_the_console
from .helpers import fresh_credit_code

PASSWORD = "hr-initial-password-2026"


async def open_register_form(console: Page) -> None:
    await sign_in_to_the_console(console, "admin")
    nav = console.get_by_role("navigation", name="主导航")
    await expect(nav.get_by_role("link", name="用人单位")).to_be_visible()
    await nav.get_by_role("link", name="用人单位").click()
    await expect(console.get_by_role("heading", name="登记用人单位")).to_be_visible()


async def fill_register_form(console: Page, credit_code: str, name: str, username: str) -> None:
    await console.get_by_label("统一社会信用代码").fill(credit_code)
    await console.get_by_label("单位名称").fill(name)
    await console.get_by_label("所在地区").fill("330402")
    await console.get_by_label("用户名").fill(username)
    await console.get_by_label("初始密码").fill(PASSWORD)
    await console.get_by_role("button", name="登记", exact=True).click()


class TestAdministratorsRegisterEmployers:
    async def test_register_add_a_user_and_disable(self, console: Page, gateway: httpx.AsyncClient) -> None:
        code, name = fresh_credit_code(), f"嘉兴浏览器测试{uuid.uuid4().hex[:6]}有限公司"
        first, second = f"hr.{uuid.uuid4().hex[:10]}", f"hr.{uuid.uuid4().hex[:10]}"

        # Registered with its first user: the console opens the employer's page.
        await open_register_form(console)
        await fill_register_form(console, code, name, first)
        await expect(console.get_by_role("heading", name=name)).to_be_visible()
        await expect(console.get_by_test_id("employer-credit-code")).to_have_text(code)
        await expect(console.get_by_test_id("employer-status")).to_have_text("正常")
        await expect(console.locator("tr[data-user]")).to_have_count(1)
        await expect(console.locator("tr[data-user]")).to_contain_text(first)
        await expect(console.locator("tr[data-user]")).to_contain_text("从未登录")

        # The first user signs in (through the API: the admin's console session stays).
        signed_in = await gateway.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": first, "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text

        # A second user.
        await console.get_by_label("用户名").fill(second)
        await console.get_by_label("初始密码").fill(PASSWORD)
        await console.get_by_role("button", name="添加账号").click()
        await expect(console.locator("tr[data-user]")).to_have_count(2)
        await expect(console.locator("tr[data-user]").nth(1)).to_contain_text(second)
        await expect(console.locator("tr[data-user]").nth(0)).not_to_contain_text("从未登录")  # signed in since

        # Disabling takes a reason and two clicks.
        await console.get_by_label("停用原因").fill("单位注销")
        await console.get_by_role("button", name="停用", exact=True).click()
        await console.get_by_role("button", name="再次点击以停用").click()
        await expect(console.get_by_test_id("employer-status")).to_have_text("已停用")
        await expect(console.get_by_role("button", name="添加账号")).to_have_count(0)

        # The list shows it disabled.
        await console.get_by_role("link", name="← 全部用人单位").click()
        row = console.locator("tr[data-employer]").filter(has_text=code)
        await expect(row.get_by_test_id("employer-status")).to_have_text("已停用")

        # Its users can no longer sign in: the console says what it says of a wrong password.
        await sign_out_of_the_console(console)
        await console.get_by_label("用户名").fill(second)
        await console.get_by_label("密码").fill(PASSWORD)
        await console.get_by_role("button", name="登录").click()
        await expect(console.get_by_role("alert")).to_have_text("用户名或密码错误。")

    async def test_a_refused_registration_shows_the_problem_in_the_form(self, console: Page) -> None:
        code = fresh_credit_code()
        wrong = code[:17] + ("0" if code[17] != "0" else "1")  # the check character no longer matches

        await open_register_form(console)
        await fill_register_form(console, wrong, "嘉兴校验码有限公司", f"hr.{uuid.uuid4().hex[:10]}")
        problem = console.get_by_test_id("employer-problem")
        await expect(problem).to_contain_text("credit_code")
        await expect(problem).to_contain_text("check character")

        # A code that is already registered (the dev employer's) is a conflict, said in the form.
        await console.get_by_label("统一社会信用代码").fill("91330402MA2B3C4D53")
        await console.get_by_label("初始密码").fill(PASSWORD)
        await console.get_by_role("button", name="登记", exact=True).click()
        await expect(problem).to_contain_text("已注册")  # the console asks in Chinese
        await expect(console.get_by_role("heading", name="登记用人单位")).to_be_visible()

    async def test_only_administrators_see_the_page(self, console: Page) -> None:
        await sign_in_to_the_console(console, "auditor.city")
        nav = console.get_by_role("navigation", name="主导航")
        await expect(nav.get_by_role("link")).to_have_text(["资金拨付", "公示", "审计日志", "统计", "我的消息"])


class TestAuditorsSeeTheRegistrations:
    async def test_the_gateways_audit_log_is_a_tab_of_the_audit_page(
        self, console: Page, gateway: httpx.AsyncClient
    ) -> None:
        created = await gateway.post(
            "/api/v1/admin/employers",
            json={
                "credit_code": fresh_credit_code(),
                "name": "嘉兴审计测试有限公司",
                "region_code": "330402",
                "username": f"hr.{uuid.uuid4().hex[:10]}",
                "password": PASSWORD,
            },
            headers=await official_headers(gateway, "admin"),
        )
        assert created.status_code == 201, created.text

        await sign_in_to_the_console(console, "auditor.city")
        await console.get_by_role("link", name="审计日志").click()
        await console.get_by_label("服务").select_option(label="账号与用人单位")
        await expect(console.get_by_role("cell", name=created.json()["id"], exact=True)).to_be_visible()
