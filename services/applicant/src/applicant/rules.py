"""The applicant's rules as versioned data (servicekit.rulebook): the tiers with their validity and the city
approvals they need, the certification routes, the points formula, what each partner scene sees and grants,
and the working days each certification review stage has to decide.

Version 1 of each is the package's JSON (`data/tiers.json`, `points.json`, `privileges.json`, `review.json`),
loaded by a migration; an administrator changes one with `PUT /api/v1/admin/rules/applicant/<name>`. Each
document is checked here, when it is stored, so that every version in force can answer every request: a
document that fails is refused with a 422 naming the field. Code reads the version in force through catalogue.py's
accessors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from servicekit.rulebook import RuleBook, RuleSet

from applicant.schemas import Degree, Route, Scene, Tier, Title

# --- tiers and certification routes (data/tiers.json) ------------------------------------------------------


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
    # The decision facts the reviewers of a certification on this route confirm by certifying it: their
    # provenance becomes officer_confirmed (applicant.facts).
    confirms: tuple[str, ...]


@dataclass(frozen=True)
class TierRules:
    tiers: dict[str, TierRule]
    routes: dict[str, RouteRule]


class _Document(BaseModel):
    """A rule document: unknown keys are refused (a misspelt rule would otherwise be silently ignored)."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(default=None, max_length=40, description="a label of the document, e.g. a date")
    source: str | None = Field(default=None, max_length=500, description="where its values come from")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _TierEntry(_Entry):
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str = Field(min_length=1, max_length=120)
    validity_years: int = Field(ge=1, le=50)
    city_approvals: int = Field(ge=1, le=10)


# The facts a reviewer sees in a certification's case (the applicant summary): confirmed by certifying it.
ConfirmableFact = Literal[
    "education", "title", "social_insurance_months", "employer", "region_code", "owns_home_in_city"
]
CONFIRMED_BY_CERTIFICATION: tuple[ConfirmableFact, ...] = ("education", "title", "employer", "region_code")


class _RouteEntry(_Entry):
    name_zh: str = Field(min_length=1, max_length=60)
    requires_programme_code: bool
    city_approvals: int = Field(ge=1, le=10)
    confirms: tuple[ConfirmableFact, ...] = Field(
        default=CONFIRMED_BY_CERTIFICATION, description="the facts certifying on this route confirms"
    )


def _every(kind: str, names: tuple[str, ...], given: Mapping[str, Any]) -> None:
    """Every tier (route) a request may name needs its rule: a missing one would fail that request."""
    missing = [name for name in names if name not in given]
    if missing:
        raise ValueError(f"every {kind} needs its rule; missing: {', '.join(missing)}")


class _TiersDocument(_Document):
    tiers: dict[Tier, _TierEntry]
    routes: dict[Route, _RouteEntry]

    @field_validator("tiers")
    @classmethod
    def _every_tier(cls, tiers: dict[str, _TierEntry]) -> dict[str, _TierEntry]:
        _every("tier", get_args(Tier), tiers)
        return tiers

    @field_validator("routes")
    @classmethod
    def _every_route(cls, routes: dict[str, _RouteEntry]) -> dict[str, _RouteEntry]:
        _every("route", get_args(Route), routes)
        return routes


def parse_tiers(document: Mapping[str, Any]) -> TierRules:
    raw = _TiersDocument.model_validate(document)
    return TierRules(
        tiers={
            code: TierRule(code, r.name_zh, r.name_en, r.validity_years, r.city_approvals)
            for code, r in raw.tiers.items()
        },
        routes={
            code: RouteRule(code, r.name_zh, r.requires_programme_code, r.city_approvals, r.confirms)
            for code, r in raw.routes.items()
        },
    )


# --- the points formula (data/points.json) -------------------------------------------------------------------


@dataclass(frozen=True)
class PointsFormula:
    tier_base: dict[str, int]
    degree: dict[str, int]
    title: dict[str, int]
    points_per_insured_month: float
    insured_months_cap: float
    shortage_catalogue_bonus: int


class _SocialInsurance(_Entry):
    points_per_month: float = Field(ge=0)
    cap: float = Field(ge=0)


Points = Annotated[int, Field(ge=0)]


