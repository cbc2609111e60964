"""The talent web app in a real browser (Debian's Chromium): a housing round from application to lease,
the language switch, and the pages' security headers.

The scene (a certified talent, a project with a unit, an open round) is set up through the public API;
the talent applies and accepts in the app, the housing officer closes and draws in the console.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page, expect
from servicekit.testing import eventually

from .browser import (
    app_access_token,
    certify,
    official_headers,
    sign_in_to_the_app,
    sign_in_to_the_console,
    unique_phone,
)


async def open_round_with_one_unit(gateway: httpx.AsyncClient) -> dict[str, str]:
    officer = await official_headers(gateway, "housing.city")
    suffix = uuid.uuid4().hex[:6]
    project = await gateway.post(
        "/api/v1/housing/projects",
        json={
            "name": f"南湖人才公寓 {suffix}",
            "region_code": "330402",
            "supply_model": "government",
            "address": "南湖区示例路 1 号",
        },
        headers=officer,
    )
    assert project.status_code == 201, project.text
    units = await gateway.post(
        f"/api/v1/housing/projects/{project.json()['id']}/units",
        json={"units": [{"number": f"A-{suffix}", "unit_type": "1BR", "area_m2": 45, "monthly_rent_fen": 180_000}]},
        headers=officer,
    )
    assert units.status_code == 201, units.text
    closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    round_ = await gateway.post(
        "/api/v1/housing/rounds",
        json={"name": f"第 {suffix} 批", "unit_ids": [u["id"] for u in units.json()["items"]], "closes_at": closes_at},
        headers=officer,
    )
    assert round_.status_code == 201, round_.text
    return {"id": round_.json()["id"], "unit": f"A-{suffix}"}


async def apply_in_the_app(app: Page, round_id: str) -> None:
    """Tap apply. Housing learns of the certification through an event; until it has, the service answers
    that the talent is not eligible, and the talent (like this helper, a bounded number of times) tries again."""
    card = app.locator(f'[data-round="{round_id}"]')
    applied = card.locator(".note.ok")

    async def tap_apply() -> bool:
        await app.goto("/app/#/housing")
        await card.get_by_role("button", name="提交申请").click()
        await expect(applied.or_(app.get_by_role("alert"))).to_be_visible()
        return await applied.is_visible()

    await eventually(tap_apply, timeout=20, interval=0.5)


class TestAHousingRoundFromApplicationToLease:
    async def test_the_officer_draws_and_the_talent_accepts_the_offer(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        await certify(gateway, await app_access_token(app))
        round_ = await open_round_with_one_unit(gateway)

        # The talent applies to the open round.
        await apply_in_the_app(app, round_["id"])
        await expect(app.locator(f'[data-round="{round_["id"]}"]')).to_contain_text("已申请")

        # The housing officer closes applications (the seed commitment is published), then draws.
        await sign_in_to_the_console(console, "housing.city")
        await console.goto(f"/console/#/housing/rounds/{round_['id']}")
        await expect(console.get_by_test_id("round-status")).to_have_text("申请中")
        await console.get_by_role("button", name="截止申请并公布承诺值").click()
        await expect(console.get_by_test_id("round-status")).to_have_text("已截止")
        await expect(console.get_by_test_id("commitment")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        await console.get_by_role("button", name="摇号").click()
        await expect(console.get_by_test_id("round-status")).to_have_text("已摇号")
        # The browser recomputes sha256(seed) itself and finds the commitment published at closing.
        await expect(console.get_by_test_id("seed-check")).to_contain_text("✓")
        await expect(console.get_by_role("table")).to_contain_text("是")  # the one applicant is selected

        # The talent has an offer with a deadline (made right after the draw), accepts it, and the lease appears.
        offer = app.locator("[data-offer]")

        async def offer_shown() -> bool:
            await app.reload()
            await expect(app.get_by_role("heading", name="人才公寓")).to_be_visible()
            return await offer.is_visible()

        await eventually(offer_shown, timeout=20, interval=0.5)
        await expect(offer).to_contain_text(round_["unit"])
        await expect(offer).to_contain_text("请于")
        await offer.get_by_role("button", name="接受").click()
        lease = app.get_by_test_id("lease")
        await expect(lease).to_contain_text("生效中")
        await expect(app.locator("[data-offer]")).to_have_count(0)


class TestLanguageAndSecurity:
    async def test_the_language_choice_is_kept(self, app: Page) -> None:
        await app.goto("/app/")
        await expect(app.get_by_role("heading", name="登录人才码")).to_be_visible()
        await app.get_by_label("语言").select_option("en")
        await expect(app.get_by_role("heading", name="Sign in to Talent code")).to_be_visible()
        await app.reload()
        await expect(app.get_by_role("heading", name="Sign in to Talent code")).to_be_visible()
        await expect(app.locator("html")).to_have_attribute("lang", "en")

    async def test_the_pages_allow_scripts_from_this_origin_only(self, gateway: httpx.AsyncClient) -> None:
        for path in ("/app/", "/console/", "/app/main.js", "/common/api.js"):
            response = await gateway.get(path)
            assert response.status_code == 200, path
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "default-src 'self'" in policy
        assert (await gateway.get("/")).headers["location"] == "/app/"
