"""What the applicant service reads of its data: the rules in force, and the catalogues.

The rules (tiers and routes, the points formula, the partner scenes' privileges) are versioned documents in
the database (applicant.rules): the accessors below answer from the process's snapshot of the version in
force, a dict lookup, so the hot paths (a verify, a code) may call them on every request.

The catalogues (the shortage-occupation list, the family relations, the demand declarations' salary bands; the
regions are in reference.py) are reference lists that change with the code reading them: JSON files in
`applicant/data/`, read once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from applicant.rules import (
    POINTS,
    PRIVILEGES,
    REVIEW,
    RULES,
    TIERS,
    PointsFormula,
    Privileges,
    RouteRule,
    TierRule,
)

# --- the rules in force --------------------------------------------------------------------------------------


def tiers() -> dict[str, TierRule]:
    return RULES.get(TIERS).value.tiers


def routes() -> dict[str, RouteRule]:
    return RULES.get(TIERS).value.routes


def city_approvals_needed(route: str, tier: str) -> int:
    """How many different city approvers must approve: the stricter of the tier's and the route's rule."""
    rules = RULES.get(TIERS).value
    return max(rules.tiers[tier].city_approvals, rules.routes[route].city_approvals)


def points_formula() -> PointsFormula:
    return RULES.get(POINTS).value


def privileges() -> Privileges:
    return RULES.get(PRIVILEGES).value


def stage_deadline_working_days(stage: str) -> int:
    """The working days a certification review stage ("county", "city") has to decide."""
    return RULES.get(REVIEW).value.stage_deadline_working_days[stage]


# --- catalogues ----------------------------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("applicant").joinpath(f"data/{name}").read_text(encoding="utf-8"))
    return data


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


@lru_cache
def family_limits() -> dict[str, int]:
    return {relation: int(n) for relation, n in _load("family.json")["max_per_relation"].items()}


@lru_cache
def shortage_categories() -> tuple[str, ...]:
    """The key industries of the shortage catalogue in its order: what a demand declaration may name."""
    return tuple(_load("shortage_catalogue.json")["key_industries"])


@dataclass(frozen=True)
class SalaryBand:
    code: str
    label_zh: str
    label_en: str


@lru_cache
def salary_bands() -> tuple[SalaryBand, ...]:
    """The monthly salary bands (CNY) a demand declaration may state, lowest first (data/demand.json)."""
    return tuple(SalaryBand(b["code"], b["label_zh"], b["label_en"]) for b in _load("demand.json")["salary_bands"])
