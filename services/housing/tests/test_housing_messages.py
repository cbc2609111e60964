"""Housing speaks the caller's language: its problems and the reasons a talent may not apply come in zh-CN or
en per Accept-Language (English without one), and its catalogue is complete."""

from __future__ import annotations

import re
from pathlib import Path

import housing
from housing import exceptions
from housing.eligibility import CHECKS
from servicekit.messages import check_catalogue, load_catalogue

from .conftest import Platform
from .test_housing_offers import _drawn_round

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


def _keys_named_in_the_code() -> set[str]:
    source = Path(housing.__file__).parent
    return {
        m
        for f in source.glob("*.py")
        for m in re.findall(r'"(housing\.(?:error|invalid|reason)\.[a-z_]+)"', f.read_text())
    }


def test_the_catalogue_is_complete_in_both_languages_and_covers_every_error_and_reason() -> None:
    catalogue = load_catalogue("housing")
    keys = _keys_named_in_the_code()
    assert len(keys) > 40 and {f"housing.reason.{code}" for code, _ in CHECKS} <= keys
    assert check_catalogue(catalogue, exceptions=exceptions, keys=sorted(keys)) == []


class TestProblemsInTheCallersLanguage:
    async def test_a_missing_round_is_told_in_chinese_or_english(self, platform: Platform) -> None:
        zh = await platform.client.get("/api/v1/housing/rounds/no-such-round", headers=ZH)
        en = await platform.client.get("/api/v1/housing/rounds/no-such-round", headers=EN)
        plain = await platform.client.get("/api/v1/housing/rounds/no-such-round")
        assert zh.status_code == en.status_code == 404
        assert zh.json()["detail"] == "没有配租批次 no-such-round。"
        assert en.json()["detail"] == plain.json()["detail"] == "No allocation round no-such-round."
        assert zh.headers["content-language"] == "zh-CN"

    async def test_a_refused_renewal_and_a_field_error_are_worded_for_the_reader(self, platform: Platform) -> None:
        _, _, [(_, talent)] = await _drawn_round(platform, 1, [("D", 40)])
        offer = await platform.open_offer(talent)
        assert offer is not None
        await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        refused = await platform.client.post("/api/v1/me/housing/lease/renew", headers={**talent, **ZH})
        assert refused.status_code == 409 and refused.json()["detail"] == "D 类人才的租约不能续租。"
        moved = await platform.client.post(
            "/api/v1/me/housing/lease/move-out", json={"ended_on": "2000-01-01"}, headers={**talent, **ZH}
        )
        assert moved.status_code == 422, moved.text  # before the lease began: said in Chinese, field by field
        assert moved.json()["errors"][0]["message"].startswith("须在租约起始日")
