"""Notification texts per event type and locale, as Jinja2 files: `<event type>.<locale>.j2`.

The first line of a rendered template is the title, the rest the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

# Which inbox category each event type files under (categories drive preferences later).
CATEGORIES: dict[str, str] = {
    "talent.applicant.talent.registered.v1": "account",
}


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


@lru_cache
def environment() -> Environment:
    # StrictUndefined: a template naming a variable the event lacks fails its test, not silently blank.
    return Environment(loader=PackageLoader("notify", "templates"), undefined=StrictUndefined, autoescape=False)  # noqa: S701


def render(event_type: str, locale: str, context: dict[str, Any]) -> Rendered:
    env = environment()
    try:
        template = env.get_template(f"{event_type}.{locale}.j2")
    except TemplateNotFound:
        template = env.get_template(f"{event_type}.{DEFAULT_LOCALE}.j2")
    text = template.render(**context).strip()
    title, _, body = text.partition("\n")
    return Rendered(title=title.strip(), body=body.strip())
