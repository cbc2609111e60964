"""What a reader of the statistics gets: every table through disclosure control, the summary cut from them.

A number leaves insight only as a published cell (`disclosure.publish`) or as a total that cannot give a
withheld cell away (`disclosure.publish_total`); the summary is built from those alone. Answers are computed
from the state rows (insight.queries) and kept a short while (Components.cache).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from insight import index, queries
from insight.components import Components
from insight.disclosure import Published, publish, publish_total
from insight.exceptions import UnknownMetric, UnknownTable
from insight.queries import Filters, Rows
from insight.schemas import (
    BudgetLine,
    ClaimsSummary,
    HousingSummary,
    ReviewStage,
    SeriesPoint,
    SeriesPublic,
    SummaryPublic,
    TableInfo,
    TablePublic,
    TablesPublic,
    TalentsSummary,
    VerificationsSummary,
)
from insight.states import LeaseStatus


def list_tables() -> TablesPublic:
    return TablesPublic(
        items=[
            TableInfo(name=t.name, dimensions=list(t.dimensions), description=t.description)
            for t in queries.TABLES.values()
        ]
    )


async def published(session: AsyncSession, c: Components, name: str, filters: Filters) -> tuple[Published, Rows]:
    """A table as it may be shown, with the raw rows it was published from (for publish_total only)."""
    table = queries.TABLES.get(name)
    if table is None:
        raise UnknownTable(name, queries.TABLES)

    async def compute() -> tuple[Published, Rows]:
        rows = await table.query(session, filters)
        return publish(table.name, table.dimensions, rows, k=c.settings.min_cell), rows

    result: tuple[Published, Rows] = await c.cache.get(("table", name, filters), compute)
    return result


async def breakdown(session: AsyncSession, c: Components, name: str, filters: Filters) -> TablePublic:
    table, _ = await published(session, c, name, filters)
    return TablePublic(name=table.name, dimensions=list(table.dimensions), rows=table.rows, suppressed=table.suppressed)


async def series(session: AsyncSession, c: Components, metric: str, filters: Filters) -> SeriesPublic:
    definition = queries.SERIES.get(metric)
    if definition is None:
        raise UnknownMetric(metric, queries.SERIES)

    async def compute() -> SeriesPublic:
        # A day is a cell like any other: a day with 1 to 4 is withheld, and so is a neighbour that would
        # give it away through the period's total.
        table = publish(
            f"series.{metric}", ("day",), await queries.series(session, definition, filters), k=c.settings.min_cell
        )
        points = [SeriesPoint(day=r["day"], count=r["count"]) for r in table.rows]
        return SeriesPublic(metric=metric, points=points, suppressed=table.suppressed)

    answer: SeriesPublic = await c.cache.get(("series", metric, filters), compute)
    return answer


# --- the summary -------------------------------------------------------------------------------------------


def _share(part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    return round(part / whole, 4)


def _slices(table: Published, rows: Rows, dimension: str, *, field: str | None = None) -> dict[str, int | None]:
    """The totals of the table per value of one dimension (each refused when it would reveal a cell)."""
    values = sorted({r[dimension] for r in rows if r[dimension] is not None}, key=str)
    return {str(v): publish_total(table, rows, where={dimension: v}, field=field) for v in values}


async def summary(session: AsyncSession, c: Components, filters: Filters) -> SummaryPublic:
    async def compute() -> SummaryPublic:
        tables: dict[str, tuple[Published, Rows]] = {}
        for name in (
            "talents",
            "claims",
            "claims_by_decision",
            "budgets",
            "review_times",
            "housing_rounds",
            "housing_offers",
            "housing_leases",
            "verifications",
        ):
            tables[name] = await published(session, c, name, filters)
        talents = _talents(*tables["talents"])
        claims = _claims(tables["claims"], tables["claims_by_decision"])
        housing = _housing(tables["housing_rounds"], tables["housing_offers"], tables["housing_leases"])
        return SummaryPublic(
            talents=talents,
            claims=claims,
            budgets=_budgets(*tables["budgets"]),
            reviews=_reviews(tables["review_times"][0]),
            housing=housing,
            verifications=_verifications(*tables["verifications"]),
            index=index.compute(
                await _index_inputs(session, c, filters, tables, talents, claims, housing),
                rules=index.RULES.get(index.INDEX_RULES),
            ),
            suppressed=[cell for table, _ in tables.values() for cell in table.suppressed],
        )

    answer: SummaryPublic = await c.cache.get(("summary", filters), compute)
    return answer


async def _index_inputs(
    session: AsyncSession,
    c: Components,
    filters: Filters,
    tables: dict[str, tuple[Published, Rows]],
    talents: TalentsSummary,
    claims: ClaimsSummary,
    housing: HousingSummary,
) -> dict[str, float | None]:
    """The 人才发展指数's inputs (insight.index), each from published figures only, None where one is withheld."""
    total = talents.total
    high = [n for t, n in talents.by_tier.items() if t in ("A", "B", "C")]
    other = [n for t, n in talents.by_tier.items() if t not in ("A", "B", "C")]
    # A to C together: added up when each is shown, else the total less the other tiers when those are shown
    # (a sum of withheld slices is never published on its own).
    high_count: int | None = None
    if all(n is not None for n in high):
        high_count = sum(n or 0 for n in high)
    elif total is not None and all(n is not None for n in other):
        high_count = total - sum(n or 0 for n in other)
    since = datetime.now(UTC).date() - timedelta(days=365)
    recent_rows = await queries.series(session, queries.SERIES["certified"], replace(filters, since=since, until=None))
    recent = publish_total(publish("series.certified", ("day",), recent_rows, k=c.settings.min_cell), recent_rows)
    earlier = total - recent if total is not None and recent is not None else None
    budget_rows = tables["budgets"][1]
    budget = sum(r["budget_fen"] for r in budget_rows if r["budget_fen"] is not None) or None
    return {
        "talents_certified": total,
        "share_tier_a_to_c": _share(high_count, total),
        "talents_growth_365d": _share(recent, earlier),
        "claims_straight_through_share": claims.straight_through_share,
        "reviews_on_time_share": _share(
            publish_total(*tables["review_times"], field="on_time"), publish_total(*tables["review_times"])
        ),
        "budget_execution_share": _share(publish_total(*tables["budgets"], field="paid_fen"), budget),
        "housing_occupancy_share": housing.occupancy,
    }


