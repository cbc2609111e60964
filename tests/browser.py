"""Browser-test support: Debian's Chromium driven by Playwright, the console and the app as pages, and the
few API calls that set a scene up (a certified talent) faster than clicking through it.

tests/conftest.py makes the fixtures (browser, console, app) available to every cross-service test.
Chromium comes from Debian (`apt-get install chromium`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect
from servicekit.testing import eventually

from .stack import Stack

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE_SCREEN: ViewportSize = {"width": 390, "height": 844}
APP_TOKENS = "talent.app.tokens"
DEV_PASSWORD = "dev-password"  # the dev accounts' password (TALENT_ENV=dev)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_numbers = itertools.count(1)

# Events cross Kafka between services; pages poll nothing themselves. BROWSER_EXPECT_TIMEOUT_S lengthens the wait
# on a machine so loaded that a sign-in alone takes longer (the wait still ends as soon as the page shows it).
expect.set_options(timeout=float(os.environ.get("BROWSER_EXPECT_TIMEOUT_S", "20")) * 1000)


def unique_phone() -> str:
    return f"+86136{os.getpid() % 10_000:04d}{next(_numbers):04d}"


def resident_id(birth: date, sequence: int, region: str = "330402") -> str:
    first17 = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


# --- the browser and its pages -----------------------------------------------------------------------


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


@pytest.fixture
async def console(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """The officials' console on a desk-sized screen, in Chinese."""
    context = await browser.new_context(base_url=stack.gateway_url, locale="zh-CN", viewport=DESKTOP)
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def app(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """The talent web app on a phone-sized screen, in Chinese."""
    context = await browser.new_context(base_url=stack.gateway_url, locale="zh-CN", viewport=PHONE_SCREEN)
    page = await context.new_page()
    yield page
    await context.close()


async def sign_in_to_the_app(app: Page, phone: str) -> None:
    """OTP sign-in as a person does it: the dev code is shown on the page (TALENT_ENV=dev)."""
    await app.goto("/app/")
    await app.get_by_label("手机号").fill(phone)
    await app.get_by_role("button", name="获取验证码").click()
    code = await app.get_by_test_id("dev-code").inner_text()
    await app.get_by_label("验证码", exact=True).fill(code)
    await app.get_by_role("button", name="登录").click()
    await expect(app.get_by_role("heading", name="我的人才码")).to_be_visible()


async def sign_in_to_the_console(console: Page, username: str) -> None:
    await console.goto("/console/")
    await console.get_by_label("用户名").fill(username)
    await console.get_by_label("密码").fill(DEV_PASSWORD)
    await console.get_by_role("button", name="登录").click()
    await expect(console.get_by_role("button", name="退出")).to_be_visible()


async def sign_out_of_the_console(console: Page) -> None:
    await console.get_by_role("button", name="退出").click()
    await expect(console.get_by_role("heading", name="工作人员登录")).to_be_visible()


async def app_access_token(app: Page) -> str:
    """The token the app keeps in sessionStorage, to set the scene through the API as the same talent."""
    stored = await app.evaluate(f"sessionStorage.getItem('{APP_TOKENS}')")
    return str(json.loads(stored)["access_token"])


# --- setting scenes up through the API ----------------------------------------------------------------


async def official_headers(gateway: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await gateway.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": DEV_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def certify(gateway: httpx.AsyncClient, talent_token: str) -> str:
    """Profile (a master's graduate of half a year ago, working in 南湖区), certification by degree for tier E,
    approved by the county and the city; returns the identity number (a form re-asks it) once certified."""
    talent = {"Authorization": f"Bearer {talent_token}"}
    today = datetime.now(UTC).date()
    birth = date(today.year - 26, 5, 17)
    profile = {
        "name": "王五",
        "id_type": "resident_id",
        "id_number": resident_id(birth, os.getpid() + next(_numbers)),
        "birth_date": birth.isoformat(),
        "locale": "zh-CN",
        "region_code": "330402",
        "education": {
            "degree": "master",
            "school": "浙江大学",
            "graduated_on": (today - timedelta(days=180)).isoformat(),
        },
        "employer": {"name": "嘉兴某科技有限公司", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
        "social_insurance_months": 6,
        "owns_home_in_city": False,
    }
    response = await gateway.put("/api/v1/me/profile", json=profile, headers=talent)
    assert response.status_code == 200, response.text
    evidence = [{"kind": "diploma", "reference": "diploma.pdf", "sha256": "ab" * 32}]
    response = await gateway.post(
        "/api/v1/me/certifications", json={"route": "degree", "claimed_tier": "E", "evidence": evidence}, headers=talent
    )
    assert response.status_code == 201, response.text
    certification = response.json()["id"]
    for officer in ("reviewer.nanhu", "approver.city"):
        response = await gateway.post(
            f"/api/v1/reviews/certifications/{certification}/decisions",
            json={"decision": "approve", "reason": "学历学位证书已核验"},
            headers=await official_headers(gateway, officer),
        )
        assert response.status_code == 200, response.text

    async def certified() -> bool:
        answer = await gateway.get("/api/v1/me/talent", headers=talent)
        return answer.status_code == 200 and answer.json()["status"] == "certified"

    await eventually(certified, timeout=20)
    return str(profile["id_number"])


async def auto_granted_claim(gateway: httpx.AsyncClient, talent_token: str) -> dict[str, Any]:
    """The claim benefits grants by itself on certification (免申即享), once it exists."""
    talent = {"Authorization": f"Bearer {talent_token}"}

    async def auto() -> list[dict[str, Any]]:
        return [c for c in (await gateway.get("/api/v1/me/claims", headers=talent)).json()["items"] if c["auto"]]

    [claim] = await eventually(auto, timeout=20)
    return dict(claim)
