"""Insight endpoints (thin: the tables live in queries.py, disclosure control and the summary in service.py)."""

from __future__ import annotations

from email.utils import format_datetime

from fastapi import APIRouter, Response
from servicekit.db import SessionDep

from insight import exports, service, snapshots
from insight.dependencies import ComponentsDep, FiltersDep, ReaderPrincipal
from insight.schemas import SeriesPublic, SummaryPublic, TablePublic, TablesPublic

router = APIRouter(prefix="/api/v1/insight", tags=["insight"])


@router.get("/summary", response_model=SummaryPublic)
async def get_summary(
    response: Response,
    session: SessionDep,
    principal: ReaderPrincipal,
    components: ComponentsDep,
    filters: FiltersDep,
) -> SummaryPublic:
    """The city's figures at a glance (talents, claims, budgets, reviews, housing, verifications); small cells null."""
    answer, as_of = await snapshots.summary(session, components, filters)
    if as_of is not None:  # the worker's snapshot: how fresh it is
        response.headers["Last-Modified"] = format_datetime(as_of, usegmt=True)
    return answer


@router.get("/tables", response_model=TablesPublic)
async def list_tables(principal: ReaderPrincipal) -> TablesPublic:
    """The names, dimensions and meaning of every statistics table."""
    return service.list_tables()


@router.get("/breakdowns/{table}", response_model=TablePublic)
async def get_breakdown(
    table: str, session: SessionDep, principal: ReaderPrincipal, components: ComponentsDep, filters: FiltersDep
) -> TablePublic:
    """One statistics table, cell by cell, optionally for one region or year; small cells null."""
    return await service.breakdown(session, components, table, filters)


@router.get("/series/{metric}", response_model=SeriesPublic)
async def get_series(
    metric: str, session: SessionDep, principal: ReaderPrincipal, components: ComponentsDep, filters: FiltersDep
) -> SeriesPublic:
    """A daily time series (from/to inclusive, optionally one region); days with few subjects null."""
    return await service.series(session, components, metric, filters)


@router.get(
    "/{table}.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the table as CSV (UTF-8 with BOM)"}},
)
async def export_table(
    table: str, session: SessionDep, principal: ReaderPrincipal, components: ComponentsDep, filters: FiltersDep
) -> Response:
    """One statistics table as CSV for spreadsheets: the JSON table's cells, withheld measures empty."""
    published, _ = await service.published(session, components, table, filters)
    return exports.csv_response(published)
