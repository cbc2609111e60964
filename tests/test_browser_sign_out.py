"""Signing out in a browser ends the sign-in at the gateway (RFC 7009): the tokens the tab held stop working
at once, not when they expire (issue 15, finding 4)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from servicekit.testing import eventually

from .browser import app_access_token, sign_in_to_the_app, unique_phone


class TestSigningOut:
    async def test_the_talents_tokens_stop_working_when_they_sign_out(
        self, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        headers = {"Authorization": f"Bearer {await app_access_token(app)}"}
        assert (await gateway.get("/api/v1/me/profile", headers=headers)).status_code != 401

        await app.locator("#sign-out").click()
        await expect(app.get_by_label("手机号")).to_be_visible()

        async def refused() -> bool:
            return (await gateway.get("/api/v1/me/profile", headers=headers)).status_code == 401

        await eventually(refused, timeout=60, what="the signed-out token is refused")
