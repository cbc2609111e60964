"""The read models: every table insight publishes, computed from the state rows at query time (GROUP BY).

Each table is data: its dimensions and the query that gives one row per cell with `count` (how many
distinct subjects — talents, claims, cases, applications, verifications — stand behind the cell) and its other
measures. insight.service passes every table through disclosure.publish() before anyone sees it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from insight import repository as repo
from insight.facts import COMMITTED_STATUSES
from insight.models import (
    InsightCertification,
    InsightClaim,
    InsightDemand,
    InsightLease,
    InsightOffer,
    InsightPolicyBudget,
    InsightRound,
    InsightTalent,
    InsightVerification,
)
from insight.states import ReviewKind


@dataclass(frozen=True)
class Filters:
    """What a reader may narrow a table to; a filter a table has no column for does not apply to it."""

    region: str | None = None
    year: int | None = None
    since: date | None = None  # inclusive
    until: date | None = None  # inclusive


Rows = list[dict[str, Any]]
Query = Callable[[AsyncSession, Filters], Awaitable[Rows]]


@dataclass(frozen=True)
class Table:
    name: str
    dimensions: tuple[str, ...]
    query: Query
    description: str


_CERTIFIED = col(InsightTalent.status) == "certified"
_TALENT = col(InsightTalent.pseudonym)


def _talent_filters(filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.region:
        where.append(col(InsightTalent.region_code) == filters.region)
    if filters.year:
        where.append(col(InsightTalent.certified_on).between(date(filters.year, 1, 1), date(filters.year, 12, 31)))
    return where


def _talents_by(*columns: Any, certified_only: bool = True) -> Query:
    async def query(session: AsyncSession, filters: Filters) -> Rows:
        where = _talent_filters(filters) + ([_CERTIFIED] if certified_only else [])
        # One row per talent (the pseudonym is the key): a plain COUNT is the number of distinct talents.
        statement = select(*columns, func.count().label("count")).where(*where).group_by(*columns)
        return await repo.grouped(session, statement)

    return query


def _claim_filters(filters: Filters, *, joined: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [col(InsightClaim.policy_code).is_not(None)]
    if filters.year:
        where.append(col(InsightClaim.year) == filters.year)
    if filters.region and joined:
        where.append(col(InsightTalent.region_code) == filters.region)
    return where


def _claims_select(*columns: Any, filters: Filters, by_talent: bool = False) -> Select[Any]:
    statement = select(*columns, func.count(col(InsightClaim.claim_id)).label("count"))
    joined = bool(filters.region) or by_talent
    if joined:
        statement = statement.select_from(InsightClaim).outerjoin(
            InsightTalent, col(InsightTalent.pseudonym) == col(InsightClaim.pseudonym)
        )
    return statement.where(*_claim_filters(filters, joined=joined)).group_by(*columns)


async def _claims(session: AsyncSession, filters: Filters) -> Rows:
    columns = (col(InsightClaim.policy_code), col(InsightClaim.status))
    return await repo.grouped(session, _claims_select(*columns, filters=filters))


async def _claims_by_region(session: AsyncSession, filters: Filters) -> Rows:
    columns = (col(InsightTalent.region_code), col(InsightClaim.status))
    return await repo.grouped(session, _claims_select(*columns, filters=filters, by_talent=True))


_COMMITTED = col(InsightClaim.status).in_(sorted(COMMITTED_STATUSES))


async def _claims_by_decision(session: AsyncSession, filters: Filters) -> Rows:
    """Approved claims (budget committed): straight through (no reviewer decided them) or reviewed by hand."""
    straight = case((col(InsightClaim.manual), False), else_=True).label("straight_through")
    statement = (
        select(col(InsightClaim.policy_code), straight, func.count(col(InsightClaim.claim_id)).label("count"))
        .where(_COMMITTED, *_claim_filters(filters, joined=bool(filters.region)))
        .group_by(col(InsightClaim.policy_code), straight)
    )
    if filters.region:
        statement = statement.join(InsightTalent, col(InsightTalent.pseudonym) == col(InsightClaim.pseudonym))
    return [{**r, "straight_through": bool(r["straight_through"])} for r in await repo.grouped(session, statement)]


async def _budgets(session: AsyncSession, filters: Filters) -> Rows:
    """Per policy and year: claims committed, the amounts committed and paid, and the policy's yearly budget."""
    committed = func.coalesce(func.sum(case((_COMMITTED, col(InsightClaim.amount_fen)), else_=0)), 0)
    paid = func.coalesce(func.sum(func.coalesce(col(InsightClaim.paid_fen), 0)), 0)
    statement = (
        select(
            col(InsightClaim.policy_code),
            col(InsightClaim.year),
            func.count(col(InsightClaim.claim_id)).label("count"),
            committed.label("committed_fen"),
            paid.label("paid_fen"),
        )
        .where(_COMMITTED, *_claim_filters(filters, joined=bool(filters.region)), col(InsightClaim.year).is_not(None))
        .group_by(col(InsightClaim.policy_code), col(InsightClaim.year))
    )
    if filters.region:
        statement = statement.join(InsightTalent, col(InsightTalent.pseudonym) == col(InsightClaim.pseudonym))
    rows = await repo.grouped(session, statement)
    policies = select(col(InsightPolicyBudget.policy_code), col(InsightPolicyBudget.yearly_budget_fen))
    budgets = {r["policy_code"]: r["yearly_budget_fen"] for r in await repo.grouped(session, policies)}
    return [
        {
            **r,
            "committed_fen": int(r["committed_fen"]),
            "paid_fen": int(r["paid_fen"]),
            "budget_fen": budgets.get(r["policy_code"]),
        }
        for r in rows
    ]


