"""The housing catalogue (rents by tier, lease term, renewals, unit sizes, offer clock): data, read once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any


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


def _load(raw: dict[str, Any]) -> HousingRules:
    return HousingRules(
        tier_order=tuple(raw["tier_order"]),
        rent_percent_of_list={k: int(v) for k, v in raw["rent_percent_of_list"].items()},
        lease_term_years=int(raw["lease_term_years"]),
        renewals_allowed={k: int(v) for k, v in raw["renewals_allowed"].items()},
        unit_capacity={k: int(v) for k, v in raw["unit_capacity"].items()},
        offer_valid_hours=int(raw["offer_valid_hours"]),
        declines_before_bar=int(raw["declines_before_bar"]),
        bar_days=int(raw["bar_days"]),
        city_utc_offset_hours=int(raw.get("city_utc_offset_hours", 8)),
    )


@lru_cache
def rules() -> HousingRules:
    text = resources.files("housing").joinpath("data/rules.json").read_text(encoding="utf-8")
    return _load(json.loads(text))
