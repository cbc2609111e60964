"""The statistics page (统计) in a real browser (Debian's Chromium), on the real stack: talents certified in two
regions (five in 南湖区, one in 秀洲区) reach the insight service as events; the leader (leader.city) signs in,
sees the 人才发展指数 with its indicators, the figures the service publishes, charts ECharts drew on a canvas,
the withheld mark (不公布 / withheld) wherever the service withheld a count, in Chinese and in English;
downloads a table as CSV (fetched with the bearer token); and no Content-Security-Policy violation happens on
the way. A county reviewer has no such page.

What the page must show is read from the service's own summary (the leader's token, through the gateway): the
shared stack may hold other tests' talents too, so the test checks that the page says what the service says,
and that a withheld cell is there to be shown.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import ConsoleMessage, Page, expect
from servicekit.testing import eventually

from .browser import official_headers, sign_in_to_the_console, sign_out_of_the_console
from .helpers import certify, fresh_id_number, profile, talent

NANHU, XIUZHOU = "330402", "330411"
WITHHELD = {"zh-CN": "不公布", "en": "withheld"}
LEGEND = {"zh-CN": "少于 5 人", "en": "fewer than 5 people"}
REGION_NAMES = {"zh-CN": {NANHU: "南湖区", XIUZHOU: "秀洲区"}, "en": {NANHU: "Nanhu", XIUZHOU: "Xiuzhou"}}


async def _certify_in(gateway: httpx.AsyncClient, region: str, reviewer: str) -> None:
    auth = await talent(gateway)
    await certify(gateway, auth, profile(fresh_id_number(region), region=region), reviewer=reviewer)


async def _summary(gateway: httpx.AsyncClient) -> dict[str, Any]:
    answer = await gateway.get("/api/v1/insight/summary", headers=await official_headers(gateway, "leader.city"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _summary_with_our_talents(gateway: httpx.AsyncClient, before: int) -> dict[str, Any]:
    """The leader's summary once the insight service has counted our six talents (on top of `before`)."""

    async def counted() -> dict[str, Any] | None:
        summary = await _summary(gateway)
        total = summary["talents"]["total"]
        regions = summary["talents"]["by_region"]
        ours = NANHU in regions and XIUZHOU in regions and total is not None and total >= before + 6
        return summary if ours else None

    return dict(await eventually(counted, timeout=60))