def _talents(table: Published, rows: Rows) -> TalentsSummary:
    return TalentsSummary(
        total=publish_total(table, rows),
        by_tier=_slices(table, rows, "tier"),
        by_region=_slices(table, rows, "region_code"),
    )


def _claims(claims: tuple[Published, Rows], decisions: tuple[Published, Rows]) -> ClaimsSummary:
    straight = publish_total(*decisions, where={"straight_through": True})
    return ClaimsSummary(
        by_status=_slices(*claims, "status"),
        straight_through_share=_share(straight, publish_total(*decisions)),
    )


def _budgets(table: Published, rows: Rows) -> list[BudgetLine]:
    lines = []
    for shown, raw in zip(table.rows, rows, strict=True):
        # The budget is policy data, not a count of people: it is shown even when the row's figures are not.
        budget = raw["budget_fen"]
        lines.append(
            BudgetLine(
                policy_code=shown["policy_code"],
                year=shown["year"],
                claims=shown["count"],
                committed_fen=shown["committed_fen"],
                paid_fen=shown["paid_fen"],
                budget_fen=budget,
                paid_share=_share(shown["paid_fen"], budget),
            )
        )
    return lines


def _reviews(table: Published) -> dict[str, dict[str, ReviewStage]]:
    reviews: dict[str, dict[str, ReviewStage]] = {}
    for row in table.rows:
        reviews.setdefault(row["kind"], {})[row["stage"]] = ReviewStage(
            decided=row["count"],
            on_time=row["on_time"],
            on_time_share=_share(row["on_time"], row["count"]),
            p50_hours=row["p50_hours"],
            p90_hours=row["p90_hours"],
        )
    return reviews


def _housing(
    rounds: tuple[Published, Rows], offers: tuple[Published, Rows], leases: tuple[Published, Rows]
) -> HousingSummary:
    units = publish_total(*rounds, field="units")
    by_lease = _slices(*leases, "status")
    return HousingSummary(
        rounds=publish_total(*rounds, field="rounds"),
        units=units,
        applications=publish_total(*rounds),
        offers=_slices(*offers, "status"),
        leases=by_lease,
        occupancy=_share(by_lease.get(LeaseStatus.ACTIVE), units),
    )


def _verifications(table: Published, rows: Rows) -> VerificationsSummary:
    return VerificationsSummary(
        total=publish_total(table, rows),
        valid=publish_total(table, rows, where={"valid": True}),
        by_scene=_slices(table, rows, "scene"),
        by_partner_kind=_slices(table, rows, "partner_kind"),
    )
