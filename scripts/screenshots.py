"""`make screenshots`: refresh docs/screenshots/*.png, one per main page of the app and the console.

Starts its own platform (every service as a real process, like the cross-service tests) unless given
--base-url of a running one (which must run with TALENT_ENV=dev), sets a scene up through the public API
(a certified talent with an auto-granted claim and a change request, a second talent's certification waiting
for review, a drawn housing round with an offer), then photographs the pages in Debian's Chromium.

    uv run python scripts/screenshots.py [--base-url http://127.0.0.1:8000] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

ROOT = Path(__file__).resolve().parents[1]
EMPLOYER_CODE = "91330402MA2B3C4D53"  # a valid 统一社会信用代码 (GB 32100 check character)
sys.path.insert(0, str(ROOT))

from tests.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE_SCREEN,
    app_access_token,
    auto_granted_claim,
    certify,
    official_headers,
    resident_id,
    sign_in_to_the_app,
    sign_in_to_the_console,
    unique_phone,
)


@contextmanager
def platform(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url.rstrip("/")
        return
    from servicekit.testing import TansuBroker

    from tests.stack import running_stack

    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            yield stack.gateway_url
    finally:
        broker.stop()


async def drawn_round(gateway: httpx.AsyncClient, talent_token: str) -> str:
    """A project with three units, a round the talent applies to, closed and drawn."""
    officer = await official_headers(gateway, "housing.city")
    talent = {"Authorization": f"Bearer {talent_token}"}
    project = (
        await gateway.post(
            "/api/v1/housing/projects",
            json={
                "name": "南湖人才公寓",
                "region_code": "330402",
                "supply_model": "government",
                "address": "南湖区由拳路 1 号",
            },
            headers=officer,
        )
    ).json()
    sizes = [(101, "1BR", 45.0, 180_000), (102, "studio", 32.5, 120_000), (201, "2BR", 68.0, 260_000)]
    units = [{"number": f"1-{n}", "unit_type": k, "area_m2": a, "monthly_rent_fen": r} for n, k, a, r in sizes]
    made = await gateway.post(f"/api/v1/housing/projects/{project['id']}/units", json={"units": units}, headers=officer)
    unit_ids = [u["id"] for u in made.json()["items"]]
    closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    round_ = (
        await gateway.post(
            "/api/v1/housing/rounds",
            json={"name": "2026 年第 1 批人才公寓配租", "unit_ids": unit_ids, "closes_at": closes_at},
            headers=officer,
        )
    ).json()
    for _ in range(40):  # housing learns of the certification through an event
        applied = await gateway.post(
            f"/api/v1/housing/rounds/{round_['id']}/applications",
            json={"preferred_project_ids": [project["id"]], "household_size": 1},
            headers=talent,
        )
        if applied.status_code == 201:
            break
        await asyncio.sleep(0.5)
    await gateway.post(f"/api/v1/housing/rounds/{round_['id']}/close", headers=officer)
    await gateway.post(f"/api/v1/housing/rounds/{round_['id']}/draw", headers=officer)
    return str(round_["id"])


async def change_request(gateway: httpx.AsyncClient, talent_token: str) -> str:
    """The certified talent asks for a new title, with the certificate uploaded as evidence."""
    headers = {"Authorization": f"Bearer {talent_token}"}
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    document = await gateway.post(
        "/api/v1/me/documents",
        files={"file": ("中级职称证书.pdf", pdf, "application/pdf")},
        data={"kind": "title_certificate"},
        headers=headers,
    )
    document.raise_for_status()
    request = await gateway.post(
        "/api/v1/me/change-requests",
        json={
            "changes": {"title": "intermediate", "social_insurance_months": 18},
            "reason": "已取得中级职称（经济师），社保已连续缴纳 18 个月",
            "evidence": [{"document_id": document.json()["id"]}],
        },
        headers=headers,
    )
    request.raise_for_status()
    return str(request.json()["id"])


async def visit(page: Page, path: str) -> None:
    """Show a page afresh (going to the URL the page is already at would not render it again)."""
    if page.url.endswith(path):
        await page.reload()
    else:
        await page.goto(path)


async def shoot(page: Page, out: Path, name: str) -> None:
    """The whole page for the console; the phone's screen for the app (its tab bar stays at the bottom)."""
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(out / f"{name}.png"), full_page=name.startswith("console"))
    print(f"  {out / f'{name}.png'}")


