"""Reference data (regions) loaded once from the versioned data file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    name_en: str
    kind: str
    city: str | None


@lru_cache
def regions() -> dict[str, Region]:
    raw = json.loads(resources.files("applicant").joinpath("data/regions.json").read_text(encoding="utf-8"))
    return {r["code"]: Region(r["code"], r["name_zh"], r["name_en"], r["kind"], r.get("city")) for r in raw["regions"]}


def is_known_region(code: str) -> bool:
    return code in regions()


def city_of(code: str) -> str | None:
    region = regions().get(code)
    if region is None:
        return None
    return region.code if region.kind == "city" else region.city