class _PointsDocument(_Document):
    # A tier, degree or title left out earns nothing; one the platform does not know is refused.
    tier_base: dict[Tier, Points]
    degree: dict[Degree, Points]
    title: dict[Title, Points]
    social_insurance: _SocialInsurance
    shortage_catalogue_bonus: Points


def parse_points(document: Mapping[str, Any]) -> PointsFormula:
    raw = _PointsDocument.model_validate(document)
    return PointsFormula(
        tier_base={name: points for name, points in raw.tier_base.items()},
        degree={name: points for name, points in raw.degree.items()},
        title={name: points for name, points in raw.title.items()},
        points_per_insured_month=raw.social_insurance.points_per_month,
        insured_months_cap=raw.social_insurance.cap,
        shortage_catalogue_bonus=raw.shortage_catalogue_bonus,
    )


# --- what partner scenes see and grant (data/privileges.json) -----------------------------------------------


@dataclass(frozen=True)
class SceneRule:
    code: str
    # What a verifier in this scene learns besides validity: "tier", "certified_until".
    discloses: frozenset[str]
    privileges_by_tier: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Privileges:
    scenes: dict[str, SceneRule]
    # partner kind -> the scenes it may verify codes for
    partner_scenes: dict[str, frozenset[str]]

    def may_verify(self, partner_kind: str | None, scene: str) -> bool:
        return partner_kind is not None and scene in self.partner_scenes.get(partner_kind, frozenset())


class _SceneEntry(_Entry):
    discloses: list[Literal["tier", "certified_until"]]
    privileges: dict[Tier, list[Annotated[str, Field(min_length=1, max_length=60)]]]


class _PrivilegesDocument(_Document):
    scenes: dict[Scene, _SceneEntry]
    partner_scenes: dict[Annotated[str, Field(min_length=1, max_length=40)], list[Scene]]

    @field_validator("partner_scenes")
    @classmethod
    def _scenes_have_rules(cls, partner_scenes: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        """A partner kind may verify only in scenes that say what they show (a verify in another would fail)."""
        scenes = info.data.get("scenes")
        if scenes is None:
            return partner_scenes  # the scenes failed on their own; that error says enough
        for kind, names in partner_scenes.items():
            unknown = [name for name in names if name not in scenes]
            if unknown:
                raise ValueError(f"{kind}: the scenes {', '.join(unknown)} have no rule in scenes")
        return partner_scenes


def parse_privileges(document: Mapping[str, Any]) -> Privileges:
    raw = _PrivilegesDocument.model_validate(document)
    return Privileges(
        scenes={
            code: SceneRule(code, frozenset(s.discloses), {tier: tuple(items) for tier, items in s.privileges.items()})
            for code, s in raw.scenes.items()
        },
        partner_scenes={kind: frozenset(names) for kind, names in raw.partner_scenes.items()},
    )


# --- the review stages' deadlines (data/review.json) ----------------------------------------------------------


@dataclass(frozen=True)
class ReviewRules:
    # stage ("county", "city") -> working days (Mon–Fri, city time) from reaching it to its deadline
    stage_deadline_working_days: dict[str, int]


class _ReviewDocument(_Document):
    stage_deadline_working_days: dict[Literal["county", "city"], Annotated[int, Field(ge=1, le=60)]]

    @field_validator("stage_deadline_working_days")
    @classmethod
    def _every_stage(cls, days: dict[str, int]) -> dict[str, int]:
        _every("review stage", ("county", "city"), days)
        return days


def parse_review(document: Mapping[str, Any]) -> ReviewRules:
    raw = _ReviewDocument.model_validate(document)
    return ReviewRules(
        stage_deadline_working_days={stage: days for stage, days in raw.stage_deadline_working_days.items()}
    )


# --- the rule book -------------------------------------------------------------------------------------------

TIERS = RuleSet("tiers", parse_tiers, package="applicant", seed_file="tiers.json")
POINTS = RuleSet("points", parse_points, package="applicant", seed_file="points.json")
PRIVILEGES = RuleSet("privileges", parse_privileges, package="applicant", seed_file="privileges.json")
# Added by migration a12f00000004 (the certification stage deadlines), after the first three.
REVIEW = RuleSet("review", parse_review, package="applicant", seed_file="review.json")

RULES = RuleBook("applicant", TIERS, POINTS, PRIVILEGES, REVIEW)
