"""Notify's problems come in the caller's language (zh-CN or en per Accept-Language, English without one), and
its message catalogue is complete in both."""

from __future__ import annotations

import re
from pathlib import Path

import notify
import pytest
from notify import exceptions
from notify.targets import InvalidTarget, check_url
from servicekit.messages import check_catalogue, load_catalogue, render


def _keys_named_in_the_code() -> set[str]:
    source = Path(notify.__file__).parent
    pattern = r'"(notify\.(?:error|invalid)\.[a-z_]+)"'
    return {m for f in source.glob("*.py") for m in re.findall(pattern, f.read_text())}


def test_the_catalogue_is_complete_in_both_languages_and_covers_every_error() -> None:
    keys = _keys_named_in_the_code()
    assert len(keys) > 20
    assert check_catalogue(load_catalogue("notify"), exceptions=exceptions, keys=sorted(keys)) == []


@pytest.mark.parametrize(
    ("url", "zh"),
    [("ftp://example.org/hook", "必须是 http 或 https URL"), ("https://user:pw@example.org/", "不能包含账号密码")],
)
async def test_a_refused_webhook_url_says_why_in_either_language(url: str, zh: str) -> None:
    with pytest.raises(InvalidTarget) as refused:
        await check_url(url, allow_private=False)
    assert render(refused.value.key, refused.value.params, "zh-CN").startswith(zh)
    assert str(refused.value) == render(refused.value.key, refused.value.params, "en")


def test_a_field_error_is_worded_for_the_reader_and_logged_in_english() -> None:
    error = exceptions.InvalidField("quiet_hours", "notify.invalid.quiet_hours_equal")
    assert error.detail == "quiet_hours: start and end must differ"
    assert error.errors == [{"field": "quiet_hours", "key": "notify.invalid.quiet_hours_equal", "params": {}}]
