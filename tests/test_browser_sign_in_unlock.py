"""An administrator lifts an employer user's sign-in limits (the password throttling after wrong passwords) from
the console, in a real browser (Debian's Chromium); the gateway audits it (issue 15, finding 3)."""

from __future__ import annotations

import uuid

import httpx
from playwright.async_api import Page, expect

from .browser import official_headers, sign_in_to_the_console
from .helpers import fresh_credit_code

PASSWORD = "hr-initial-password-2026"


class TestAdministratorsLiftSignInLimits:
    async def test_the_unlock_button_lifts_the_limits_and_is_audited(
        self, console: Page, gateway: httpx.AsyncClient
    ) -> None:
        username = f"hr.{uuid.uuid4().hex[:10]}"
        registered = await gateway.post(
            "/api/v1/admin/employers",
            json={
                "credit_code": fresh_credit_code(),
                "name": f"嘉兴解锁测试{uuid.uuid4().hex[:6]}有限公司",
                "region_code": "330402",
                "username": username,
                "password": PASSWORD,
            },
            headers=await official_headers(gateway, "admin"),
        )
        assert registered.status_code == 201, registered.text
        employer = registered.json()
        user_id = employer["users"][0]["id"]
        # Someone tries passwords: the user's sign-ins from this address are throttled.
        for _ in range(5):
            wrong = {"grant_type": "password", "username": username, "password": "not-the-password"}
            assert (await gateway.post("/api/v1/auth/token", data=wrong)).status_code == 400

        await sign_in_to_the_console(console, "admin")
        await console.goto(f"/console/#/employers/{employer['id']}")
        row = console.locator(f'tr[data-user="{user_id}"]')
        await row.get_by_role("button", name="解除登录限制").click()
        await expect(console.get_by_text(f"已解除 {username} 的登录限制。")).to_be_visible()

        right = {"grant_type": "password", "username": username, "password": PASSWORD}
        assert (await gateway.post("/api/v1/auth/token", data=right)).status_code == 200
        audit = await gateway.get(
            "/api/v1/audit/gateway",
            params={"subject_id": user_id, "action": "account.sign_in_unlock"},
            headers=await official_headers(gateway, "auditor.city"),
        )
        assert audit.status_code == 200, audit.text
        assert [entry["action"] for entry in audit.json()["items"]] == ["account.sign_in_unlock"]
