"""The front ends in both languages, in a browser set to UTC (Debian's Chromium): every time is the city's
(Asia/Shanghai) whatever the browser's zone, so a card's header and the message's text agree; the first of two
city approvals is named as such, not 初审通过; no page of the console shows a raw code (master, resident_id,
county_approved…) or an untranslated message key; every API call says the UI language (Accept-Language), and
the app takes the language the talent chose in their profile.

Scenes are set up through the public API; what is checked is what the pages show.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, expect
from servicekit.testing import eventually

from .browser import (
    DESKTOP,
    PHONE_SCREEN,
    app_access_token,
    auto_granted_claim,
    certify,
    official_headers,
    sign_in_to_the_app,
    sign_in_to_the_console,
    sign_out_of_the_console,
    unique_phone,
)
from .helpers import EVENT_PATIENCE_S
from .stack import Stack

CITY = ZoneInfo("Asia/Shanghai")
WEB = Path(__file__).resolve().parents[1] / "gateway" / "src" / "gateway" / "web"
CONSOLE_EN = json.loads((WEB / "console" / "i18n" / "en.json").read_text(encoding="utf-8"))
# The label groups of enumerated values: the codes services send, which a page must show in words.
ENUM_GROUPS = (
    "role", "cert_status", "route", "id_type", "degree", "title", "evidence", "stage", "claim_status", "action",
    "supply", "unit_type", "unit_status", "round_status", "application_status", "provenance", "change_status",
    "talent_status", "document_kind", "attestation_outcome", "attestation_status", "recommendation_status",
    "demand_status", "payment_status", "review_reason", "policy",
)  # fmt: skip
# Single letters (the tiers A–E) and unit types ("1BR") are too short to tell from ordinary text.
RAW_CODES = sorted({code for group in ENUM_GROUPS for code in CONSOLE_EN[group] if len(code) > 3})
MESSAGE_GROUPS = sorted(CONSOLE_EN)
FIRST_OF_TWO = {
    "app": {
        "zh-CN": "市级复审：第一位审批人已通过，待第二位审批人",
        "en": "City review: the first of two approvers approved; waiting for the second",
    },
    "console": {
        "zh-CN": "市级复审：第一位审批人通过（待第二位审批人）",
        "en": "City review: first of two approvers approved (waiting for the second)",
    },
}


@pytest.fixture
async def utc_app(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """The talent app on a phone whose clock is set to UTC, in Chinese to begin with."""
    context = await browser.new_context(
        base_url=stack.gateway_url, locale="zh-CN", timezone_id="UTC", viewport=PHONE_SCREEN
    )
    yield await context.new_page()
    await context.close()


@pytest.fixture
async def utc_console(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """The console on a desk whose clock is set to UTC, in Chinese to begin with."""
    context = await browser.new_context(base_url=stack.gateway_url, locale="zh-CN", timezone_id="UTC", viewport=DESKTOP)
    yield await context.new_page()
    await context.close()


async def switch_language(page: Page, lang: str) -> None:
    await page.locator("#lang").select_option(lang)
    await expect(page.locator("html")).to_have_attribute("lang", lang)


def city_clock(instant: str) -> str:
    """An ISO instant's wall-clock time in the city, "HH:MM"."""
    return datetime.fromisoformat(instant).astimezone(CITY).strftime("%H:%M")


def utc_clock(instant: str) -> str:
    return datetime.fromisoformat(instant).astimezone(ZoneInfo("UTC")).strftime("%H:%M")


