"""Benefits speaks the caller's language: problems, eligibility reasons and claim history in zh-CN or en (per
Accept-Language), times in city time; partner events keep their English; the catalogue is complete."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import benefits
import httpx
from benefits import exceptions
from benefits.rules import EXCLUSIONS
from benefits.schemas import ClaimLimits
from contracts import LeaseStarted
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.messages import check_catalogue, load_catalogue
from servicekit.models import OutboxEvent
from sqlmodel import select

from .conftest import Events, certified, fire_timers, registered

Headers = dict[str, str]
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
CITY = ZoneInfo("Asia/Shanghai")


def _keys_named_in_the_code() -> set[str]:
    """Every literal catalogue key in the service's source, and every key an f-string builds from data."""
    source = Path(benefits.__file__).parent
    literal = re.compile(r'"(benefits\.(?:error|reason|details|history|stop|result_file)\.[a-z_]+)"')
    keys = {m for f in source.glob("*.py") for m in literal.findall(f.read_text())}
    frequency = get_args(ClaimLimits.model_fields["frequency"].annotation)
    keys |= {f"benefits.reason.already_claimed_{f}" for f in frequency}
    keys |= {f"benefits.reason.{exclusion}" for exclusion in EXCLUSIONS}
    keys |= {f"benefits.reason.{status}" for status in ("revoked", "expired", "not_certified_yet")}
    keys |= {f"benefits.error.not_appealable_{why}" for why in ("stopped", "automatic", "decided", "period_taken")}
    keys |= {f"benefits.error.budget_exhausted_{what}" for what in ("quota", "budget")}
    keys |= {f"benefits.result_file.{why}" for why in ("not_utf8", "empty", "header_not_csv", "header_lacks")}
    return keys


def test_the_catalogue_is_complete_in_both_languages_and_covers_every_error_and_reason() -> None:
    catalogue = load_catalogue("benefits")
    assert len(catalogue) > 60
    assert check_catalogue(catalogue, exceptions=exceptions, keys=sorted(_keys_named_in_the_code())) == []


def _city(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(CITY)


async def _certified(events: Events, talent_id: str, tier: str = "D") -> None:
    await events.apply(registered(talent_id))
    await events.apply(certified(talent_id, tier))


async def test_a_problem_is_chinese_for_a_chinese_caller_and_english_otherwise(
    client: httpx.AsyncClient, talent: Headers
) -> None:
    path = f"/api/v1/me/claims/{uuid.uuid4()}"
    zh = await client.get(path, headers=talent | ZH)
    assert zh.status_code == 404 and zh.headers["content-language"] == "zh-CN"
    assert (zh.json()["title"], zh.json()["detail"]) == ("未找到", "没有该申请，或您无权查看。")
    assert "Accept-Language" in zh.headers["vary"]
    for headers in (EN, {}):
        en = await client.get(path, headers=talent | headers)
        assert en.json()["detail"] == "There is no such claim, or it is not yours to see."
        assert en.headers["content-language"] == "en"


async def test_eligibility_reasons_are_in_the_callers_language(client: httpx.AsyncClient, talent: Headers) -> None:
    zh = await client.get("/api/v1/me/eligibility", headers=talent | ZH)
    assert zh.headers["content-language"] == "zh-CN"
    assert {i["reasons"][0]["message"] for i in zh.json()["items"]} == {"我们尚无您的人才认定或个人资料记录。"}
    en = await client.get("/api/v1/me/eligibility", headers=talent | EN)
    assert {i["reasons"][0]["message"] for i in en.json()["items"]} == {
        "We have no record of your certification or profile yet."
    }
    assert [i["reasons"][0]["code"] for i in zh.json()["items"]] == [
        i["reasons"][0]["code"] for i in en.json()["items"]
    ]


async def test_a_refused_claim_lists_its_reasons_and_field_errors_in_chinese(
    client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
) -> None:
    await _certified(events, talent_id, tier="E")
    refused = await client.post("/api/v1/me/claims", json={"policy_code": "HOUSING_VOUCHER"}, headers=talent | ZH)
    assert refused.status_code == 422
    body = refused.json()
    [reason] = body["reasons"]
    assert reason["code"] == "tier" and reason["message"].startswith("E 类人才不符合条件")
    assert body["errors"] == [{"field": "policy_code", "message": reason["message"]}]
    assert body["detail"].startswith("您不符合 HOUSING_VOUCHER 的申请条件：E 类人才不符合条件")
    invalid = await client.post(
        "/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY", "colour": "red"}, headers=talent | ZH
    )
    assert invalid.status_code == 422 and {"field": "colour", "message": "未知字段"} in invalid.json()["errors"]


