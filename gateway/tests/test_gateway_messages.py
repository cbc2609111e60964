"""The gateway answers in the caller's language: sign-in, rate-limit, routing and proxy problems in zh-CN or en
(per Accept-Language), OAuth error codes unchanged; the caller's language reaches the services; the catalogue
is complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from servicekit.messages import check_catalogue, load_catalogue

import gateway
from gateway import exceptions

PHONE = "+8613800000001"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.8"}


def test_the_catalogue_is_complete_in_both_languages_and_covers_every_error() -> None:
    source = Path(gateway.__file__).parent
    # Keys look like gateway.<area>.<name> (logger names are gateway.<module>), plus two one-part ones.
    literal = re.compile(r'"(gateway\.(?:oauth|phone|otp|auth|upstream|field|employer)\.[a-z_]+)"')
    named = {m for f in source.glob("*.py") for m in literal.findall(f.read_text())}
    named |= {"gateway.rate_limited", "gateway.route_not_found"}
    catalogue = load_catalogue("gateway")
    assert check_catalogue(catalogue, exceptions=exceptions, keys=sorted(named)) == []
    assert "gateway.oauth.wrong_credentials" in named  # the scan finds the keys the code names


async def test_a_wrong_code_is_explained_in_chinese_and_english_with_the_oauth_code_unchanged(
    gateway: Any, problem: Any
) -> None:
    await gateway.otp_code(PHONE)
    form = {"grant_type": "otp", "phone": PHONE, "code": "000000x"}
    zh = problem(await gateway.client.post("/api/v1/auth/token", data=form, headers=ZH))
    assert (zh["title"], zh["error"]) == ("授权无效", "invalid_grant")
    assert re.fullmatch(r"验证码错误；还可尝试 \d 次。", zh["detail"]), zh["detail"]
    en = await gateway.client.post("/api/v1/auth/token", data=form, headers=EN)
    assert en.headers["content-language"] == "en" and en.headers["cache-control"] == "no-store"
    assert re.fullmatch(r"The code is wrong; \d attempt\(s\) left\.", problem(en)["detail"])
    assert problem(en)["title"] == "Invalid grant"


async def test_a_wrong_password_and_an_unknown_grant_type_in_chinese(gateway: Any, problem: Any) -> None:
    form = {"grant_type": "password", "username": "reviewer.nanhu", "password": "not-the-password"}
    wrong = await gateway.client.post("/api/v1/auth/token", data=form, headers=ZH)
    assert wrong.status_code == 400 and problem(wrong)["detail"] == "用户名或密码错误。"
    assert wrong.headers["content-language"] == "zh-CN" and "Accept-Language" in wrong.headers["vary"]
    unknown = await gateway.client.post("/api/v1/auth/token", data={"grant_type": "magic"}, headers=ZH)
    assert problem(unknown)["detail"].startswith("不支持 grant_type=magic")


async def test_an_invalid_phone_names_the_field_in_the_callers_language(gateway: Any, problem: Any) -> None:
    zh = problem(await gateway.client.post("/api/v1/auth/otp", json={"phone": "+86057312345678"}, headers=ZH))
    assert zh["errors"] == [{"field": "phone", "message": "中国大陆号码须为手机号：+86 加以 13-19 开头的 11 位数字"}]
    assert zh["detail"].startswith("phone：中国大陆号码须为手机号")
    en = problem(await gateway.client.post("/api/v1/auth/otp", json={"phone": "+86057312345678"}))
    assert "mobile" in en["detail"] and en["errors"][0]["message"].startswith("a mainland China number")


async def test_rate_limits_say_how_long_to_wait_in_chinese(start_gateway: Any, problem: Any) -> None:
    gw = await start_gateway(rate_limit_read_per_minute=1)
    assert (await gw.client.get("/api/v1/policies")).status_code == 200
    limited = await gw.client.get("/api/v1/policies", headers=ZH)
    assert limited.status_code == 429
    body = problem(limited)
    assert body["title"] == "请求过于频繁"
    assert body["detail"] == f"请求过于频繁；请 {body['retry_after']} 秒后重试。"


async def test_routing_and_token_problems_are_chinese(gateway: Any, problem: Any) -> None:
    missing = problem(await gateway.client.get("/api/v1/nowhere/at-all", headers=ZH))
    assert missing["detail"] == "/api/v1/nowhere/at-all 处没有 API 资源。"
    no_token = await gateway.client.get("/api/v1/me/claims", headers=ZH)
    assert no_token.status_code == 401
    assert problem(no_token)["detail"] == "此资源需要通过 POST /api/v1/auth/token 获取的 Bearer 令牌。"
    bad_token = await gateway.client.get("/api/v1/me/claims", headers=ZH | {"Authorization": "Bearer not.a.jwt"})
    assert bad_token.status_code == 401 and problem(bad_token)["detail"] == "Bearer 令牌格式有误。"
    talent = await gateway.bearer("talent")
    forbidden = await gateway.client.get("/api/v1/reviews/claims", headers=ZH | talent)
    assert forbidden.status_code == 403 and problem(forbidden)["detail"].startswith("此操作需要以下角色之一：")


async def test_a_service_that_is_down_is_explained_in_chinese(start_gateway: Any, dead_url: str, problem: Any) -> None:
    gw = await start_gateway(housing_url=dead_url)
    response = await gw.client.get("/api/v1/housing/projects", headers=ZH)
    assert response.status_code == 503 and problem(response)["detail"] == "housing 服务暂不可用；请稍后重试。"


async def test_the_callers_language_reaches_the_service(gateway: Any) -> None:
    headers = await gateway.bearer("talent")
    echoed = await gateway.client.get("/api/v1/me/claims", headers=headers | ZH)
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["headers"]["accept-language"] == ZH["Accept-Language"]