async def decide(gateway: httpx.AsyncClient, claim_id: str, officer: str, reason: str) -> dict[str, Any]:
    response = await gateway.post(
        f"/api/v1/reviews/claims/{claim_id}/decisions",
        json={"decision": "approve", "reason": reason},
        headers=await official_headers(gateway, officer),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestFirstOfTwoCityApprovals:
    async def test_the_first_city_approval_is_named_as_such_in_the_app_and_the_console_in_both_languages(
        self, utc_app: Page, utc_console: Page, gateway: httpx.AsyncClient
    ) -> None:
        # A founder's start-up funding of 2,000,000 CNY: above 1,000,000 two different city approvers decide.
        await sign_in_to_the_app(utc_app, unique_phone())
        token = await app_access_token(utc_app)
        await certify(gateway, token)

        async def filed_once_benefits_knows_the_certification() -> httpx.Response | None:
            # Benefits learns of the certification from its event; until then the claim is refused as not certified.
            answer = await gateway.post(
                "/api/v1/me/claims",
                json={"policy_code": "STARTUP_FUNDING", "details": {"amount_fen": 200_000_000}},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"h6-{token[-12:]}"},
            )
            refused_as_not_yet_certified = answer.status_code == 422 and "not_certified" in answer.text
            return None if refused_as_not_yet_certified else answer

        filed = await eventually(
            filed_once_benefits_knows_the_certification, timeout=EVENT_PATIENCE_S, interval=0.5, what="claim filed"
        )
        assert filed.status_code == 201, filed.text
        claim_id = filed.json()["id"]
        await decide(gateway, claim_id, "reviewer.nanhu", "营业执照与出资证明已核验")
        first = await decide(gateway, claim_id, "approver.city", "项目评审意见已阅")
        assert first["status"] == "county_approved"  # waits for a second, different approver

        await utc_app.goto("/app/#/benefits")
        card = utc_app.locator(f'[data-claim="{claim_id}"]')
        await card.get_by_text("办理记录").click()
        timeline = card.locator("ol.timeline > li > strong")
        await expect(timeline.last).to_have_text(FIRST_OF_TWO["app"]["zh-CN"])
        await expect(timeline.filter(has_text=re.compile("^初审通过$"))).to_have_count(1)  # the county's, once
        await switch_language(utc_app, "en")
        await card.get_by_text("History").click()
        await expect(timeline.last).to_have_text(FIRST_OF_TWO["app"]["en"])

        await sign_in_to_the_console(utc_console, "approver.city2")
        await utc_console.goto(f"/console/#/claims/{claim_id}")
        history = utc_console.get_by_role("region", name="办理记录")
        await expect(history.get_by_text(FIRST_OF_TWO["console"]["zh-CN"], exact=True)).to_be_visible()
        await expect(history.get_by_text("初审通过 → 初审通过")).to_have_count(0)
        await switch_language(utc_console, "en")
        history = utc_console.get_by_role("region", name="History")
        await expect(history.get_by_text(FIRST_OF_TWO["console"]["en"], exact=True)).to_be_visible()


