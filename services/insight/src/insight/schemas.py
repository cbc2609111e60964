"""Insight's response bodies. Every number in them passed disclosure control: a withheld cell is null."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TableInfo(BaseModel):
    name: str
    dimensions: list[str]
    description: str


class TablesPublic(BaseModel):
    items: list[TableInfo]


class TablePublic(BaseModel):
    """A breakdown: one row per cell (dimension values, `count` and other measures; null when withheld)."""

    name: str
    dimensions: list[str]
    rows: list[dict[str, Any]]
    suppressed: list[dict[str, Any]] = Field(description="the withheld cells, by table and dimension values")


class SeriesPoint(BaseModel):
    day: str
    count: int | None


class SeriesPublic(BaseModel):
    metric: str
    points: list[SeriesPoint]
    suppressed: list[dict[str, Any]]


class TalentsSummary(BaseModel):
    total: int | None
    by_tier: dict[str, int | None]
    by_region: dict[str, int | None]


class ClaimsSummary(BaseModel):
    by_status: dict[str, int | None]
    straight_through_share: float | None = Field(description="approved claims that no reviewer decided, 0–1")


class BudgetLine(BaseModel):
    policy_code: str
    year: int
    claims: int | None
    committed_fen: int | None
    paid_fen: int | None
    budget_fen: int | None
    paid_share: float | None = Field(description="paid / budget, 0–1; null without a budget")


class ReviewStage(BaseModel):
    decided: int | None
    on_time: int | None
    on_time_share: float | None
    p50_hours: int | None
    p90_hours: int | None


class HousingSummary(BaseModel):
    rounds: int | None
    units: int | None
    applications: int | None
    offers: dict[str, int | None]
    leases: dict[str, int | None]
    occupancy: float | None = Field(description="active leases / units offered in rounds, 0–1")


class VerificationsSummary(BaseModel):
    total: int | None
    valid: int | None
    by_scene: dict[str, int | None]
    by_partner_kind: dict[str, int | None]


class SummaryPublic(BaseModel):
    talents: TalentsSummary
    claims: ClaimsSummary
    budgets: list[BudgetLine]
    reviews: dict[str, dict[str, ReviewStage]] = Field(description="kind (certification, claim) -> stage -> figures")
    housing: HousingSummary
    verifications: VerificationsSummary
    index: dict[str, Any] = Field(
        description="人才发展指数: version, value 0–100 and each indicator's value, target, weight and contribution"
    )
    suppressed: list[dict[str, Any]]
