"""Applicant speaks the caller's language: its problems and field refusals come in zh-CN or en per
Accept-Language (English without one), and its catalogue is complete, the employer side and the trust list too."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import applicant
import httpx
from applicant.identity import InvalidIdentity, validate_identity
from servicekit.messages import check_catalogue, load_catalogue

from .conftest import profile_body, resident_id

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


def _modules() -> list[ModuleType]:
    """Every module of the service (exceptions, the employer and trust subpackages, whatever is added later)."""
    names = [m.name for m in pkgutil.walk_packages(applicant.__path__, "applicant.") if "migrations" not in m.name]
    return [importlib.import_module(name) for name in names]


def _keys_named_in_the_code() -> set[str]:
    source = Path(applicant.__file__).parent
    return {
        key
        for f in source.rglob("*.py")
        for key in re.findall(r'"(applicant\.(?:error|invalid)\.[a-z0-9_]+)"', f.read_text())
    }


def test_the_catalogue_is_complete_in_both_languages_and_covers_every_error_of_every_module() -> None:
    keys = _keys_named_in_the_code()
    assert len(keys) > 60  # the raise sites name their keys; a typo'd key is caught below
    assert check_catalogue(load_catalogue("applicant"), exceptions=_modules(), keys=sorted(keys)) == []


def test_keys_built_from_a_word_exist_too() -> None:
    # Keys assembled at run time (credit-code and key-set URL refusals) are spelled out here.
    built = ["credit_code_check", "credit_code_form", "jwks_url_not_http", "jwks_url_not_https"]
    catalogue = load_catalogue("applicant")
    assert all(f"applicant.invalid.{word}" in catalogue for word in built)


def test_an_identity_refusal_keeps_its_key_and_reads_in_english_in_logs() -> None:
    number = resident_id()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    try:
        validate_identity("resident_id", wrong)
    except InvalidIdentity as exc:
        assert exc.key == "applicant.invalid.resident_id_check"
        assert str(exc) == "the check digit of the resident identity number is wrong"
    else:
        raise AssertionError("a wrong check digit was accepted")


class TestProblemsInTheCallersLanguage:
    async def test_a_missing_profile_is_told_in_chinese_or_english(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        zh = await client.get("/api/v1/me/profile", headers={**talent, **ZH})
        en = await client.get("/api/v1/me/profile", headers={**talent, **EN})
        plain = await client.get("/api/v1/me/profile", headers=talent)
        assert zh.status_code == en.status_code == plain.status_code == 404
        assert zh.json()["detail"] == "您还没有个人档案，请先填写（PUT /api/v1/me/profile）。"
        assert en.json()["detail"] == plain.json()["detail"]
        assert en.json()["detail"] == "You have no profile yet; create it with PUT /api/v1/me/profile."
        assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"

    async def test_a_wrong_check_digit_is_refused_field_by_field_in_the_readers_language(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        number = resident_id()
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        body = profile_body(id_number=wrong)
        zh = await client.put("/api/v1/me/profile", json=body, headers={**talent, **ZH})
        en = await client.put("/api/v1/me/profile", json=body, headers={**talent, **EN})
        assert zh.status_code == en.status_code == 422
        assert zh.json()["detail"] == "id_number：居民身份证号码的校验码不正确"
        assert zh.json()["errors"] == [{"field": "id_number", "message": "居民身份证号码的校验码不正确"}]
        assert en.json()["errors"] == [
            {"field": "id_number", "message": "the check digit of the resident identity number is wrong"}
        ]

    async def test_a_refused_phone_is_worded_for_the_reader_and_names_no_number(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        body = profile_body(phone="+86 123")
        zh = await client.put("/api/v1/me/profile", json=body, headers={**talent, **ZH})
        assert zh.status_code == 422, zh.text
        assert zh.json()["errors"][0]["field"] == "phone"
        assert zh.json()["errors"][0]["message"].startswith("电话号码须为 E.164 格式")
        assert "123" not in zh.json()["detail"]
