"""Insight across the platform: talents certified in two regions, their claims and a housing round reach the
city's statistics through events alone, and the summary's numbers equal what the other services' own databases
say (read directly here, independently of insight); then `insight replay` rebuilds an empty database from the
topics and gives the identical summary.

The comparison is city-wide, so the test runs on a stack of its own, on a broker of its own: in the shared
stack other tests leave rounds whose applications are counted only when they close, so insight's figures would
legitimately differ from the sources' databases (every status change of a claim is an event:
tests/test_spec_transition_events.py). Here the city is what this test made: a figure insight
withholds (a cell of 1 to 4) is null, and every figure it publishes must equal the count from the source. The
test's own ten talents (five per region) make its two regions publishable.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from servicekit.testing import TansuBroker, create_database, drop_database, eventually, free_port

from .helpers import EVENT_PATIENCE_S, Headers, certify, fresh_id_number, official, profile, talent
from .stack import Stack, running_stack, wait_ready

REGIONS = {"330402": "reviewer.nanhu", "330411": "reviewer.xiuzhou"}
PER_REGION = 5
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def city() -> Iterator[Stack]:
    """The platform on a broker of its own: no other test's talents, claims or rounds in the figures."""
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as running:
            yield running
    finally:
        broker.stop()


@pytest.fixture
async def city_gateway(city: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=city.gateway_url, timeout=10.0) as client:
        yield client


async def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one read-only query on a service's own database (SQLite file or PostgreSQL)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]

        def read() -> list[tuple[Any, ...]]:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
                return [tuple(r) for r in connection.execute(sql).fetchall()]

        return await asyncio.to_thread(read)
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return [tuple(r) for r in await connection.fetch(sql)]
    finally:
        await connection.close()


async def _sources(stack: Stack) -> dict[str, dict[str, int]]:
    """The figures counted straight from applicant's, benefits' and housing's databases."""
    applicant = stack.env["applicant"]["APPLICANT_DATABASE_URL"]
    benefits = stack.env["benefits"]["BENEFITS_DATABASE_URL"]
    housing = stack.env["housing"]["HOUSING_DATABASE_URL"]
    certified = "FROM talent t JOIN talent_profile p ON p.talent_id = t.id WHERE t.status = 'certified'"
    by_region = await _query(applicant, f"SELECT p.region_code, COUNT(*) {certified} GROUP BY p.region_code")
    by_tier = await _query(applicant, f"SELECT t.tier, COUNT(*) {certified} GROUP BY t.tier")
    claims = await _query(benefits, "SELECT status, COUNT(*) FROM benefit_claim GROUP BY status")
    rounds = await _query(
        housing, "SELECT COUNT(*), COALESCE(SUM(unit_count), 0), COALESCE(SUM(application_count), 0) FROM housing_round"
    )
    return {
        "by_region": {str(k): int(v) for k, v in by_region},
        "by_tier": {str(k): int(v) for k, v in by_tier},
        "claims": {str(k): int(v) for k, v in claims},
        "housing": dict(zip(("rounds", "units", "applications"), (int(v) for v in rounds[0]), strict=True)),
    }


def _agrees(published: dict[str, int | None], source: dict[str, int]) -> list[str]:
    """What a published figure says differently from the source (a withheld figure, null, says nothing)."""
    return [
        f"{key}: {value} != {source.get(key, 0)}"
        for key, value in published.items()
        if value is not None and value != source.get(key, 0)
    ]


async def _summary(gateway: httpx.AsyncClient, leader: Headers) -> dict[str, Any]:
    response = await gateway.get("/api/v1/insight/summary", headers=leader)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _certify_in(gateway: httpx.AsyncClient, region: str, reviewer: str) -> Headers:
    auth = await talent(gateway)
    await certify(gateway, auth, profile(fresh_id_number(region), region=region), reviewer=reviewer)
    return auth


