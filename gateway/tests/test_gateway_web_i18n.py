"""The web apps speak both languages completely: zh-CN and en have the same keys, and every key a page asks for
by name exists in both."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[1] / "src" / "gateway" / "web"
APPS = ("app", "console")
LANGUAGES = ("zh-CN", "en")
# Groups only Chinese has, on purpose: the services word these in English themselves (benefits' eligibility
# reasons carry an English message; the app shows it as is in English and a sentence per code in Chinese).
ONE_LANGUAGE_GROUPS = {"app": {"reason"}}
# t("group.key") with a literal key (keys built at run time, `${…}`, are not checked here).
LITERAL_KEY = re.compile(r"""\bt\(\s*"([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+)"\s*[,)]""")


def _flatten(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _keys(app: str, language: str) -> set[str]:
    messages = json.loads((WEB / app / "i18n" / f"{language}.json").read_text(encoding="utf-8"))
    return set(_flatten(messages))


@pytest.mark.parametrize("app", APPS)
def test_both_languages_have_the_same_keys(app: str) -> None:
    exempt = ONE_LANGUAGE_GROUPS.get(app, set())
    zh, en = ({k for k in _keys(app, language) if k.split(".")[0] not in exempt} for language in LANGUAGES)
    assert sorted(zh - en) == [], f"{app}: keys only in zh-CN"
    assert sorted(en - zh) == [], f"{app}: keys only in en"


@pytest.mark.parametrize("app", APPS)
def test_every_key_a_page_names_exists_in_both_languages(app: str) -> None:
    modules = [*sorted((WEB / app).glob("*.js")), *sorted((WEB / "common").glob("*.js"))]
    wanted = {
        (module.relative_to(WEB).as_posix(), key)
        for module in modules
        for key in LITERAL_KEY.findall(module.read_text(encoding="utf-8"))
    }
    assert wanted, "no t(...) calls found: the pattern is stale"
    for language in LANGUAGES:
        known = _keys(app, language)
        missing = sorted(f"{module}: {key}" for module, key in wanted if key not in known)
        assert missing == [], f"{app} {language}: keys the pages use but the language lacks"
