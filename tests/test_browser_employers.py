"""Employers (用人单位) in a real browser (Debian's Chromium): the employer signs in to the console, finds a talent
who named it on its staff, attests the talent's employment (with insured months other than the talent's, so the
attestation blocks), files a recommendation (举荐) and declares a demand; the talent sees the attestation in the
app, cites the recommendation in a certification, and finds the demand among the public jobs; the county
reviewer's case page shows the recommendation and the blocking attestation.

The scene (a registered talent naming the employer) is set up through the public API; what the employer, the
talent and the reviewer do is done by clicking in the pages.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, date, datetime, timedelta

import httpx
from playwright.async_api import Locator, Page, expect

from .browser import (
    app_access_token,
    official_headers,
    resident_id,
    sign_in_to_the_app,
    sign_in_to_the_console,
    sign_out_of_the_console,
    unique_phone,
)

EMPLOYER_USER = "employer.demo"  # the dev employer account (TALENT_ENV=dev)
EMPLOYER_NAME = "嘉兴某科技有限公司"
CREDIT_CODE = "91330402MA2B3C4D53"
DECLARED_MONTHS = 6
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


async def register(gateway: httpx.AsyncClient, talent_token: str, name: str) -> str:
    """A talent's profile naming the dev employer (their consent to be on its staff), six insured months; the
    talent's id."""
    today = datetime.now(UTC).date()
    # A birth date and sequence of its own, so the identity number collides with no other test's on the stack.
    birth = date(today.year - 27, 1, 1) + timedelta(days=secrets.randbelow(360))
    profile = {
        "name": name,
        "id_type": "resident_id",
        "id_number": resident_id(birth, os.getpid() + secrets.randbelow(1000)),
        "birth_date": birth.isoformat(),
        "locale": "zh-CN",
        "region_code": "330402",
        "education": {
            "degree": "master",
            "school": "浙江大学",
            "graduated_on": (today - timedelta(days=400)).isoformat(),
        },
        "employer": {"name": EMPLOYER_NAME, "credit_code": CREDIT_CODE, "region_code": "330402"},
        "social_insurance_months": DECLARED_MONTHS,
        "owns_home_in_city": False,
    }
    response = await gateway.put(
        "/api/v1/me/profile", json=profile, headers={"Authorization": f"Bearer {talent_token}"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["talent_id"])


async def find_on_staff(console: Page, talent_id: str) -> Locator:
    """The talent's row on the staff page: the list is in the order talents registered, so on a stack other
    tests share, a new talent may be pages on; "more" is clicked while the row is not there yet."""
    row = console.locator(f'tr[data-talent="{talent_id}"]')
    more = console.get_by_role("button", name="更多")
    await expect(console.locator("tr[data-talent]").first).to_be_visible()
    while not await row.count():
        await expect(more).to_be_visible()  # a next page exists; if not, the talent is missing from the staff
        shown = await console.locator("tr[data-talent]").count()
        await more.click()
        await expect(console.locator("tr[data-talent]")).not_to_have_count(shown)
    return row


class TestAnEmployerAttestsRecommendsAndDeclaresDemand:
    async def test_the_employer_the_talent_and_the_reviewer_each_see_their_part(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        token = await app_access_token(app)
        talent_id = await register(gateway, token, "赵六")
        employed_since = (datetime.now(UTC).date() - timedelta(days=300)).isoformat()

        # The employer finds the talent on its staff, not yet attested, and opens their page.
        await sign_in_to_the_console(console, EMPLOYER_USER)
        await console.locator("#nav").get_by_role("link", name="本单位人才").click()
        row = await find_on_staff(console, talent_id)
        await expect(row).to_contain_text("赵六")
        await expect(row.get_by_test_id("attestation-state")).to_have_text("未核验")
        await row.get_by_role("button", name="打开").click()

        # It attests the employment with eight insured months where the talent declared six: the employer is
        # attested, the months differ, and the page says the attestation sends the talent's claims to review.
        await console.get_by_label("入职日期").fill(employed_since)
        await console.get_by_label("岗位").fill("芯片设计工程师")
        await console.get_by_label("本地社保缴纳月数").fill(str(DECLARED_MONTHS + 2))
        await console.get_by_label("确认在职").check()
        await console.get_by_role("button", name="提交核验").click()
        standing = console.get_by_test_id("standing-attestation")
        await expect(standing.get_by_test_id("attestation-outcome")).to_have_text("确认在职")
        await expect(standing.get_by_test_id("attested-facts")).to_have_text("工作单位")
        await expect(standing.get_by_test_id("mismatched-facts")).to_have_text("本地社保缴纳月数")
        await expect(standing.get_by_test_id("attestation-blocking")).to_be_visible()

        # It recommends the talent for tier E; the recommendation is listed as filed.
        await console.get_by_label("申报层次").select_option("E")
        await console.get_by_label("举荐理由").fill("主持本单位芯片设计项目，成果已量产")
        await console.get_by_role("button", name="提交举荐").click()
        filed = console.get_by_test_id("recommendation-result").locator("[data-recommendation]")
        await expect(filed).to_contain_text("已提交举荐")
        recommendation_id = await filed.get_attribute("data-recommendation")
        await console.locator("#nav").get_by_role("link", name="举荐", exact=True).click()
        listed = console.locator(f'tr[data-recommendation="{recommendation_id}"]')
        await expect(listed.get_by_test_id("recommendation-status")).to_have_text("已举荐")
        await expect(listed).to_contain_text("E 类 青年人才")

        # It declares a demand from the published categories; the declaration is open.
        post = f"集成电路验证工程师 {secrets.token_hex(3)}"
        await console.locator("#nav").get_by_role("link", name="人才需求申报").click()
        await console.get_by_label("岗位名称").fill(post)
        await console.get_by_label("需求人数").fill("3")
        await console.get_by_label("紧缺人才类别").select_option("集成电路")
        await console.get_by_label("学历").select_option("master")
        await console.get_by_role("button", name="提交申报").click()
        declared = console.locator("tr[data-demand]", has_text=post)
        await expect(declared.get_by_test_id("demand-status")).to_have_text("招聘中")

        # The talent sees what the employer attested and what differs.
        await app.goto("/app/#/me")
        attestation = app.get_by_test_id("attestations").locator("[data-attestation]")
        await expect(attestation).to_contain_text(EMPLOYER_NAME)
        await expect(attestation.get_by_test_id("attestation-outcome")).to_have_text("确认在职")
        await expect(attestation.get_by_test_id("attested-facts")).to_contain_text("工作单位")
        await expect(attestation.get_by_test_id("mismatched-facts")).to_contain_text("本地社保缴纳月数")
        await expect(attestation.get_by_test_id("mismatched-facts")).to_contain_text(f"{DECLARED_MONTHS + 2} 个月")

        # The talent applies on the employer-recommendation route, citing the recommendation (its tier comes with it).
        await app.get_by_role("link", name="申请人才认定").click()
        await app.get_by_label("认定途径").select_option("employer_recommendation")
        picker = app.get_by_label("单位举荐")
        await expect(picker).to_have_value(str(recommendation_id))
        await expect(picker.locator("option:checked")).to_contain_text(EMPLOYER_NAME)
        await expect(app.get_by_label("申报层次")).to_have_value("E")
        await app.get_by_label("文件", exact=True).set_input_files(
            files={"name": "recommendation.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        await expect(app.get_by_test_id("evidence-sha256")).to_contain_text("SHA-256")
        await app.get_by_role("button", name="提交认定申请").click()
        await expect(app.locator("[data-certification]")).to_contain_text("用人单位举荐")
        talent = {"Authorization": f"Bearer {token}"}
        [certification] = (await gateway.get("/api/v1/me/certifications", headers=talent)).json()["items"]

        # The open demand is among the public jobs, by its category.
        await app.goto("/app/#/jobs")
        await app.get_by_label("紧缺人才类别").select_option("集成电路")
        job = app.locator("[data-demand]", has_text=post)
        await expect(job).to_contain_text(EMPLOYER_NAME)
        await expect(job).to_contain_text("招 3 人")

        # The county reviewer's case page shows the recommendation cited and the blocking attestation.
        await sign_out_of_the_console(console)
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.goto(f"/console/#/certifications/{certification['id']}")
        recommendation = console.get_by_test_id("recommendation")
        await expect(recommendation).to_contain_text(EMPLOYER_NAME)
        await expect(recommendation).to_contain_text("E 类 青年人才")
        await expect(recommendation).to_contain_text("主持本单位芯片设计项目")
        reviewed = console.get_by_test_id("attestation")
        await expect(reviewed.get_by_test_id("attestation-blocking")).to_be_visible()
        await expect(reviewed.get_by_test_id("mismatched-facts")).to_have_text("本地社保缴纳月数")


class TestAnEmployerTakesBackWhatItSaid:
    async def test_a_dispute_is_revoked_and_a_demand_closed(
        self, console: Page, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        talent_id = await register(gateway, await app_access_token(app), "孙八")

        # The employer disputes the employment, saying why.
        await sign_in_to_the_console(console, EMPLOYER_USER)
        await console.locator("#nav").get_by_role("link", name="本单位人才").click()
        await (await find_on_staff(console, talent_id)).get_by_role("button", name="打开").click()
        await console.get_by_label("入职日期").fill((datetime.now(UTC).date() - timedelta(days=30)).isoformat())
        await console.get_by_label("本地社保缴纳月数").fill("0")
        await console.get_by_label("不认可").check()
        await console.get_by_label("说明").fill("本单位无此员工的劳动合同")
        await console.get_by_role("button", name="提交核验").click()
        standing = console.get_by_test_id("standing-attestation")
        await expect(standing.get_by_test_id("attestation-outcome")).to_have_text("不认可")
        await expect(standing.get_by_test_id("attested-facts")).to_have_text("无")
        await expect(standing.get_by_test_id("attestation-blocking")).to_be_visible()

        # The talent reads the dispute and the employer's note.
        await app.goto("/app/#/me")
        card = app.get_by_test_id("attestations").locator("[data-attestation]")
        await expect(card.get_by_test_id("dispute")).to_contain_text("单位不认可您在该单位在职")
        await expect(card.get_by_test_id("employer-note")).to_have_text("本单位无此员工的劳动合同")

        # The employer revokes it: the first click asks, the second revokes; the talent is not attested again.
        revoke = standing.get_by_role("button", name="撤销核验")
        await revoke.click()
        await standing.get_by_role("button", name="确认撤销？再次点击撤销").click()
        await expect(console.get_by_test_id("standing-attestation")).to_contain_text("尚未核验")
        await console.get_by_role("link", name="← 本单位人才").click()
        await expect((await find_on_staff(console, talent_id)).get_by_test_id("attestation-state")).to_have_text(
            "未核验"
        )
        await app.reload()
        await expect(card.get_by_test_id("attestation-status")).to_have_text("单位已撤销")

        # A demand declared is closed in two clicks and leaves the public list.
        post = f"数字经济产品经理 {secrets.token_hex(3)}"
        await console.locator("#nav").get_by_role("link", name="人才需求申报").click()
        await console.get_by_label("岗位名称").fill(post)
        await console.get_by_label("紧缺人才类别").select_option("数字经济")
        await console.get_by_role("button", name="提交申报").click()
        declared = console.locator("tr[data-demand]", has_text=post)
        await expect(declared.get_by_test_id("demand-status")).to_have_text("招聘中")
        await declared.get_by_role("button", name="关闭").click()
        await declared.get_by_role("button", name="确认关闭？再次点击关闭").click()
        await expect(declared.get_by_test_id("demand-status")).to_have_text("已关闭")
        public = (await gateway.get("/api/v1/demands", params={"shortage_category": "数字经济", "limit": 200})).json()
        assert post not in [d["title"] for d in public["items"]]


class TestTheRecommendationRouteNeedsARecommendation:
    async def test_without_one_the_form_says_the_employer_must_file_it_first(
        self, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        await sign_in_to_the_app(app, unique_phone())
        await register(gateway, await app_access_token(app), "钱七")

        await app.goto("/app/#/me/certify")
        await app.get_by_label("认定途径").select_option("employer_recommendation")
        await expect(app.get_by_test_id("no-recommendation")).to_contain_text("工作单位先在人才码工作台为您提交举荐")
        await expect(app.get_by_test_id("recommendation-picker")).to_be_hidden()


class TestJobsArePublic:
    async def test_anyone_browses_the_open_demands_without_signing_in(
        self, app: Page, gateway: httpx.AsyncClient
    ) -> None:
        post = f"新材料研发工程师 {secrets.token_hex(3)}"
        response = await gateway.post(
            "/api/v1/employer/demands",
            json={"title": post, "count": 2, "shortage_category": "新材料", "degree": "doctor"},
            headers=await official_headers(gateway, EMPLOYER_USER),
        )
        assert response.status_code == 201, response.text

        await app.goto("/app/")
        await app.get_by_role("link", name="浏览用人单位的人才需求（无需登录）").click()
        await expect(app.get_by_role("heading", name="人才需求")).to_be_visible()
        await app.get_by_label("紧缺人才类别").select_option("新材料")
        await app.get_by_label("学历").select_option("doctor")
        job = app.locator("[data-demand]", has_text=post)
        await expect(job).to_contain_text(EMPLOYER_NAME)
        await expect(job).to_contain_text("博士及以上")
        # Another category's list does not show it.
        await app.get_by_label("紧缺人才类别").select_option("集成电路")
        await expect(app.get_by_test_id("jobs")).not_to_contain_text(post)
