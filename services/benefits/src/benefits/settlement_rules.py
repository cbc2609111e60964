"""The price table of cross-city cost settlement (成本结算) as versioned rules (servicekit.rulebook).

Version 1 is the package's `data/settlement_prices.v1.json`, loaded by a migration; finance's administrator
changes it with `PUT /api/v1/admin/rules/benefits/settlement_prices` (checked here: a 422 names the field).
Each entry prices one privilege granted at one verification, in fen, from a date on; a privilege may have
several entries, and the use of a month is priced by the entry in force on the month's first day, so a
price agreed from next month on can be entered today. A statement records the version it used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from servicekit.rulebook import RuleSet

PRIVILEGE = re.compile(r"^[a-z][a-z0-9_]{1,59}$")


class _Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    privilege: str = Field(pattern=PRIVILEGE.pattern)
    price_fen: int = Field(ge=0, le=100_000_000)
    valid_from: date


class _PriceDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="", max_length=500)
    currency: str = Field(pattern=r"^CNY$")
    prices: list[_Price] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_price_per_day(self) -> _PriceDocument:
        seen: set[tuple[str, date]] = set()
        for price in self.prices:
            key = (price.privilege, price.valid_from)
            if key in seen:
                raise ValueError(f"{price.privilege} has two prices valid from {price.valid_from}")
            seen.add(key)
        return self


@dataclass(frozen=True)
class SettlementPrices:
    currency: str
    # privilege -> [(valid_from, price_fen)], oldest first
    by_privilege: dict[str, list[tuple[date, int]]]

    def price(self, privilege: str, month: str) -> int | None:
        """The unit price of `privilege` used in `month` (YYYY-MM); None when the table has none for it."""
        first_day = date(int(month[:4]), int(month[5:7]), 1)
        found = None
        for valid_from, price_fen in self.by_privilege.get(privilege, []):
            if valid_from <= first_day:
                found = price_fen
        return found


def parse_prices(document: Mapping[str, Any]) -> SettlementPrices:
    """The price table of a document, or ValueError (pydantic's ValidationError) naming what is wrong."""
    raw = _PriceDocument.model_validate(document)
    by_privilege: dict[str, list[tuple[date, int]]] = {}
    for price in sorted(raw.prices, key=lambda p: p.valid_from):
        by_privilege.setdefault(price.privilege, []).append((price.valid_from, price.price_fen))
    return SettlementPrices(currency=raw.currency, by_privilege=by_privilege)


SETTLEMENT_PRICES = RuleSet(
    "settlement_prices", parse_prices, package="benefits", seed_file="settlement_prices.v1.json"
)