class TestCityTimeInAUtcBrowser:
    async def test_the_inbox_header_its_text_and_the_claim_card_all_show_city_time_in_both_languages(
        self, utc_app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(utc_app, unique_phone())
        token = await app_access_token(utc_app)
        talent = {"Authorization": f"Bearer {token}"}
        await certify(gateway, token)
        claim = await auto_granted_claim(gateway, token)
        await decide(gateway, claim["id"], "reviewer.nanhu", "毕业证书与社保缴纳记录核验无误")
        publicized = await decide(gateway, claim["id"], "approver.city", "复审通过")
        until = publicized["publicized_until"]
        assert publicized["status"] == "publicized" and city_clock(until) != utc_clock(until)

        async def notice() -> dict[str, Any] | None:
            items = (await gateway.get("/api/v1/me/inbox?limit=100", headers=talent)).json()["items"]
            return next(
                (
                    n
                    for n in items
                    if datetime.fromisoformat(until).astimezone(CITY).strftime("%Y-%m-%d %H:%M") in n["body"]
                ),
                None,
            )

        message = await eventually(notice, timeout=30)
        assert message is not None
        # The notice's own text says the city's time; the card's header and the claim card must say the same.
        for lang in ("zh-CN", "en"):
            if lang == "en":
                await switch_language(utc_app, "en")
            await utc_app.goto("/app/#/inbox")
            card = utc_app.get_by_test_id("notification").filter(has_text=message["title"])
            header = card.locator("time")
            await expect(header).to_contain_text(city_clock(message["created_at"]))
            await expect(header).not_to_contain_text(utc_clock(message["created_at"]))
            await expect(card).to_contain_text(city_clock(until))
            await utc_app.goto("/app/#/benefits")
            claim_card = utc_app.locator(f'[data-claim="{claim["id"]}"]')
            await expect(claim_card).to_contain_text(city_clock(until))
            await expect(claim_card).not_to_contain_text(utc_clock(until))


# Collects, in the page's main area, every piece of text (split at the separators pages join labels with)
# that is a raw code: one of the known codes, a snake_case or UPPER_CASE word, or a message key (group.key).
FIND_RAW = """([codes, groups]) => {
  const found = new Set();
  const key = new RegExp(`^(${groups.join("|")})\\\\.[a-z_.]+$`);
  const walker = document.createTreeWalker(document.getElementById("main"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || el.closest(".mono, pre, code, script, style")) continue;
    const text = walker.currentNode.textContent;
    // A known code anywhere between separators; a code-shaped word or a key as a whole item (sentences may
    // name CSV columns such as line_ref on purpose).
    for (const part of text.split(/[·:：,，;；()（）→—|\\n]+/).map((p) => p.trim())) {
      if (codes.includes(part)) found.add(part);
    }
    for (const part of text.split(/[·→|\\n]+/).map((p) => p.trim())) {
      if (/^[a-z]+(_[a-z]+)+$/.test(part) || /^[A-Z]+(_[A-Z]+)+$/.test(part) || key.test(part)) found.add(part);
    }
  }
  return [...found];
}"""


async def raw_values_on(console: Page, path: str) -> list[str]:
    """Open a console page (by its #/path) and return the raw codes and keys it shows; a failed page fails."""
    await console.evaluate("() => document.querySelector('#main > .view')?.setAttribute('data-stale', '')")
    if await console.evaluate("() => location.hash") == f"#/{path}":
        await console.reload()  # the page a sign-in lands on: no hash change to render it again
    else:
        await console.goto(f"/console/#/{path}")
    fresh = console.locator("#main > .view:not([data-stale])")
    await expect(fresh).to_be_visible()
    # Visible ones only: a form keeps a hidden alert paragraph ready for a refusal (payments' create form).
    await expect(fresh.locator(".note.error:visible")).to_have_count(0)
    return list(await console.evaluate(FIND_RAW, [RAW_CODES, MESSAGE_GROUPS]))


# Each official's pages (the audit log shows services' own action codes as recorded, so it is not walked).
WALKS: dict[str, list[str]] = {
    "reviewer.nanhu": ["certifications", "claims", "change-requests", "publicity", "inbox"],
    "approver.city": ["certifications", "claims", "appeals", "publicity", "inbox"],
    "finance.city": ["claims", "payments", "publicity", "inbox"],
    "housing.city": ["housing", "inbox"],
    "admin": ["employers", "publicity", "inbox"],
    "employer.demo": ["staff", "recommendations", "demands"],
}


class TestNoRawValuesInTheConsole:
    async def test_every_page_shows_words_for_codes_in_both_languages(
        self, utc_app: Page, utc_console: Page, gateway: httpx.AsyncClient
    ) -> None:
        # A certified master's graduate (resident ID card) with a claim: their case pages show the codes' words.
        await sign_in_to_the_app(utc_app, unique_phone())
        token = await app_access_token(utc_app)
        await certify(gateway, token)
        claim = await auto_granted_claim(gateway, token)
        certifications = (
            await gateway.get("/api/v1/me/certifications", headers={"Authorization": f"Bearer {token}"})
        ).json()["items"]
        cases = {"reviewer.nanhu": [f"certifications/{certifications[0]['id']}", f"claims/{claim['id']}"]}

        found: dict[str, list[str]] = {}
        for lang in ("zh-CN", "en"):
            for username, pages in WALKS.items():
                await sign_in_to_the_console(utc_console, username)
                if lang == "en":
                    await switch_language(utc_console, "en")
                for path in [*pages, *cases.get(username, [])]:
                    raw = await raw_values_on(utc_console, path)
                    if raw:
                        found[f"{lang} {username} #/{path}"] = raw
                if lang == "en":
                    await switch_language(utc_console, "zh-CN")
                await sign_out_of_the_console(utc_console)
        assert not found, found

        # The profile's degree and identity document in words, in English too.
        await sign_in_to_the_console(utc_console, "reviewer.nanhu")
        await switch_language(utc_console, "en")
        await utc_console.goto(f"/console/#/certifications/{certifications[0]['id']}")
        main = utc_console.locator("#main")
        await expect(main).to_contain_text("Master's degree")
        await expect(main).to_contain_text("Resident identity card")
        await switch_language(utc_console, "zh-CN")
        await expect(main).to_contain_text("硕士")


class TestTheApiHearsTheUiLanguage:
    async def test_every_call_says_the_ui_language_and_the_profiles_language_leads(
        self, utc_app: Page, gateway: httpx.AsyncClient
    ) -> None:
        asked: list[tuple[str, str | None]] = []

        def record(request: Request) -> None:
            if "/api/" in request.url:
                asked.append((request.url, request.headers.get("accept-language")))

        utc_app.on("request", record)
        await sign_in_to_the_app(utc_app, unique_phone())
        token = await app_access_token(utc_app)
        id_number = await certify(gateway, token)
        await utc_app.goto("/app/#/benefits")
        await expect(utc_app.get_by_role("heading", name="我的申领")).to_be_visible()
        assert asked and {lang for _, lang in asked} == {"zh-CN"}, asked

        asked.clear()
        await switch_language(utc_app, "en")
        await utc_app.goto("/app/#/housing")
        await expect(utc_app.get_by_role("heading", name="Talent apartments")).to_be_visible()
        assert asked and {lang for _, lang in asked} == {"en"}, asked

        # Back in Chinese, the talent picks English as their profile's language and saves: the app follows.
        await switch_language(utc_app, "zh-CN")
        await utc_app.goto("/app/#/me")
        await utc_app.get_by_label("通知语言").select_option("en")
        await utc_app.locator('input[name="id_number"]').fill(id_number)  # shown masked: re-entered to save
        await utc_app.get_by_role("button", name="保存", exact=True).click()
        await expect(utc_app.locator("html")).to_have_attribute("lang", "en")
        await expect(utc_app.locator("#lang")).to_have_value("en")
