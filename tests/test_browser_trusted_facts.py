"""Trusted facts in a real browser (Debian's Chromium): a certified talent finds identity and decision facts
locked, with where each fact came from, and asks for a change with a document as evidence; the county reviewer
decides the change request in the console, and the talent's points follow.

The scene (a certified talent) is set up through the public API; what the talent and the reviewer do is done
by clicking in the pages.
"""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from .browser import app_access_token, certify, sign_in_to_the_app, sign_in_to_the_console, unique_phone

# A one-page PDF as small as they come: the service decides a document's type from its bytes.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# data/points.json, version 1: an intermediate title is worth 3 points.
INTERMEDIATE_TITLE_POINTS = 3


class TestACertifiedTalentsFactsAreLocked:
    async def test_the_talent_sees_locked_facts_and_asks_for_a_change(
        self, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        await certify(gateway, await app_access_token(app))

        # Identity and decision facts are locked, and the page says why and what to do instead.
        await app.goto("/app/#/me")
        note = app.get_by_test_id("lock-note")
        await expect(note).to_contain_text("身份信息")
        await expect(note).to_contain_text("变更申请")
        await expect(app.get_by_label("姓名")).not_to_be_editable()
        await expect(app.get_by_label("毕业院校")).not_to_be_editable()
        await expect(app.get_by_label("职称")).to_be_disabled()
        await expect(app.get_by_label("姓名").locator("xpath=..").get_by_test_id("lock")).to_have_text("已锁定")
        # Certifying confirmed the education the reviewers checked; the insured months are the talent's word.
        await expect(app.locator('label:has-text("学历") [data-provenance]')).to_have_text(re.compile(r"^已核验"))
        await expect(app.locator('label:has-text("本地社保缴纳月数") [data-provenance]')).to_have_text(
            re.compile(r"^自述")
        )

        # The talent asks for a change: a new title, with the certificate uploaded as evidence.
        await app.get_by_test_id("lock-note").get_by_role("link", name="申请变更").click()
        await expect(app.get_by_role("heading", name="申请变更")).to_be_visible()
        await app.get_by_label("职称", exact=True).select_option("intermediate")
        await app.get_by_label("变更理由").fill("已取得中级职称")
        await app.get_by_role("button", name="添加证明材料").click()
        await app.get_by_label("材料类型").select_option("title_certificate")
        await app.get_by_label("文件", exact=True).set_input_files(
            files={"name": "title.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        await expect(app.get_by_test_id("document-status")).to_contain_text("已上传")
        await app.get_by_role("button", name="提交变更申请").click()

        # Back on the me page, the request shows with its status and what it changes.
        request = app.locator("[data-change-request]")
        await expect(request.get_by_test_id("change-request-status")).to_have_text("审核中")
        await expect(request.locator('[data-fact="title"] .before')).to_have_text("无")
        await expect(request.locator('[data-fact="title"] .after')).to_have_text("中级")
        await expect(request).to_contain_text("证明材料 1 份")
        # One request at a time: no second one is offered while it waits.
        await expect(app.get_by_text("您有一项变更申请正在审核")).to_be_visible()


class TestTheCountyReviewerDecidesAChangeRequest:
    async def test_the_reviewer_approves_and_the_talents_points_change(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        await certify(gateway, token)
        talent = {"Authorization": f"Bearer {token}"}
        before = (await gateway.get("/api/v1/me/talent", headers=talent)).json()["points"]
        [certification] = (await gateway.get("/api/v1/me/certifications", headers=talent)).json()["items"]
        document = await gateway.post(
            "/api/v1/me/documents",
            files={"file": ("title.pdf", PDF, "application/pdf")},
            data={"kind": "title_certificate"},
            headers=talent,
        )
        assert document.status_code == 201, document.text
        response = await gateway.post(
            "/api/v1/me/change-requests",
            json={
                "changes": {"title": "intermediate"},
                "reason": "已取得中级职称",
                "evidence": [{"document_id": document.json()["id"]}],
            },
            headers=talent,
        )
        assert response.status_code == 201, response.text
        request_id = response.json()["id"]
        after = before + INTERMEDIATE_TITLE_POINTS

        await app.goto("/app/#/code")
        await app.reload()  # signing in landed on #/code already: the same hash would not render it again
        points = app.locator(".status-line span", has_text="积分").locator("strong")
        await expect(points).to_have_text(str(before))

        # The county reviewer finds the request in the region's queue: who, what changes, the points it gives.
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.get_by_role("link", name="变更申请审核").click()
        row = console.locator(f'tr[data-change-request="{request_id}"]')
        await expect(row).to_contain_text("王五")
        await expect(row.locator('[data-fact="title"] .before')).to_have_text("无")
        await expect(row.locator('[data-fact="title"] .after')).to_have_text("中级")
        await expect(row.get_by_test_id("points")).to_have_text(f"{before} → {after}")
        # The evidence opens in the console's document viewer.
        await row.get_by_role("button", name="查看").click()
        viewer = console.get_by_role("dialog")
        await expect(viewer.get_by_role("heading", name="职称证书")).to_be_visible()
        await viewer.get_by_role("button", name="关闭").click()
        await expect(viewer).to_have_count(0)

        # The case page: the title's current source, then approval with a reason.
        await row.get_by_role("button", name="打开").click()
        await expect(console.get_by_test_id("change-request-status")).to_have_text("待审核")
        await expect(console.locator('tr[data-fact="title"] [data-provenance]')).to_contain_text("已核验")
        await console.get_by_label("理由").fill("职称证书核验无误")
        await console.get_by_role("button", name="提交决定").click()
        await expect(console.get_by_test_id("change-request-status")).to_have_text("已通过")
        await expect(console.get_by_role("heading", name="审核结果")).to_be_visible()

        # The certification's case page says where the applicant's facts come from: the new title too.
        await console.goto(f"/console/#/certifications/{certification['id']}")
        provenance = console.get_by_test_id("provenance")
        await expect(provenance.locator("dd").first).to_contain_text("已核验")
        await expect(provenance).to_contain_text("职称")

        # The talent's points follow, and the request shows approved with the reviewer's reason.
        await app.reload()
        await expect(points).to_have_text(str(after))
        await app.goto("/app/#/me")
        request = app.locator(f'[data-change-request="{request_id}"]')
        await expect(request.get_by_test_id("change-request-status")).to_have_text("已通过")
        await expect(request.get_by_test_id("change-request-decision")).to_contain_text("职称证书核验无误")
