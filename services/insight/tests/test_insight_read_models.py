"""Insight's read models: what the summary and breakdowns say about a sample city, that any arrival order and
any repeat of the events give the same rows, and that no personal value from the events is ever stored."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from servicekit.db import Database

from .conftest import (
    CANARY_CREDIT_CODE,
    CANARY_EMAIL,
    CANARY_EMPLOYER,
    CANARY_ID_NUMBER,
    CANARY_MASKED,
    CANARY_NAME,
    CANARY_PARTNER,
    CANARY_PHONE,
    TESTBED,
    City,
    all_text,
    apply,
    apply_without_ledger,
    dump,
    sample_city,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def second_app(insight_databases: Any, broker: Any, test_keys: Any) -> AsyncIterator[FastAPI]:
    """Another insight on an empty database of its own, to compare with the first."""
    with insight_databases.fresh() as url:
        app = TESTBED.app(TESTBED.settings(url, broker), test_keys)
        yield app
        await app.state.database.dispose()


async def test_summary_counts_the_city_and_withholds_cells_below_five(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    await apply(insight_app, city.events)
    response = await client.get("/api/v1/insight/summary", headers=leader)
    assert response.status_code == 200, response.text
    summary = response.json()

    # 6 tier-B in 秀洲区 and 5 tier-C in 南湖区 are certified; the tier-A talent was revoked and is not counted.
    assert summary["talents"] == {"total": 11, "by_tier": {"B": 6, "C": 5}, "by_region": {"330402": 5, "330411": 6}}
    # 16 claims: 11 RENT (6 straight through, 6 paid) and 5 SETTLE (reviewed).
    assert summary["claims"]["by_status"] == {"disbursed": 6, "publicized": 10}
    assert summary["claims"]["straight_through_share"] == 0.375  # 6 of 16 approved claims saw no reviewer
    rent = next(line for line in summary["budgets"] if line["policy_code"] == "RENT")
    assert rent == {
        "policy_code": "RENT",
        "year": 2026,
        "claims": 11,
        "committed_fen": 11 * 120_000,
        "paid_fen": 6 * 120_000,
        "budget_fen": 10_000_000,
        "paid_share": 0.072,
    }
    settle = next(line for line in summary["budgets"] if line["policy_code"] == "SETTLE")
    assert (settle["claims"], settle["committed_fen"], settle["budget_fen"]) == (5, 2_500_000, None)

    # Certification stages: 12 cases, county ~30 h, city ~20 h (rounded up to whole hours); claims: 10 reviewed,
    # one escalated at county.
    reviews = summary["reviews"]
    assert reviews["certification"]["county"] == {
        "decided": 12,
        "on_time": 12,
        "on_time_share": 1.0,
        "p50_hours": 31,
        "p90_hours": 31,
    }
    assert reviews["certification"]["city"]["p50_hours"] == 21
    assert reviews["claim"]["county"]["decided"] == 10
    assert reviews["claim"]["county"]["on_time"] == 9

    housing = summary["housing"]
    assert (housing["rounds"], housing["units"], housing["applications"]) == (1, 8, 7)
    # 5 accepted and 1 declined offer; 4 active and 1 ended lease: a cell of 1 hides its only neighbour too.
    assert housing["offers"] == {"accepted": None, "declined": None}
    assert housing["leases"] == {"active": None, "ended": None}
    assert housing["occupancy"] is None

    # 7 verifications, 1 refused: the total publishes, the valid slice (one withheld cell) does not.
    assert summary["verifications"]["total"] == 7
    assert summary["verifications"]["valid"] is None

    withheld = {(cell["table"], *(v for k, v in cell.items() if k != "table")) for cell in summary["suppressed"]}
    assert ("housing_leases", "ended") in withheld
    assert ("housing_offers", "declined") in withheld


async def test_no_published_number_is_between_one_and_four(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    await apply(insight_app, city.events)
    tables = (await client.get("/api/v1/insight/tables", headers=leader)).json()["items"]
    assert {t["name"] for t in tables} >= {"talents", "claims", "budgets", "reviews", "verifications", "demand"}
    for table in tables:
        body = (await client.get(f"/api/v1/insight/breakdowns/{table['name']}", headers=leader)).json()
        for row in body["rows"]:
            assert row["count"] is None or row["count"] == 0 or row["count"] >= 5, (table["name"], row)


async def test_breakdowns_filter_by_region_and_year(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    await apply(insight_app, city.events)
    xiuzhou = await client.get("/api/v1/insight/breakdowns/talents?region=330411", headers=leader)
    assert xiuzhou.json()["rows"] == [{"region_code": "330411", "tier": "B", "count": 6}]
    summary = (await client.get("/api/v1/insight/summary?region=330402", headers=leader)).json()
    assert summary["talents"]["total"] == 5
    nothing = (await client.get("/api/v1/insight/breakdowns/claims?year=2020", headers=leader)).json()
    assert nothing["rows"] == []


async def test_daily_series_counts_certifications_per_city_day(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    await apply(insight_app, city.events)
    response = await client.get("/api/v1/insight/series/certified?from=2026-03-01&to=2026-03-31", headers=leader)
    assert response.status_code == 200, response.text
    # Certified ~50 h after 2026-03-02 01:00 UTC: 2026-03-04 in Beijing time, all 11 on one day.
    assert response.json()["points"] == [{"day": "2026-03-04", "count": 11}]
    empty = await client.get("/api/v1/insight/series/certified?from=2025-01-01&to=2025-12-31", headers=leader)
    assert empty.json()["points"] == []


async def test_any_order_and_any_repeat_give_the_same_rows(insight_app: FastAPI, second_app: FastAPI) -> None:
    city = sample_city()
    assert await apply(insight_app, city.events) == len(city.events)
    assert await apply(insight_app, city.events) == 0  # the ledger: nothing applied twice

    # The facts alone (without the ledger) must tolerate a shuffled stream delivered twice over.
    shuffled = list(city.events)
    random.Random(18).shuffle(shuffled)
    twice = shuffled + list(reversed(shuffled))
    await apply_without_ledger(second_app, twice)

    first: Database = insight_app.state.database
    second: Database = second_app.state.database
    assert await dump(second) == await dump(first)


async def test_no_personal_value_from_the_events_is_stored(insight_app: FastAPI, city: City) -> None:
    await apply(insight_app, city.events)
    stored = await all_text(insight_app.state.database)
    assert "insight_talent" not in stored  # (sanity: values, not table names)
    for canary in (
        CANARY_NAME,
        CANARY_MASKED,
        CANARY_EMPLOYER,
        CANARY_ID_NUMBER,
        CANARY_PHONE,
        CANARY_EMAIL,
        CANARY_PARTNER,
        CANARY_CREDIT_CODE,
        "CANARY-TALENT",  # every talent id of the sample starts so
        "partner-pseudonym",  # the applicant's own pseudonym is linkable with partner feeds: not kept either
        "officer-",
    ):
        assert canary not in stored, canary
    # The talents are there, as insight's pseudonyms (64 hex characters).
    assert stored.count("'330411'") >= 6


async def test_only_leaders_auditors_and_admins_read_statistics(client: httpx.AsyncClient, test_keys: Any) -> None:
    for role in ("leader", "auditor", "admin"):
        response = await client.get("/api/v1/insight/summary", headers=test_keys.headers("someone", [role]))
        assert response.status_code == 200, role
    for role in ("talent", "county_reviewer", "city_approver", "finance_officer", "housing_officer"):
        response = await client.get("/api/v1/insight/summary", headers=test_keys.headers("someone", [role]))
        assert response.status_code == 403, role
    assert (await client.get("/api/v1/insight/tables")).status_code == 401


async def test_unknown_tables_metrics_and_bad_filters_are_clear_problems(
    client: httpx.AsyncClient, leader: dict[str, str]
) -> None:
    unknown = await client.get("/api/v1/insight/breakdowns/salaries", headers=leader)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert "talents" in unknown.json()["detail"]
    assert (await client.get("/api/v1/insight/series/moods", headers=leader)).status_code == 404
    for query in ("region=xiuzhou", "year=1800", "from=2026-05-01&to=2026-04-01", "from=yesterday"):
        response = await client.get(f"/api/v1/insight/summary?{query}", headers=leader)
        assert response.status_code == 422, query
        assert response.headers["content-type"].startswith("application/problem+json")