async def main_async(base_url: str, out: Path) -> None:
    async with async_playwright() as playwright, httpx.AsyncClient(base_url=base_url, timeout=15.0) as gateway:
        browser: Browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        phone_ctx = await browser.new_context(base_url=base_url, locale="zh-CN", viewport=PHONE_SCREEN)
        desk_ctx = await browser.new_context(base_url=base_url, locale="zh-CN", viewport=DESKTOP)
        app, console = await phone_ctx.new_page(), await desk_ctx.new_page()

        print("setting the scene up…")
        await visit(app, "/app/")
        await app.get_by_label("手机号").fill(unique_phone())
        await app.get_by_role("button", name="获取验证码").click()
        await expect(app.get_by_test_id("dev-code")).to_be_visible()
        await shoot(app, out, "app-signin")
        code = await app.get_by_test_id("dev-code").inner_text()
        await app.get_by_label("验证码", exact=True).fill(code)
        await app.get_by_role("button", name="登录").click()
        await expect(app.get_by_role("heading", name="我的人才码")).to_be_visible()
        token = await app_access_token(app)
        await certify(gateway, token)
        claim = await auto_granted_claim(gateway, token)
        round_id = await drawn_round(gateway, token)
        change_id = await change_request(gateway, token)

        # A second talent whose certification waits for the county.
        other = await browser.new_context(base_url=base_url, locale="zh-CN", viewport=PHONE_SCREEN)
        other_page = await other.new_page()
        await sign_in_to_the_app(other_page, unique_phone())
        other_token = await app_access_token(other_page)
        await visit(other_page, "/app/#/me")
        await expect(other_page.get_by_role("heading", name="个人信息")).to_be_visible()
        await shoot(other_page, out, "app-profile")
        headers = {"Authorization": f"Bearer {other_token}"}
        today = datetime.now(UTC).date()
        birth = today.replace(year=today.year - 29, month=8, day=2)
        await gateway.put(
            "/api/v1/me/profile",
            json={
                "name": "张三",
                "id_type": "resident_id",
                "id_number": resident_id(birth, random.randint(100, 999)),  # noqa: S311
                "birth_date": birth.isoformat(),
                "region_code": "330402",
                "education": {"degree": "doctor", "school": "复旦大学", "graduated_on": "2025-06-30"},
                "title": "intermediate",
                "employer": {"name": "嘉兴某科技有限公司", "credit_code": EMPLOYER_CODE, "region_code": "330402"},
                "social_insurance_months": 14,
                "owns_home_in_city": False,
            },
            headers=headers,
        )
        cert = await gateway.post(
            "/api/v1/me/certifications",
            json={
                "route": "degree",
                "claimed_tier": "E",
                "evidence": [
                    {"kind": "diploma", "reference": "博士学位证书.pdf", "sha256": "3f" * 32},
                    {"kind": "employment_contract", "reference": "劳动合同.pdf", "sha256": "a1" * 32},
                ],
            },
            headers=headers,
        )
        cert.raise_for_status()
        await other.close()

        print("the talent app:")
        await visit(app, "/app/#/code")
        await expect(app.get_by_test_id("qr")).to_have_attribute("src", re.compile(r"^blob:"))
        await shoot(app, out, "app-code")
        for tab, heading in [("benefits", "政策申领"), ("housing", "人才公寓"), ("inbox", "消息")]:
            await visit(app, f"/app/#/{tab}")
            await expect(app.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            await shoot(app, out, f"app-{tab}")
        await visit(app, "/app/#/me/certify")
        await expect(app.get_by_role("heading", name="申请人才认定")).to_be_visible()
        await app.get_by_label("文件").set_input_files(
            files={"name": "硕士学位证书.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 diploma"}
        )
        await expect(app.get_by_test_id("evidence-sha256")).to_contain_text("SHA-256")
        await shoot(app, out, "app-certify")
        await visit(app, "/app/#/me")
        await expect(app.get_by_test_id("change-request-status")).to_be_visible()
        heading = app.get_by_role("heading", name="变更申请", exact=True)
        await heading.evaluate("el => { el.scrollIntoView(); window.scrollBy(0, -64); }")  # below the app bar
        await shoot(app, out, "app-change-request")

        print("the console:")
        await visit(console, "/console/")
        await expect(console.get_by_role("heading", name="工作人员登录")).to_be_visible()
        await shoot(console, out, "console-signin")
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await visit(console, "/console/#/certifications")
        await expect(console.get_by_role("heading", name="人才认定审核")).to_be_visible()
        await shoot(console, out, "console-certifications")
        await visit(console, f"/console/#/certifications/{cert.json()['id']}")
        await expect(console.get_by_test_id("masked-id")).to_be_visible()
        await shoot(console, out, "console-certification-case")
        await visit(console, f"/console/#/change-requests/{change_id}")
        await expect(console.get_by_test_id("change-request-status")).to_be_visible()
        await shoot(console, out, "console-change-request")
        await visit(console, "/console/#/claims")
        await expect(console.get_by_role("heading", name="政策申领审核")).to_be_visible()
        await shoot(console, out, "console-claims")
        await visit(console, f"/console/#/claims/{claim['id']}")
        await expect(console.get_by_test_id("claim-status")).to_be_visible()
        await shoot(console, out, "console-claim-case")
        await visit(console, "/console/#/publicity")
        await expect(console.get_by_role("heading", name="公示", exact=True)).to_be_visible()
        await shoot(console, out, "console-publicity")
        await console.get_by_role("button", name="退出").click()
        await sign_in_to_the_console(console, "housing.city")
        await visit(console, f"/console/#/housing/rounds/{round_id}")
        await expect(console.get_by_test_id("seed-check")).to_contain_text("✓")
        await shoot(console, out, "console-housing-round")
        await visit(console, "/console/#/housing")
        await expect(console.get_by_role("heading", name="配租批次", exact=True)).to_be_visible()
        await shoot(console, out, "console-housing")
        await console.get_by_role("button", name="退出").click()
        await sign_in_to_the_console(console, "auditor.city")
        await visit(console, "/console/#/audit")
        await expect(console.get_by_role("heading", name="审计日志")).to_be_visible()
        await shoot(console, out, "console-audit")
        await browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh docs/screenshots/*.png")
    parser.add_argument("--base-url", help="a running gateway (TALENT_ENV=dev); default: start a platform")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium (and fonts-wqy-microhei for Chinese text)")
        return 2
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with platform(args.base_url) as base_url:
        print(f"photographing {base_url}")
        asyncio.run(main_async(base_url, Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
