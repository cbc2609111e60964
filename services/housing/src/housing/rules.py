"""Housing's rules as versioned data (servicekit.rulebook): the rent share by tier, the lease term and its
renewals, how many people each unit type houses, the offer clock and the decline bar.

Version 1 is the package's `data/rules.json`, loaded by a migration; an administrator changes the rules with
`PUT /api/v1/admin/rules/housing/apartments`. Each document is checked here, when it is stored, so that every
version in force can answer every request: a document that fails is refused with a 422 naming the field.
A decision (an application, the draw, an offer answered or lapsed, a lease renewed or ended) reads the version
in force once, with `await RULES.current(session, HOUSING_RULES)`, which re-checks it in the decision's own
transaction when the process's snapshot is over a second old (a worker idle for hours never decides with a
replaced version); views and the public catalogue read the snapshot, `RULES.get(HOUSING_RULES)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from servicekit.rulebook import RuleBook, RuleSet

from housing.schemas import Tier, UnitType


@dataclass(frozen=True)
class HousingRules:
    tier_order: tuple[str, ...]
    rent_percent_of_list: dict[str, int]
    lease_term_years: int
    renewals_allowed: dict[str, int]
    unit_capacity: dict[str, int]
    offer_valid_hours: int
    declines_before_bar: int
    bar_days: int
    city_utc_offset_hours: int

    @property
    def tier_rank(self) -> dict[str, int]:
        return {tier: index for index, tier in enumerate(self.tier_order)}

    @property
    def offer_validity(self) -> timedelta:
        return timedelta(hours=self.offer_valid_hours)

    @property
    def bar_period(self) -> timedelta:
        return timedelta(days=self.bar_days)

    @property
    def largest_household(self) -> int:
        return max(self.unit_capacity.values())

    def rent_for(self, tier: str, list_rent_fen: int) -> int:
        """The tier's share of the list rent, rounded half up to the fen."""
        return (list_rent_fen * self.rent_percent_of_list[tier] + 50) // 100

    def fits(self, unit_type: str, household_size: int) -> bool:
        return self.unit_capacity.get(unit_type, 0) >= household_size

    def city_today(self, now: datetime) -> date:
        """The calendar date in the city (leases start and end on city dates)."""
        return now.astimezone(timezone(timedelta(hours=self.city_utc_offset_hours))).date()


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# --- the document ------------------------------------------------------------------------------------------

TIERS: tuple[str, ...] = get_args(Tier)
UNIT_TYPES: tuple[str, ...] = get_args(UnitType)

Percent = Annotated[int, Field(ge=0, le=100)]
Renewals = Annotated[int, Field(ge=0, le=10)]
Persons = Annotated[int, Field(ge=1, le=20)]


def _every(kind: str, names: tuple[str, ...], given: Mapping[str, Any]) -> None:
    """Every tier (unit type) a lease or a unit may have needs its rule: a missing one would fail or skip it."""
    missing = [name for name in names if name not in given]
    if missing:
        raise ValueError(f"every {kind} needs its value; missing: {', '.join(missing)}")


class _HousingDocument(BaseModel):
    """The rules document. Unknown keys are refused (a misspelt rule would otherwise be silently ignored), and
    numbers must be JSON numbers, so the stored document says exactly what is in force."""

    model_config = ConfigDict(extra="forbid", strict=True)

    description: str | None = Field(default=None, max_length=2000)
    source: str | None = Field(default=None, max_length=500)
    # The ranking order of the tiers: the draw and `housing verify-draw` rank by it, so it is not a choice.
    tier_order: list[Tier]
    rent_percent_of_list: dict[Tier, Percent]
    lease_term_years: int = Field(ge=1, le=20)
    renewals_allowed: dict[Tier, Renewals]
    unit_capacity: dict[UnitType, Persons]
    offer_valid_hours: int = Field(ge=1, le=24 * 90)
    declines_before_bar: int = Field(ge=1, le=100)
    bar_days: int = Field(ge=1, le=3650)
    city_utc_offset_hours: int = Field(default=8, ge=-12, le=14)

    @field_validator("tier_order")
    @classmethod
    def _tiers_in_order(cls, tier_order: list[str]) -> list[str]:
        if tuple(tier_order) != TIERS:
            raise ValueError(f"must be {', '.join(TIERS)} (the order the draw ranks and verify-draw recomputes)")
        return tier_order

    @field_validator("rent_percent_of_list", "renewals_allowed")
    @classmethod
    def _every_tier(cls, by_tier: dict[str, int]) -> dict[str, int]:
        _every("tier", TIERS, by_tier)
        return by_tier

    @field_validator("unit_capacity")
    @classmethod
    def _every_unit_type(cls, capacity: dict[str, int]) -> dict[str, int]:
        _every("unit type", UNIT_TYPES, capacity)
        return capacity


def parse_rules(document: Mapping[str, Any]) -> HousingRules:
    """The rules of a document, or ValueError (pydantic's ValidationError) naming what is wrong with it."""
    raw = _HousingDocument.model_validate(document)
    return HousingRules(
        tier_order=tuple(raw.tier_order),
        rent_percent_of_list={str(tier): share for tier, share in raw.rent_percent_of_list.items()},
        lease_term_years=raw.lease_term_years,
        renewals_allowed={str(tier): count for tier, count in raw.renewals_allowed.items()},
        unit_capacity={str(kind): persons for kind, persons in raw.unit_capacity.items()},
        offer_valid_hours=raw.offer_valid_hours,
        declines_before_bar=raw.declines_before_bar,
        bar_days=raw.bar_days,
        city_utc_offset_hours=raw.city_utc_offset_hours,
    )


# --- the rule book -----------------------------------------------------------------------------------------

HOUSING_RULES = RuleSet("apartments", parse_rules, package="housing", seed_file="rules.json")

RULES = RuleBook("housing", HOUSING_RULES)
