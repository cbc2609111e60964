"""Payment batches (资金拨付) in a real browser (Debian's Chromium): a finance officer makes a batch of the claims
whose 公示 ended, downloads the bank file (checked against the batch's SHA-256 in the page), imports the bank's
result file and reads what it changed, imports it again to no effect, and finds the payment in the budget
reconciliation.

The scene (a certified talent whose automatic claim is on public notice) is set up through the public API; what
finance does is done by clicking in the console.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import FilePayload, Page, expect
from servicekit.testing import eventually

from .browser import (
    app_access_token,
    auto_granted_claim,
    certify,
    official_headers,
    sign_in_to_the_app,
    sign_in_to_the_console,
    unique_phone,
)


async def _payable(gateway: httpx.AsyncClient, talent: dict[str, str], claim: dict[str, Any]) -> dict[str, Any]:
    """The claim approved (by the two reviews unless it went straight through) and its 公示 over (2 s here)."""
    stages = {"accepted": "reviewer.nanhu", "county_approved": "approver.city"}
    while claim["status"] in stages:
        decided = await gateway.post(
            f"/api/v1/reviews/claims/{claim['id']}/decisions",
            json={"decision": "approve", "reason": "毕业证书与社保缴纳记录核验无误"},
            headers=await official_headers(gateway, stages[claim["status"]]),
        )
        assert decided.status_code == 200, decided.text
        claim = decided.json()

    async def ended() -> dict[str, Any] | None:
        found = (await gateway.get(f"/api/v1/me/claims/{claim['id']}", headers=talent)).json()
        return found if found["publicity_ended"] else None

    return dict(await eventually(ended, timeout=30))


class TestPaymentBatchesInTheConsole:
    async def test_finance_pays_through_the_bank_file_and_the_budget_shows_the_payment(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        talent = {"Authorization": f"Bearer {token}"}
        await certify(gateway, token)
        claim = await _payable(gateway, talent, await auto_granted_claim(gateway, token))

        await sign_in_to_the_console(console, "finance.city")
        await console.get_by_role("link", name="资金拨付").click()
        await console.get_by_label("政策", exact=True).select_option(claim["policy_code"])
        await console.get_by_role("button", name="生成批次").click()
        await expect(console.get_by_test_id("batch-title")).to_contain_text("拨付批次")
        await expect(console.get_by_test_id("batch-status")).to_have_text("待回盘")
        recorded = await console.get_by_test_id("file-sha256").inner_text()

        async with console.expect_download() as download_info:
            await console.get_by_role("button", name="下载银行文件").click()
        download = await download_info.value
        content = await asyncio.to_thread(Path(await download.path()).read_bytes)
        await expect(console.get_by_test_id("download-note")).to_have_text("已下载，SHA-256 与批次记录一致。")
        assert hashlib.sha256(content).hexdigest() == recorded
        rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
        assert rows[0][:3] == ["line_ref", "claim_id", "payee_reference"] and rows[-1][0] == "#control"
        lines = rows[1:-1]
        assert claim["id"] in [line[1] for line in lines]
        assert "王五" not in content.decode("utf-8")  # ids and amounts only, never a name

        # The bank pays this talent's line; any other claim of the policy left in the batch it refuses.
        result = "line_ref,status,bank_reference\n" + "".join(
            f"{line[0]},paid,BANK-{line[0]}\n" if line[1] == claim["id"] else f"{line[0]},failed,\n" for line in lines
        )
        result_file: FilePayload = {"name": "回盘.csv", "mimeType": "text/csv", "buffer": result.encode()}
        results = console.get_by_test_id("results-form")
        await results.get_by_label("回盘文件").set_input_files(files=result_file)
        await results.get_by_role("button", name="导入").click()
        await expect(console.get_by_test_id("outcome-paid")).to_have_text("拨付成功 1 笔")
        await expect(console.get_by_test_id("outcome-failed")).to_have_text(f"拨付失败 {len(lines) - 1} 笔")
        await expect(console.get_by_test_id("batch-status")).to_have_text("已结清")
        paid = (await gateway.get(f"/api/v1/me/claims/{claim['id']}", headers=talent)).json()
        assert paid["status"] == "disbursed" and paid["payment_reference"].startswith("BANK-")

        # The same file again changes nothing.
        results = console.get_by_test_id("results-form")
        await results.get_by_label("回盘文件").set_input_files(files=result_file)
        await results.get_by_role("button", name="导入").click()
        await expect(console.get_by_test_id("outcome-ignored")).to_have_text(f"已处理 {len(lines)} 笔")
        await expect(console.get_by_test_id("outcome-paid")).to_have_text("拨付成功 0 笔")

        await console.get_by_role("link", name="← 全部批次").click()
        budget = console.locator(f'tr[data-budget="{claim["policy_code"]}:{claim["year"]}"]')
        await expect(budget.get_by_test_id("paid")).not_to_contain_text("¥0.00")
        await expect(budget.get_by_test_id("consistent")).to_have_text("一致")
