"""The events' AsyncAPI document and its readable page, served by the gateway to anyone, like /openapi.json."""

from __future__ import annotations

import re
from typing import Any

from contracts import EVENT_TYPES


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
