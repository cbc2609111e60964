"""The stored city-wide summary: served without filters with its time, recomputed by the worker after committed
batches only, equal to the summary computed from the rows; and a policy's budget is its newest version's."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from contracts import parse_data
from contracts.events import PolicyPublished
from fastapi import FastAPI
from insight import service, snapshots
from insight.components import AnswerCache, Components
from insight.handlers import fact_handlers
from insight.queries import Filters
from servicekit.db import Database
from servicekit.testing import eventually

from .conftest import City, apply

pytestmark = pytest.mark.asyncio


def _components(app: FastAPI, interval_s: float = 0.05) -> Components:
    c: Components = app.state.components
    return replace(c, settings=c.settings.model_copy(update={"snapshot_interval_s": interval_s}), cache=AnswerCache(0))


async def test_a_summary_without_filters_is_the_stored_one_with_its_time_and_a_filtered_one_is_computed(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    await apply(insight_app, city.events)
    computed = await client.get("/api/v1/insight/summary", headers=leader)
    assert computed.status_code == 200 and "last-modified" not in computed.headers  # no worker has stored one

    database: Database = insight_app.state.database
    async with database.transaction() as session:
        as_of = await snapshots.refresh_summary(session, _components(insight_app))
    stored = await client.get("/api/v1/insight/summary", headers=leader)
    assert stored.json() == computed.json()
    assert parsedate_to_datetime(stored.headers["last-modified"]) == as_of.replace(microsecond=0)

    # A talent certified after it: the stored summary does not have it until the worker recomputes it, a
    # filtered read (computed from the rows) does.
    later = City(start=city.start + timedelta(days=1))
    later.talent("330411", "B")
    await apply(insight_app, later.events)
    assert (await client.get("/api/v1/insight/summary", headers=leader)).json()["talents"]["total"] == 11
    xiuzhou = await client.get("/api/v1/insight/summary?region=330411", headers=leader)
    assert "last-modified" not in xiuzhou.headers and xiuzhou.json()["talents"]["total"] == 7


async def test_the_worker_recomputes_the_summary_after_a_committed_batch_and_not_after_a_rolled_back_one(
    insight_app: FastAPI, city: City
) -> None:
    database: Database = insight_app.state.database
    c = _components(insight_app)
    keeper = snapshots.SnapshotKeeper(c)
    handlers = fact_handlers(c.pseudonymise, keeper.mark_after_commit)
    keeper.stale.clear()

    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            event = city.events[0]
            await handlers[parse_data(event).__class__](session, event, parse_data(event))
            raise RuntimeError("the batch failed")
    assert not keeper.stale.is_set()

    for event in city.events:
        async with database.transaction() as session:
            await handlers[parse_data(event).__class__](session, event, parse_data(event))
    assert keeper.stale.is_set()

    task = asyncio.create_task(keeper.run(database))
    try:

        async def stored_total() -> int | None:
            async with database.transaction() as session:
                stored = await snapshots.stored_summary(session)
            return None if stored is None else stored[0].talents.total

        assert await eventually(stored_total, what="the stored summary") == 11
        async with database.transaction() as session:
            live = await service.summary(session, c, Filters())
            stored = await snapshots.stored_summary(session)
        assert stored is not None and stored[0] == live
    finally:
        task.cancel()


async def test_a_policys_budget_is_its_newest_versions_even_when_an_older_one_is_announced_later(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    # benefits announces a seeded version at its worker's start, possibly after a newer version's own event.
    city.emit(
        PolicyPublished(
            policy_code="RENT", version=2, yearly_budget_fen=20_000_000, published_at=city.start + timedelta(days=30)
        ),
        hours=1,
    )
    city.emit(
        PolicyPublished(policy_code="RENT", version=1, yearly_budget_fen=10_000_000, published_at=city.start), hours=2
    )
    await apply(insight_app, city.events)
    summary = (await client.get("/api/v1/insight/summary", headers=leader)).json()
    assert next(line for line in summary["budgets"] if line["policy_code"] == "RENT")["budget_fen"] == 20_000_000
