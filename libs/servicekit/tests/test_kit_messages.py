"""Messages in the caller's language: negotiation, keyed problems in zh-CN and en, city-time formats, and the
catalogue check every service's tests run."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from servicekit import messages
from servicekit.messages import check_catalogue, format_date, format_datetime, format_fen, negotiate, render
from servicekit.middleware import RequestContextMiddleware
from servicekit.problems import Conflict, DomainError, NotFound, install_problem_handlers

TEST_CATALOGUE = {
    "kittest.widget_missing": {"zh-CN": "没有编号为 {number} 的部件。", "en": "There is no widget {number}."},
    "kittest.on_notice": {"zh-CN": "公示至 {until:datetime}", "en": "on public notice until {until:datetime}"},
    "kittest.field_taken": {"zh-CN": "已被占用", "en": "already taken"},
}
messages.register_catalogue("kittest", TEST_CATALOGUE)


class WidgetMissing(NotFound):
    key = "kittest.widget_missing"

    def __init__(self, number: int) -> None:
        super().__init__(params={"number": number})


class OnNotice(Conflict):
    key = "kittest.on_notice"

    def __init__(self, until: datetime) -> None:
        super().__init__(
            params={"until": until.isoformat()},
            errors=[{"field": "name", "key": "kittest.field_taken"}],
        )


class WidgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3)


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/widgets/{number}")
    async def widget(number: int) -> dict[str, str]:
        """Always missing."""
        raise WidgetMissing(number)

    @app.post("/widgets")
    async def create(body: WidgetIn) -> dict[str, str]:
        """Always on notice."""
        raise OnNotice(datetime(2026, 12, 6, 21, 44, 21, 598975, tzinfo=UTC))

    @app.get("/note")
    async def note() -> dict[str, str]:
        """A success body with a rendered text."""
        return {"note": render("kittest.field_taken")}

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        """A success body without any rendered text."""
        return {"ok": "yes"}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("ZH-cn", "zh-CN"),
        ("en-US", "en"),
        ("en", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en;q=0.5, zh-CN;q=0.9", "zh-CN"),
        ("en-GB,en;q=0.9,zh;q=0.8", "en"),
        ("fr-FR, zh;q=0.3", "zh-CN"),
        ("fr-FR", "en"),
        ("*", "en"),
        ("en;q=0, *", "zh-CN"),
        ("zh;q=0, en;q=0", "en"),
        ("zh-CN;q=garbage, en;q=0.1", "en"),
        ("not a language tag!!, zh", "zh-CN"),
    ],
)
def test_negotiation_picks_the_supported_language_the_caller_prefers(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_negotiation_falls_back_to_the_given_default() -> None:
    assert negotiate(None, "zh-CN") == "zh-CN"
    assert negotiate("fr", "zh-CN") == "zh-CN"


async def test_a_keyed_problem_is_rendered_in_chinese_for_a_chinese_caller(client: httpx.AsyncClient) -> None:
    response = await client.get("/widgets/7", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 404
    body = response.json()
    assert body["detail"] == "没有编号为 7 的部件。"
    assert body["title"] == "未找到"
    assert response.headers["content-language"] == "zh-CN"
    assert "Accept-Language" in response.headers["vary"]


async def test_the_same_problem_is_english_for_an_english_caller_and_without_a_header(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({"Accept-Language": "en-US"}, {}):
        response = await client.get("/widgets/7", headers=headers)
        body = response.json()
        assert (body["title"], body["detail"]) == ("Not found", "There is no widget 7.")
        assert response.headers["content-language"] == "en"


async def test_times_in_a_problem_are_city_time_and_keyed_field_errors_are_translated(
    client: httpx.AsyncClient,
) -> None:
    zh = (await client.post("/widgets", json={"name": "abc"}, headers={"Accept-Language": "zh-CN"})).json()
    assert zh["detail"] == "公示至 2026年12月7日 05:44"
    assert zh["errors"] == [{"field": "name", "message": "已被占用"}]
    en = (await client.post("/widgets", json={"name": "abc"}, headers={"Accept-Language": "en"})).json()
    assert en["detail"] == "on public notice until 7 Dec 2026, 05:44 (UTC+8)"
    assert en["errors"] == [{"field": "name", "message": "already taken"}]


async def test_validation_errors_are_translated_by_error_type(client: httpx.AsyncClient) -> None:
    zh = await client.post("/widgets", json={"name": "a", "colour": "red"}, headers={"Accept-Language": "zh"})
    assert zh.status_code == 422
    body = zh.json()
    assert {"field": "name", "message": "至少 3 个字符"} in body["errors"]
    assert {"field": "colour", "message": "未知字段"} in body["errors"]
    assert body["detail"].startswith("请求内容有误：") and body["title"] == "内容无法处理"
    en = (await client.post("/widgets", json={"name": "a", "colour": "red"})).json()
    assert {"field": "colour", "message": "unknown field"} in en["errors"]
    assert en["detail"].startswith("The request is invalid: ")
    malformed = await client.post(
        "/widgets", content=b"{", headers={"Content-Type": "application/json", "Accept-Language": "zh-CN"}
    )
    assert (malformed.status_code, malformed.json()["detail"]) == (400, "请求正文不是有效的 JSON。")


async def test_an_unrouted_path_is_explained_in_the_callers_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"Accept-Language": "zh-CN"})
    assert response.json()["detail"] == "/nowhere 处没有资源。"


async def test_success_responses_say_their_language_only_when_they_rendered_a_message(
    client: httpx.AsyncClient,
) -> None:
    note = await client.get("/note", headers={"Accept-Language": "zh-CN"})
    assert note.json() == {"note": "已被占用"}
    assert note.headers["content-language"] == "zh-CN" and note.headers["vary"] == "Accept-Language"
    plain = await client.get("/plain", headers={"Accept-Language": "zh-CN"})
    assert "content-language" not in plain.headers


def test_an_unkeyed_domain_error_keeps_its_english_detail() -> None:
    error = Conflict("Something specific happened.")
    assert (error.key, error.detail, str(error)) == (None, "Something specific happened.", error.detail)
    keyed = WidgetMissing(3)
    assert keyed.detail == "There is no widget 3."  # logs and str() read English whatever the caller's language


def test_formatters_write_dates_times_and_amounts_as_a_reader_expects() -> None:
    moment = datetime(2026, 12, 31, 17, 5, tzinfo=UTC)  # already 1 January in the city
    assert format_datetime(moment, "zh-CN") == "2027年1月1日 01:05"
    assert format_datetime(moment.isoformat(), "en") == "1 Jan 2027, 01:05 (UTC+8)"
    assert format_date(date(2026, 3, 9), "zh-CN") == "2026年3月9日"
    assert format_date("2026-03-09", "en") == "9 Mar 2026"
    assert format_fen(123450, "zh-CN") == "1,234.50元"
    assert format_fen(5, "en") == "CNY 0.05"


def test_an_unknown_key_or_missing_parameter_renders_the_fallback_not_an_error() -> None:
    assert render("kittest.no_such_key", fallback="English text") == "English text"
    assert render("kittest.widget_missing", {}, "en", fallback="fallback") == "fallback"


def test_the_catalogue_check_finds_a_missing_locale_a_placeholder_mismatch_and_an_unkeyed_error() -> None:
    class Keyless(DomainError):
        pass

    class Unknown(DomainError):
        key = "kittest.not_there"

    module = types.ModuleType("kittest_exceptions")
    for cls in (Keyless, Unknown, WidgetMissing):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    broken = {
        "a.only_chinese": {"zh-CN": "只有中文"},
        "a.placeholders": {"zh-CN": "{count} 个", "en": "{number} items"},
        "a.formats": {"zh-CN": "{until:datetime}", "en": "{until}"},
        "a.bad_format": {"zh-CN": "{x:money}", "en": "{x:money}"},
        "a.fine": {"zh-CN": "好", "en": "fine"},
    }
    problems = check_catalogue(broken, exceptions=module, keys=["a.fine", "a.missing"])
    assert problems == [
        "a.bad_format: unknown format 'money'",
        "a.formats: placeholders differ: zh-CN ['until:datetime'] vs en ['until:']",
        "a.only_chinese: no text for en",
        "a.placeholders: placeholders differ: zh-CN ['count:'] vs en ['number:']",
        "kittest_exceptions.Keyless: no message key",
        "kittest_exceptions.Unknown: key kittest.not_there not in the catalogue",
        "a.missing: not in the catalogue",
    ]


def test_the_kits_own_catalogue_is_complete() -> None:
    from servicekit import rulebook, workflow

    keys = [f"title.{status}" for status in (400, 401, 403, 404, 409, 413, 422, 429, 500, 503)]
    assert check_catalogue(messages.load_catalogue("servicekit"), exceptions=[workflow, rulebook], keys=keys) == []
