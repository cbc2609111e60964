"""人才发展指数, the talent development index: a 0-100 figure from documented indicators, weights as data.

    index = 100 × Σ wᵢ × sᵢ        sᵢ = clamp(score of indicator i, 0, 1)

An indicator's score depends on its normalisation: `target` gives value / target (reaching the target scores
1); `min_max` gives (value - min) / (max - min). With `"direction": "lower_is_better"` the score is
target / value (a value at or below the target scores 1) or (max - value) / (max - min).

An indicator whose input is missing (None, not a finite number, or measured over fewer than k people — a
share of 3 claims would say too much about them) is reported as null and its weight is shared out over the
indicators that are present, in proportion to their weights, so the index stays on 0-100; the answer says
which were missing, so a reader knows the figure stands on fewer indicators. No indicator present: no index.

The indicators, targets and weights are a rule document, checked whenever one is stored: weights must be
positive and add up to 1, sources and keys unique, min below max; a document that fails is refused with a 422
naming the field. `data/index.json` is version 1 (the seed a migration stores); `INDEX_RULES` is its
`servicekit.rulebook` rule set, so the city publishes a new version through
`PUT /api/v1/admin/rules/insight/index` without a release, and the answer names the version it used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from servicekit.rulebook import RuleBook, RuleSet, Versioned

from insight.disclosure import K_ANONYMITY

WEIGHT_TOLERANCE = 1e-6


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["target"]
    target: float = Field(gt=0)


class _MinMax(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["min_max"]
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> _MinMax:
        if not self.max > self.min:
            raise ValueError("max must be greater than min")
        return self


class _Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    normalisation: Annotated[_Target | _MinMax, Field(discriminator="kind")]
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    weight: float = Field(gt=0, le=1)


class _IndexDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    description: str | None = Field(default=None, max_length=2000)
    source: str | None = Field(default=None, max_length=500)
    indicators: list[_Indicator] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> _IndexDocument:
        for field in ("key", "source"):
            values = [getattr(i, field) for i in self.indicators]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"each indicator needs its own {field}; repeated: {', '.join(repeated)}")
        total = math.fsum(i.weight for i in self.indicators)
        if abs(total - 1) > WEIGHT_TOLERANCE:
            raise ValueError(f"the indicators' weights must add up to 1 (they add up to {total:g})")
        return self


@dataclass(frozen=True)
class Indicator:
    key: str
    name_zh: str
    name_en: str
    source: str
    kind: str
    target: float | None
    minimum: float | None
    maximum: float | None
    lower_is_better: bool
    weight: float

    def score(self, value: float) -> float:
        """The indicator's share of its full marks, 0..1."""
        if self.target is not None:
            if self.lower_is_better:
                raw = 1.0 if value <= self.target else self.target / value
            else:
                raw = value / self.target
        else:
            assert self.minimum is not None and self.maximum is not None
            span = self.maximum - self.minimum
            raw = (self.maximum - value) / span if self.lower_is_better else (value - self.minimum) / span
        return min(max(raw, 0.0), 1.0)

    def normalisation(self) -> dict[str, Any]:
        if self.target is not None:
            return {"kind": self.kind, "target": self.target}
        return {"kind": self.kind, "min": self.minimum, "max": self.maximum}


@dataclass(frozen=True)
class IndexRules:
    version: int
    indicators: tuple[Indicator, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        """The input metrics the index needs, by name."""
        return tuple(i.source for i in self.indicators)


def parse_index(document: Mapping[str, Any]) -> IndexRules:
    """The index rules of a document, or ValueError (pydantic's ValidationError) naming what is wrong."""
    raw = _IndexDocument.model_validate(document)
    indicators = []
    for item in raw.indicators:
        norm = item.normalisation
        indicators.append(
            Indicator(
                key=item.key,
                name_zh=item.name_zh,
                name_en=item.name_en,
                source=item.source,
                kind=norm.kind,
                target=norm.target if isinstance(norm, _Target) else None,
                minimum=norm.min if isinstance(norm, _MinMax) else None,
                maximum=norm.max if isinstance(norm, _MinMax) else None,
                lower_is_better=item.direction == "lower_is_better",
                weight=item.weight,
            )
        )
    return IndexRules(version=raw.version, indicators=tuple(indicators))


INDEX_RULES = RuleSet("index", parse_index, package="insight", seed_file="index.json")
# Insight's rule sets: the index alone. An administrator publishes a new version through
# PUT /api/v1/admin/rules/insight/index; the summary reads the version in force (`RULES.get(INDEX_RULES)`).
RULES = RuleBook("insight", INDEX_RULES)


@lru_cache(maxsize=1)
def seed_rules() -> IndexRules:
    """Version 1 as shipped in the package (what a fresh database is seeded with)."""
    return parse_index(INDEX_RULES.seed())


def _present(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def compute(
    inputs: Mapping[str, float | None],
    *,
    rules: IndexRules | Versioned[IndexRules] | None = None,
    bases: Mapping[str, int] | None = None,
    k: int = K_ANONYMITY,
) -> dict[str, Any]:
    """The index with every indicator's value, target, weight and contribution (see the module's formula).

    `inputs` maps each indicator's source to its value; `bases` may give, per source, how many people or
    cases the value was measured over — below k the value is treated as missing, never shown.
    """
    # The rule book's version number is the one of record; the document's own `version` is its seed's.
    version = rules.version if rules is not None else None
    rules = rules.value if isinstance(rules, Versioned) else rules or seed_rules()
    version = version or rules.version
    bases = bases or {}
    values: dict[str, float | None] = {}
    for indicator in rules.indicators:
        value = _present(inputs.get(indicator.source))
        base = bases.get(indicator.source)
        values[indicator.key] = None if base is not None and base < k else value
    present_weight = math.fsum(i.weight for i in rules.indicators if values[i.key] is not None)
    rows: list[dict[str, Any]] = []
    total = 0.0
    for indicator in rules.indicators:
        value = values[indicator.key]
        row: dict[str, Any] = {
            "key": indicator.key,
            "name_zh": indicator.name_zh,
            "name_en": indicator.name_en,
            "source": indicator.source,
            "normalisation": indicator.normalisation(),
            "direction": "lower_is_better" if indicator.lower_is_better else "higher_is_better",
            "weight": indicator.weight,
            "value": value,
            "score": None,
            "effective_weight": None,
            "contribution": None,
        }
        if value is not None:
            score = indicator.score(value)
            effective = indicator.weight / present_weight
            contribution = 100 * effective * score
            total += contribution
            row.update(score=round(score, 4), effective_weight=round(effective, 4), contribution=round(contribution, 2))
        rows.append(row)
    return {
        "name_zh": "人才发展指数",
        "name_en": "Talent development index",
        "version": version,
        "value": round(total, 1) if present_weight > 0 else None,
        "indicators": rows,
        "missing": [row["key"] for row in rows if row["value"] is None],
    }
