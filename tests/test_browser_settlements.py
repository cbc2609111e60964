"""Cost settlement (成本结算) in a real browser (Debian's Chromium): after a partner verified a talent code, a
finance officer sees the running month's provisional statement of that partner for this city's codes, downloads
the month as CSV, and issues the last (ended) month, which then shows as issued.

The scene (a certified talent whose code the metro verifies) is set up through the public API; what finance does
is done by clicking in the console.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from playwright.async_api import Page, expect
from servicekit.testing import eventually

from .browser import sign_in_to_the_console
from .helpers import certified_talent, official, partner

CITY = "330400"


def city_month(back: int = 0) -> str:
    local = datetime.now(UTC) + timedelta(hours=8)
    year, month = local.year, local.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year}-{month:02d}"


async def _metro_verifies_a_code(gateway: httpx.AsyncClient) -> str:
    """The dev metro (partner.transit) verifies a fresh talent's code; its client's id (the statement's partner)."""
    _, auth = await certified_talent(gateway)
    code = (await gateway.get("/api/v1/me/code", headers=auth)).json()["code"]
    metro = await partner(gateway, "partner.transit")
    verified = await gateway.post("/api/v1/codes/verify", json={"code": code, "scene": "transit"}, headers=metro)
    assert verified.status_code == 200 and verified.json()["privileges"] == ["fare_privilege"], verified.text
    token = metro["Authorization"].removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


class TestSettlementInTheConsole:
    async def test_finance_reads_provisional_figures_downloads_csv_and_issues_the_last_month(
        self, console: Page, gateway: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        metro = await _metro_verifies_a_code(gateway)
        finance = await official(gateway, "finance.city")

        async def counted() -> dict[str, Any] | None:
            found = (await gateway.get(f"/api/v1/settlements?month={city_month()}", headers=finance)).json()
            return next((s for s in found["items"] if s["partner"] == metro), None)

        statement = await eventually(counted, timeout=60)  # the verification reaches benefits as an event
        await sign_in_to_the_console(console, "finance.city")
        await console.goto(f"/console/#/settlements?month={city_month()}")
        await expect(console.get_by_role("heading", name="成本结算")).to_be_visible()
        await expect(console.get_by_test_id("settlement-state")).to_contain_text("临时数据")
        row = console.locator(f'[data-statement="{metro}:{CITY}"]')
        await expect(row).to_be_visible()
        await expect(row.get_by_test_id("sha256")).to_have_text("—")
        await expect(console.get_by_role("button", name=f"出具 {city_month()} 结算单")).to_have_count(0)

        async with console.expect_download() as download_info:
            await console.get_by_role("button", name="下载 CSV").click()
        download = await download_info.value
        assert download.suggested_filename == f"settlements-{city_month()}-provisional.csv"
        saved = tmp_path / "settlements.csv"
        await download.save_as(saved)
        rows = [r for r in csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))) if r["partner"] == metro]
        assert {r["status"] for r in rows} == {"provisional"}
        assert sum(int(r["count"]) for r in rows) >= statement["verifications"]

        # The last month has ended: finance issues it, and the page shows it issued.
        await console.goto(f"/console/#/settlements?month={city_month(1)}")
        await console.get_by_role("button", name=f"出具 {city_month(1)} 结算单").click()
        await expect(console.get_by_test_id("settlement-state")).to_contain_text("已于")
        await expect(console.get_by_role("button", name=f"出具 {city_month(1)} 结算单")).to_have_count(0)
        issued = (await gateway.get(f"/api/v1/settlements?month={city_month(1)}", headers=finance)).json()
        assert issued["provisional"] is False and issued["issued_by"]