# --- reviews -----------------------------------------------------------------------------------------------


def _percentile(histogram: Mapping[int, int], share: float) -> int | None:
    """The smallest hour value at or below which `share` of the cases fall (nearest rank)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, -(-int(share * total * 1000) // 1000))  # ceil without float surprises
    seen = 0
    for hours in sorted(histogram):
        seen += histogram[hours]
        if seen >= rank:
            return hours
    return max(histogram)


ReviewCell = tuple[str, str, str | None, bool]


async def _review_histograms(session: AsyncSession, filters: Filters) -> dict[ReviewCell, dict[int, int]]:
    """Hours each decided review stage took, as histograms per (kind, stage, region, on time).

    One GROUP BY per kind and stage, whatever the number of cases; on time means the stage did not escalate."""
    cells: dict[ReviewCell, dict[int, int]] = {}
    for kind, model, region in (
        (ReviewKind.CERTIFICATION, InsightCertification, col(InsightCertification.region_code)),
        (ReviewKind.CLAIM, InsightClaim, col(InsightTalent.region_code)),
    ):
        for stage in ("county", "city"):
            hours = getattr(model, f"{stage}_hours")
            on_time = case((getattr(model, f"{stage}_escalated"), False), else_=True).label("on_time")
            statement = select(region.label("region_code"), on_time, hours.label("hours"), func.count().label("n"))
            if model is InsightClaim:
                statement = statement.select_from(InsightClaim).outerjoin(
                    InsightTalent, col(InsightTalent.pseudonym) == col(InsightClaim.pseudonym)
                )
                if filters.year:
                    statement = statement.where(col(InsightClaim.year) == filters.year)
            elif filters.year:
                start, end = (datetime(y, 1, 1, tzinfo=UTC) for y in (filters.year, filters.year + 1))
                submitted = col(InsightCertification.submitted_at)
                statement = statement.where(submitted >= start, submitted < end)
            if filters.region:
                statement = statement.where(region == filters.region)
            statement = statement.where(hours.is_not(None)).group_by(region, on_time, hours)
            for r in await repo.grouped(session, statement):
                key = (str(kind), stage, r["region_code"], bool(r["on_time"]))
                histogram = cells.setdefault(key, {})
                histogram[int(r["hours"])] = histogram.get(int(r["hours"]), 0) + int(r["n"])
    return cells


def _review_rows(cells: Mapping[tuple[Any, ...], dict[int, int]], dimensions: Sequence[str]) -> Rows:
    return [
        {
            **dict(zip(dimensions, key, strict=True)),
            "count": sum(histogram.values()),
            "p50_hours": _percentile(histogram, 0.5),
            "p90_hours": _percentile(histogram, 0.9),
        }
        for key, histogram in sorted(cells.items(), key=lambda item: str(item[0]))
    ]


async def _reviews(session: AsyncSession, filters: Filters) -> Rows:
    """Review stages decided, per kind, stage, region and on time: count, p50 and p90 hours."""
    return _review_rows(await _review_histograms(session, filters), ("kind", "stage", "region_code", "on_time"))


async def _review_times(session: AsyncSession, filters: Filters) -> Rows:
    """Review stages decided, per kind and stage: count, on time, p50 and p90 hours over all regions."""
    merged: dict[tuple[str, str], dict[int, int]] = {}
    on_time: dict[tuple[str, str], int] = {}
    for (kind, stage, _, timely), histogram in (await _review_histograms(session, filters)).items():
        target = merged.setdefault((kind, stage), {})
        for hours, n in histogram.items():
            target[hours] = target.get(hours, 0) + n
        on_time[(kind, stage)] = on_time.get((kind, stage), 0) + (sum(histogram.values()) if timely else 0)
    rows = _review_rows(merged, ("kind", "stage"))
    return [{**r, "on_time": on_time[(r["kind"], r["stage"])]} for r in rows]


# --- housing, verifications, demand ------------------------------------------------------------------------


async def _rounds(session: AsyncSession, filters: Filters) -> Rows:
    """Rounds by status; `count` is the applications (people) behind the cell, with rounds and units."""
    where = (
        [col(InsightRound.opened_on).between(date(filters.year, 1, 1), date(filters.year, 12, 31))]
        if filters.year
        else []
    )
    statement = (
        select(
            col(InsightRound.status),
            func.coalesce(func.sum(col(InsightRound.application_count)), 0).label("count"),
            func.count().label("rounds"),
            func.coalesce(func.sum(col(InsightRound.unit_count)), 0).label("units"),
        )
        .where(*where)
        .group_by(col(InsightRound.status))
    )
    return [
        {**r, "status": str(r["status"]), "count": int(r["count"]), "units": int(r["units"])}
        for r in await repo.grouped(session, statement)
    ]


async def _offers(session: AsyncSession, filters: Filters) -> Rows:
    statement = select(col(InsightOffer.status), func.count().label("count")).group_by(col(InsightOffer.status))
    return [{**r, "status": str(r["status"])} for r in await repo.grouped(session, statement)]


async def _leases(session: AsyncSession, filters: Filters) -> Rows:
    statement = select(col(InsightLease.status), func.count().label("count")).group_by(col(InsightLease.status))
    return [{**r, "status": str(r["status"])} for r in await repo.grouped(session, statement)]


def _day_filters(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.since:
        where.append(column >= filters.since)
    if filters.until:
        where.append(column <= filters.until)
    if filters.year:
        where.append(column.between(date(filters.year, 1, 1), date(filters.year, 12, 31)))
    return where


async def _verifications(session: AsyncSession, filters: Filters) -> Rows:
    columns = (col(InsightVerification.scene), col(InsightVerification.partner_kind), col(InsightVerification.valid))
    statement = (
        select(*columns, func.count().label("count"))
        .where(*_day_filters(col(InsightVerification.day), filters))
        .group_by(*columns)
    )
    return [{**r, "valid": bool(r["valid"])} for r in await repo.grouped(session, statement)]


async def _demand(session: AsyncSession, filters: Filters) -> Rows:
    columns = (col(InsightDemand.shortage_category), col(InsightDemand.status))
    where = [col(InsightDemand.region_code) == filters.region] if filters.region else []
    statement = (
        select(
            *columns, func.count().label("count"), func.coalesce(func.sum(col(InsightDemand.posts)), 0).label("posts")
        )
        .where(*where, *_day_filters(col(InsightDemand.declared_on), filters))
        .group_by(*columns)
    )
    return [{**r, "status": str(r["status"]), "posts": int(r["posts"])} for r in await repo.grouped(session, statement)]


TABLES: Mapping[str, Table] = {
    t.name: t
    for t in (
        Table(
            "talents",
            ("region_code", "tier"),
            _talents_by(col(InsightTalent.region_code), col(InsightTalent.tier)),
            "certified talents by region and tier",
        ),
        Table(
            "talents_by_status",
            ("region_code", "status"),
            _talents_by(col(InsightTalent.region_code), col(InsightTalent.status), certified_only=False),
            "talents by region and standing (registered, certified, expired, revoked)",
        ),
        Table("talents_by_degree", ("degree",), _talents_by(col(InsightTalent.degree)), "certified talents by degree"),
        Table(
            "talents_by_route",
            ("route",),
            _talents_by(col(InsightTalent.route)),
            "certified talents by certification route",
        ),
        Table(
            "talents_by_shortage",
            ("shortage",),
            _talents_by(col(InsightTalent.shortage)),
            "certified talents by whether their employer is in the shortage catalogue",
        ),
        Table("claims", ("policy_code", "status"), _claims, "claims by policy and status"),
        Table(
            "claims_by_region", ("region_code", "status"), _claims_by_region, "claims by the talent's region and status"
        ),
        Table(
            "claims_by_decision",
            ("policy_code", "straight_through"),
            _claims_by_decision,
            "approved claims: straight through or reviewed",
        ),
        Table(
            "budgets",
            ("policy_code", "year"),
            _budgets,
            "amounts committed and paid per policy and year, against the budget",
        ),
        Table(
            "reviews",
            ("kind", "stage", "region_code", "on_time"),
            _reviews,
            "review stages decided: count, p50 and p90 hours",
        ),
        Table(
            "review_times", ("kind", "stage"), _review_times, "review stages decided: count, on time, p50 and p90 hours"
        ),
        Table("housing_rounds", ("status",), _rounds, "housing rounds by status: applications, rounds, units"),
        Table("housing_offers", ("status",), _offers, "housing offers by status"),
        Table("housing_leases", ("status",), _leases, "leases by status (active ones occupy a unit)"),
        Table(
            "verifications",
            ("scene", "partner_kind", "valid"),
            _verifications,
            "code verifications by scene, partner kind and outcome",
        ),
        Table(
            "demand",
            ("shortage_category", "status"),
            _demand,
            "employers' declared demand by shortage category: declarations and posts",
        ),
    )
}


# --- daily series ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    day: Any
    subject: Any
    where: tuple[ColumnElement[bool], ...] = ()
    region: Any = None


SERIES: Mapping[str, Series] = {
    s.name: s
    for s in (
        Series("certified", col(InsightTalent.certified_on), _TALENT, (_CERTIFIED,), col(InsightTalent.region_code)),
        Series("registered", col(InsightTalent.registered_on), _TALENT, (), col(InsightTalent.region_code)),
        Series("claims_submitted", col(InsightClaim.submitted_on), col(InsightClaim.claim_id)),
        Series("verifications", col(InsightVerification.day), col(InsightVerification.verification_id)),
        Series(
            "demand_declared",
            col(InsightDemand.declared_on),
            col(InsightDemand.demand_id),
            (),
            col(InsightDemand.region_code),
        ),
    )
}


async def series(session: AsyncSession, metric: Series, filters: Filters) -> Rows:
    """One row per day with anything in it: `day` (ISO date) and `count`."""
    where = [*metric.where, metric.day.is_not(None), *_day_filters(metric.day, filters)]
    if filters.region and metric.region is not None:
        where.append(metric.region == filters.region)
    statement = (
        select(metric.day.label("day"), func.count(metric.subject).label("count"))
        .where(*where)
        .group_by(metric.day)
        .order_by(metric.day)
    )
    return [{"day": r["day"].isoformat(), "count": int(r["count"])} for r in await repo.grouped(session, statement)]
