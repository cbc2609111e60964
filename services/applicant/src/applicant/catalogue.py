"""The rules of the applicant service as data: tiers, routes, points, shortage catalogue, privileges, family.

Every number here comes from a JSON file in `applicant/data/` (the default catalogue of docs/domain.md),
read once per process; an administrator changes the platform's rules by changing those files, not code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("applicant").joinpath(f"data/{name}").read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class TierRule:
    code: str
    name_zh: str
    name_en: str
    validity_years: int
    city_approvals: int


@dataclass(frozen=True)
class RouteRule:
    code: str
    name_zh: str
    requires_programme_code: bool
    city_approvals: int


@lru_cache
def tiers() -> dict[str, TierRule]:
    raw = _load("tiers.json")["tiers"]
    return {
        code: TierRule(code, r["name_zh"], r["name_en"], int(r["validity_years"]), int(r["city_approvals"]))
        for code, r in raw.items()
    }


@lru_cache
def routes() -> dict[str, RouteRule]:
    raw = _load("tiers.json")["routes"]
    return {
        code: RouteRule(code, r["name_zh"], bool(r["requires_programme_code"]), int(r["city_approvals"]))
        for code, r in raw.items()
    }


def city_approvals_needed(route: str, tier: str) -> int:
    """How many different city approvers must approve: the stricter of the tier's and the route's rule."""
    return max(tiers()[tier].city_approvals, routes()[route].city_approvals)


@dataclass(frozen=True)
class PointsFormula:
    tier_base: dict[str, int]
    degree: dict[str, int]
    title: dict[str, int]
    points_per_insured_month: float
    insured_months_cap: float
    shortage_catalogue_bonus: int


@lru_cache
def points_formula() -> PointsFormula:
    raw = _load("points.json")
    return PointsFormula(
        tier_base={k: int(v) for k, v in raw["tier_base"].items()},
        degree={k: int(v) for k, v in raw["degree"].items()},
        title={k: int(v) for k, v in raw["title"].items()},
        points_per_insured_month=float(raw["social_insurance"]["points_per_month"]),
        insured_months_cap=float(raw["social_insurance"]["cap"]),
        shortage_catalogue_bonus=int(raw["shortage_catalogue_bonus"]),
    )


@dataclass(frozen=True)
class ShortageCatalogue:
    employer_credit_codes: frozenset[str]
    key_industries: frozenset[str]

    def covers(self, credit_code: str, industry: str | None) -> bool:
        return credit_code in self.employer_credit_codes or (industry is not None and industry in self.key_industries)


@lru_cache
def shortage_catalogue() -> ShortageCatalogue:
    raw = _load("shortage_catalogue.json")
    return ShortageCatalogue(frozenset(raw["employer_credit_codes"]), frozenset(raw["key_industries"]))


@dataclass(frozen=True)
class Scene:
    code: str
    # What a verifier in this scene learns besides validity: "tier", "certified_until".
    discloses: frozenset[str]
    privileges_by_tier: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class PrivilegeCatalogue:
    scenes: dict[str, Scene]
    # partner kind -> the scenes it may verify codes for
    partner_scenes: dict[str, frozenset[str]]

    def may_verify(self, partner_kind: str | None, scene: str) -> bool:
        return partner_kind is not None and scene in self.partner_scenes.get(partner_kind, frozenset())


@lru_cache
def privileges() -> PrivilegeCatalogue:
    raw = _load("privileges.json")
    scenes = {
        code: Scene(
            code,
            frozenset(s["discloses"]),
            {tier: tuple(items) for tier, items in s["privileges"].items()},
        )
        for code, s in raw["scenes"].items()
    }
    return PrivilegeCatalogue(scenes, {kind: frozenset(v) for kind, v in raw["partner_scenes"].items()})


@lru_cache
def family_limits() -> dict[str, int]:
    return {relation: int(n) for relation, n in _load("family.json")["max_per_relation"].items()}