async def test_a_stopped_claim_reads_in_each_readers_language_and_its_event_stays_english(
    client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, benefits_app: FastAPI
) -> None:
    await _certified(events, talent_id)
    rent = (await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)).json()
    await events.apply(
        LeaseStarted(
            lease_id="lease-1",
            talent_id=talent_id,
            unit_id="unit-1",
            starts_on=date.today(),
            ends_on=date.today() + timedelta(days=365),
            monthly_rent_fen=150000,
        )
    )
    zh = (await client.get(f"/api/v1/me/claims/{rent['id']}", headers=talent | ZH)).json()
    assert zh["history"][-1]["reason"] == "已终止：人才公寓租约已开始"
    assert zh["reasons"] == [{"code": "active_lease", "message": "人才公寓租约已开始"}]
    en = (await client.get(f"/api/v1/me/claims/{rent['id']}", headers=talent | EN)).json()
    assert en["history"][-1]["reason"] == "stopped: a talent-apartment lease started"
    assert en["reasons"] == [{"code": "active_lease", "message": "a talent-apartment lease started"}]
    async with benefits_app.state.database.sessionmaker() as session:
        decided = [
            json.loads(e.payload)["data"]
            for e in (await session.exec(select(OutboxEvent))).all()
            if e.event_type == "talent.benefits.claim.decided.v1"
        ]
    assert any(d.get("reason") == "stopped: a talent-apartment lease started" for d in decided)


async def _publicized_claim(
    client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, officials: dict[str, Headers]
) -> dict[str, Any]:
    await _certified(events, talent_id)
    claim = (await client.post("/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY"}, headers=talent)).json()
    decision = {"decision": "approve", "reason": "材料齐全"}
    for official in ("reviewer.nanhu", "approver.city"):
        decided = await client.post(
            f"/api/v1/reviews/claims/{claim['id']}/decisions", json=decision, headers=officials[official]
        )
        assert decided.status_code == 200, decided.text
    body: dict[str, Any] = decided.json()
    return body


async def test_public_notice_lines_show_city_time_in_the_readers_format(
    client: httpx.AsyncClient,
    events: Events,
    talent: Headers,
    talent_id: str,
    officials: dict[str, Headers],
    benefits_app: FastAPI,
) -> None:
    claim = await _publicized_claim(client, events, talent, talent_id, officials)
    until = _city(claim["publicized_until"])
    path = f"/api/v1/me/claims/{claim['id']}"
    zh = (await client.get(path, headers=talent | ZH)).json()["history"]
    assert zh[-1]["reason"] == f"公示至 {until.year}年{until.month}月{until.day}日 {until:%H:%M}"
    assert zh[-2]["reason"] == "材料齐全"  # an official's own words are shown as written
    en = (await client.get(path, headers=talent | EN)).json()["history"]
    assert en[-1]["reason"] == f"on public notice until {until.day} {until:%b} {until.year}, {until:%H:%M} (UTC+8)"

    early = await client.post(
        f"/api/v1/reviews/claims/{claim['id']}/disbursement",
        json={"payment_reference": "PAY-1"},
        headers=officials["finance.city"] | ZH,
    )
    assert early.status_code == 409
    assert early.json()["detail"].startswith(f"该申请公示至 {until.year}年{until.month}月{until.day}日")

    await fire_timers(benefits_app, utcnow() + timedelta(hours=2))
    ended = (await client.get(path, headers=talent | ZH)).json()["history"]
    assert ended[-1]["reason"] == "公示期满，无异议"


async def test_a_refused_item_of_a_batch_decision_reads_like_the_single_decisions_problem(
    client: httpx.AsyncClient, talent: Headers, officials: dict[str, Headers]
) -> None:
    unknown = str(uuid.uuid4())
    body = {"claim_ids": [unknown], "decision": "approve", "reason": "ok"}
    batch = await client.post(
        "/api/v1/reviews/claims/batch-decisions", json=body, headers=officials["reviewer.nanhu"] | ZH
    )
    assert batch.status_code == 200, batch.text
    [item] = batch.json()["items"]
    single = await client.post(
        f"/api/v1/reviews/claims/{unknown}/decisions",
        json={"decision": "approve", "reason": "ok"},
        headers=officials["reviewer.nanhu"] | ZH,
    )
    assert single.status_code == 404
    assert item["problem"]["detail"] == single.json()["detail"]
    assert (item["problem"]["title"], item["problem"]["detail"]) == ("未找到", "没有该申请，或您无权查看。")
