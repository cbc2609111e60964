"""Notification texts per event type (or reminder) and locale, as Jinja2 files: `<name>.<locale>.j2`.

The first line of a rendered template is the title, the rest the body. Filters: `money` (fen → yuan),
`when` (a time in the reader's own time zone), `label(kind)` (a code → words, data/labels.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, pass_context
from jinja2.runtime import Context

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
DEFAULT_TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


@lru_cache
def _labels() -> dict[str, dict[str, dict[str, str]]]:
    labels: dict[str, dict[str, dict[str, str]]] = json.loads(
        files("notify").joinpath("data", "labels.json").read_text(encoding="utf-8")
    )
    return labels


@pass_context
def _label(context: Context, code: object, kind: str) -> str:
    if code is None:
        return ""
    return _labels().get(context["reader_locale"], {}).get(kind, {}).get(str(code), str(code))


@pass_context
def _money(context: Context, fen: int | None) -> str:
    if fen is None:
        return ""
    amount = f"{fen // 100:,}.{fen % 100:02d}"
    return f"¥{amount}" if context["reader_locale"] == "zh-CN" else f"CNY {amount}"


@pass_context
def _when(context: Context, value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(context["reader_time_zone"]))
        return local.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


@lru_cache
def environment() -> Environment:
    # StrictUndefined: a template naming a variable the event lacks fails its test, not silently blank.
    env = Environment(loader=PackageLoader("notify", "templates"), undefined=StrictUndefined, autoescape=False)  # noqa: S701
    env.filters.update(label=_label, money=_money, when=_when)
    return env


def template_names() -> list[str]:
    return environment().list_templates(extensions=["j2"])


def render(name: str, locale: str, context: dict[str, Any], *, time_zone: str = DEFAULT_TIME_ZONE) -> Rendered:
    """Render template `name` (an event type or `reminder.<name>`) in the reader's locale and time zone."""
    env = environment()
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    try:
        template = env.get_template(f"{name}.{locale}.j2")
    except TemplateNotFound:
        template = env.get_template(f"{name}.{DEFAULT_LOCALE}.j2")
    # The reader's locale and zone under names no event field uses (events have their own `locale`).
    text = template.render({**context, "reader_locale": locale, "reader_time_zone": time_zone}).strip()
    title, _, body = text.partition("\n")
    return Rendered(title=title.strip(), body=body.strip())