async def _round_with_applications(gateway: httpx.AsyncClient, applicants: Sequence[Headers]) -> str:
    """A housing round of two units, applied for by every one of `applicants`, closed and drawn."""
    officer = await official(gateway, "housing.city")
    project = await gateway.post(
        "/api/v1/housing/projects",
        json={
            "name": f"统计测试公寓 {uuid.uuid4().hex[:6]}",
            "region_code": "330402",
            "supply_model": "government",
            "address": "南湖路2号",
        },
        headers=officer,
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    units = await gateway.post(
        f"/api/v1/housing/projects/{project_id}/units",
        json={
            "units": [
                {"number": f"9-{n}01", "unit_type": "1BR", "area_m2": 45.0, "monthly_rent_fen": 200000} for n in (1, 2)
            ]
        },
        headers=officer,
    )
    assert units.status_code == 201, units.text
    round_ = await gateway.post(
        "/api/v1/housing/rounds",
        json={
            "name": "统计测试批次",
            "unit_ids": [u["id"] for u in units.json()["items"]],
            "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        },
        headers=officer,
    )
    assert round_.status_code == 201, round_.text
    round_id = str(round_.json()["id"])
    for auth in applicants:

        async def applied(auth: Headers = auth) -> bool:
            response = await gateway.post(
                f"/api/v1/housing/rounds/{round_id}/applications",
                json={"preferred_project_ids": [project_id], "household_size": 1},
                headers=auth,
            )
            return response.status_code == 201

        await eventually(applied, timeout=30, interval=0.2, what="housing to accept the application")
    for step in ("close", "draw"):
        moved = await gateway.post(f"/api/v1/housing/rounds/{round_id}/{step}", headers=officer)
        assert moved.status_code == 200, moved.text
    return round_id


async def test_the_summary_equals_the_sources_and_a_replay_rebuilds_it(
    city: Stack, city_gateway: httpx.AsyncClient
) -> None:
    stack, gateway = city, city_gateway
    applicants = []
    for region, reviewer in REGIONS.items():
        for _ in range(PER_REGION):
            applicants.append(await _certify_in(gateway, region, reviewer))
    await _round_with_applications(gateway, applicants)
    leader = await official(gateway, "leader.city")

    # Insight catches up through events: wait until every published figure equals the sources' count. The
    # figures that disagreed last are kept, so a timeout says which ones (and by how much).
    wrong: list[str] = []

    async def consistent() -> dict[str, Any] | None:
        nonlocal wrong
        sources = await _sources(stack)
        body = await _summary(gateway, leader)
        talents, housing = body["talents"], body["housing"]
        withheld = [region for region in REGIONS if talents["by_region"].get(region) is None]
        if withheld:
            wrong = [f"by_region {region}: withheld (fewer than {PER_REGION} in insight yet)" for region in withheld]
            return None
        wrong = (
            _agrees(talents["by_region"], sources["by_region"])
            + _agrees(talents["by_tier"], sources["by_tier"])
            + _agrees(body["claims"]["by_status"], sources["claims"])
            + _agrees({k: housing[k] for k in ("rounds", "units", "applications")}, sources["housing"])
        )
        if talents["total"] is not None and talents["total"] != sum(sources["by_region"].values()):
            wrong.append(f"total {talents['total']} != {sum(sources['by_region'].values())}")
        return None if wrong else body

    try:
        summary = await eventually(
            consistent, timeout=EVENT_PATIENCE_S, interval=0.5, what="insight's summary to equal the sources"
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; disagreeing last: {wrong}") from None
    for region in REGIONS:
        assert summary["talents"]["by_region"][region] >= PER_REGION
    assert summary["talents"]["by_tier"]["E"] >= 2 * PER_REGION
    assert summary["housing"]["applications"] is not None and summary["housing"]["applications"] >= 2 * PER_REGION

    # Replay every topic into an empty database, then serve it from a second insight (no workers of its own,
    # so it never joins the live consumer group): the same summary, figure for figure.
    replayed = _Replayed(stack)
    try:
        differing: list[str] = []

        async def identical() -> bool:
            nonlocal differing
            live = await _summary(gateway, leader)
            await replayed.replay()
            rebuilt = await replayed.summary(leader)
            differing = [
                f"{key}: {rebuilt.get(key)!r} != {live.get(key)!r}" for key in live if rebuilt.get(key) != live[key]
            ]
            return rebuilt == live

        try:
            await eventually(
                identical,
                timeout=max(180.0, EVENT_PATIENCE_S),
                interval=1.0,
                what="the replayed summary to equal the live one",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; differing last (replayed != live): {differing}") from None
    finally:
        replayed.close()


class _Replayed:
    """An empty insight database of the test's own, filled by `insight replay` and read by an `insight serve`
    without workers (real processes, like the stack's)."""

    def __init__(self, stack: Stack) -> None:
        base = os.environ.get("TEST_DATABASE_URL", "")
        self.created = ""
        if base.startswith("postgresql"):
            self.created = f"insight_replay_{uuid.uuid4().hex[:8]}"
            url = create_database(base, self.created)
        else:
            url = f"sqlite+aiosqlite:///{stack.workdir / f'insight-replay-{uuid.uuid4().hex[:8]}.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TALENT_ENV": "dev",
            "INSIGHT_DATABASE_URL": url,
            "INSIGHT_KAFKA_BOOTSTRAP_SERVERS": stack.broker.bootstrap_servers,
            "INSIGHT_JWKS_URL": f"{stack.gateway_url}/.well-known/jwks.json",
            "INSIGHT_WORKERS_IN_PROCESS": "false",
            "INSIGHT_CACHE_TTL_S": "0",
            "INSIGHT_LOG_JSON": "true",
        }
        self.log = stack.workdir / "insight-replay.log"
        self.server: subprocess.Popen[bytes] | None = None

    async def replay(self) -> None:
        await asyncio.to_thread(self._replay_then_serve)

    def _replay_then_serve(self) -> None:
        with open(self.log, "ab") as log:
            command = [str(BIN / "insight"), "replay"]
            subprocess.run(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=300)
        if self.server is None:
            log = open(self.log, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
            command = [str(BIN / "insight"), "serve", "--port", str(self.port), "--no-migrate"]
            self.server = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            wait_ready(self.url, process=self.server)

    async def summary(self, leader: Headers) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:
            return await _summary(client, leader)

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=15)
        if self.created:
            drop_database(os.environ["TEST_DATABASE_URL"], self.created)
