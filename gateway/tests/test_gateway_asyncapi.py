"""The events' AsyncAPI document and its readable page, served by the gateway to anyone, like /openapi.json."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from contracts import EVENT_TYPES
from playwright.async_api import Route, async_playwright, expect

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.exists()


class TestAsyncApiDocument:
    async def test_it_is_public_json_describing_every_event_type(self, gateway: Any) -> None:
        response = await gateway.client.get("/asyncapi.json")  # no bearer token
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        document = response.json()
        assert document["asyncapi"] == "3.0.0"
        assert set(EVENT_TYPES) <= set(document["components"]["messages"])
        assert "partnerWebhook" in document["channels"]

    async def test_the_openapi_description_links_to_it(self, gateway: Any) -> None:
        description = (await gateway.client.get("/openapi.json")).json()["info"]["description"]
        assert "/asyncapi.json" in description and "/asyncapi/" in description


class TestAsyncApiPage:
    async def test_the_page_loads_only_this_origins_script_under_the_pages_csp(self, gateway: Any) -> None:
        page = await gateway.client.get("/asyncapi/")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        scripts = re.findall(r"<script[^>]*>", page.text)
        assert scripts == ['<script type="module" src="asyncapi.js">']  # no inline script, nothing remote
        assert "https://" not in page.text and "/asyncapi.json" in page.text
        for asset in ("asyncapi.js", "asyncapi.css"):
            served = await gateway.client.get(f"/asyncapi/{asset}")
            assert served.status_code == 200 and "script-src 'self'" in served.headers["content-security-policy"]
        assert 'fetch("/asyncapi.json"' in (await gateway.client.get("/asyncapi/asyncapi.js")).text

    async def test_the_address_without_a_slash_leads_to_the_page(self, gateway: Any) -> None:
        response = await gateway.client.get("/asyncapi", follow_redirects=True)
        assert response.status_code == 200 and str(response.url).endswith("/asyncapi/")


class TestAsyncApiPageInABrowser:
    async def test_it_renders_every_channel_and_message_without_a_csp_violation(self, gateway: Any) -> None:
        if not HAVE_CHROMIUM:
            pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        problems: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                context = await browser.new_context(base_url="http://gateway.test")
                # Every request the page makes is answered by the gateway app in this process, headers and all.
                await context.route("**/*", lambda route: _answer_from(gateway, route))
                page = await context.new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda error: problems.append(str(error)))
                await page.goto("/asyncapi/")
                await expect(page.locator("section.channel")).to_have_count(5)  # four topics, the webhook
                await expect(page.locator("details.message")).to_have_count(len(EVENT_TYPES) + 1)
                certified = page.locator("#message-talent\\.applicant\\.talent\\.certified\\.v1")
                await certified.locator("summary").click()
                await expect(certified.locator("table.fields").last).to_contain_text("certified_until")
                await expect(certified.locator("pre.example").last).to_contain_text('"specversion": "1.0"')
                await expect(page.locator("#status")).to_be_hidden()
            finally:
                await browser.close()
        assert problems == []


async def _answer_from(gateway: Any, route: Route) -> None:
    request = route.request
    if not request.url.startswith("http://gateway.test/"):
        await route.abort()  # nothing leaves this machine
        return
    response = await gateway.client.request(request.method, request.url, headers=await request.all_headers())
    await route.fulfill(status=response.status_code, headers=dict(response.headers), body=response.content)