def _withheld_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(table's test id, key, group) of each withheld count the page's talent and claim tables show."""
    groups = [
        ("talents-by-region", summary["talents"]["by_region"], "region"),
        ("talents-by-tier", summary["talents"]["by_tier"], "tier"),
        ("claims-by-status", summary["claims"]["by_status"], "claim_status"),
    ]
    return [(testid, key, group) for testid, cells, group in groups for key, n in cells.items() if n is None]


class TestTheLeadersStatisticsPage:
    async def test_the_leader_sees_published_figures_charts_and_withheld_cells_in_both_languages(
        self, console: Page, gateway: httpx.AsyncClient
    ) -> None:
        before = (await _summary(gateway))["talents"]["total"] or 0  # withheld (1 to 4) counts as none here
        for _ in range(5):
            await _certify_in(gateway, NANHU, "reviewer.nanhu")
        await _certify_in(gateway, XIUZHOU, "reviewer.xiuzhou")
        summary = await _summary_with_our_talents(gateway, before)
        by_region = summary["talents"]["by_region"]
        assert isinstance(summary["talents"]["total"], int) and summary["talents"]["total"] >= 6
        # Run alone, 秀洲区's one talent is withheld (and 南湖区's five with it, or the grand total would give it
        # away); on a stack other tests filled, some other small cell is.
        assert summary["suppressed"], "the scene left no small cell to withhold"
        withheld = _withheld_rows(summary)
        assert withheld, summary

        refused: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                refused.append(message.text)

        console.on("console", on_console)
        await sign_in_to_the_console(console, "leader.city")
        nav = console.get_by_role("navigation", name="主导航")
        await expect(nav.get_by_role("link")).to_have_text(["统计"])
        main = console.locator("main")
        await expect(console.get_by_role("heading", name="统计", exact=True)).to_be_visible()

        for lang in ("zh-CN", "en"):
            if lang == "en":
                await console.get_by_label("语言").select_option("en")
                await expect(console.get_by_role("heading", name="Statistics", exact=True)).to_be_visible()
            # The headline total is the service's number, formatted.
            total = console.get_by_test_id("headline-talents_total")
            await expect(total).to_contain_text(f"{summary['talents']['total']:,}")
            # Each region row says what the service says: the count, or the withheld mark.
            regions = console.get_by_test_id("talents-by-region")
            for code, name in REGION_NAMES[lang].items():
                row = regions.get_by_role("row").filter(has=console.get_by_role("rowheader", name=name, exact=True))
                expected = WITHHELD[lang] if by_region[code] is None else f"{by_region[code]:,}"
                await expect(row.get_by_role("cell")).to_have_text(expected)
            # Every table with a withheld count shows the mark, and the legend says what it means.
            for testid, _key, _group in withheld:
                mark = console.get_by_test_id(testid).get_by_text(WITHHELD[lang], exact=True)
                await expect(mark.first).to_be_visible()
            await expect(console.get_by_test_id("insight-legend")).to_contain_text(LEGEND[lang])
            # Tiers by name (A类人才 / Tier E), never a raw key.
            tiers = console.get_by_test_id("talents-by-tier")
            tier_e = "E类人才" if lang == "zh-CN" else "Tier E"
            await expect(tiers.get_by_role("rowheader", name=tier_e)).to_be_visible()
            # The index and each of its indicators.
            if summary.get("index"):
                index = console.get_by_test_id("insight-index")
                await expect(index.get_by_test_id("index-value")).not_to_be_empty()
                await expect(index.locator("tbody tr")).to_have_count(len(summary["index"]["indicators"]))
            # ECharts drew on canvases: the tier bars, the regions, the claims' statuses.
            for chart in ("tiers", "regions", "claims"):
                canvas = console.get_by_test_id(f"chart-{chart}").locator("canvas")
                await expect(canvas.first).to_be_visible()
                assert await canvas.first.evaluate("c => c.width > 0 && c.height > 0")
            text = await main.inner_text()
            assert "insight." not in text and "undefined" not in text and "NaN" not in text

        # A table as CSV, fetched with the leader's token and saved from a blob: URL.
        button = console.locator("button[data-table]").first
        table_name = await button.get_attribute("data-table")
        async with console.expect_download() as download_info:
            await button.click()
        download = await download_info.value
        assert download.suggested_filename == f"{table_name}.csv"
        content = (await asyncio.to_thread(Path(await download.path()).read_bytes)).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(content)))
        assert rows and rows[0], content
        await expect(console.get_by_test_id("csv-note")).to_contain_text("Downloaded")

        # The region filter narrows the figures to 南湖区 (kept in the page's address).
        await console.get_by_label("Region", exact=True).select_option(NANHU)
        await expect(console).to_have_url(re.compile(rf"/console/#/insight\?region={NANHU}$"))
        await expect(console.get_by_test_id("headline-talents_total")).to_be_visible()

        await console.get_by_label("Language").select_option("zh-CN")
        assert refused == [], refused

    async def test_a_reviewer_has_no_statistics_page(self, console: Page) -> None:
        await sign_in_to_the_console(console, "reviewer.nanhu")
        nav = console.get_by_role("navigation", name="主导航")
        await expect(nav.get_by_role("link").first).to_be_visible()
        await expect(nav.get_by_role("link", name="统计")).to_have_count(0)
        # Typing the address does not help: the service refuses a reviewer and the page says so.
        await console.goto("/console/#/insight")
        await expect(console.get_by_role("alert")).to_be_visible()
        await expect(console.get_by_test_id("headline-talents_total")).to_have_count(0)
        await sign_out_of_the_console(console)
