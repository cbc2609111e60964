"""Housing draw: 100,000 applications over 15,200 units (docs/domain.md: "an allocation round with 10万 applicants
for 1.5万 units"), and the offer cascade of 1,000 declines in a row.

Figures:
- the ranking itself (housing.draw.rank, the code the draw endpoint runs) for several n, to show O(n log n):
  the time per (n log2 n) stays flat and the fitted exponent of t ~ n^k is close to 1; peak memory by tracemalloc;
- the whole draw endpoint (rank + write 100,000 ranks + 15,200 offers, timers and events in one transaction),
  through the API in-process on a prepared round: the round, its units and the talents' read model are made
  through the service layer, and the 100,000 applications are inserted in bulk as `rounds.apply` would write
  them (100,000 HTTP calls would only measure the HTTP stack);
- the offer cascade: 1,000 declines in a row through the API, each passing its unit to the next ranked applicant.

Run: `uv run python -m bench.bench_housing_draw` (SQLite in a temporary directory). With BENCH_HOUSING_DATABASE_URL
or TEST_DATABASE_URL set to a PostgreSQL server (postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) it
runs in a fresh database made there for the run and dropped afterwards.
Writes bench/results/housing_draw.<database>.json.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from housing import draw, inventory, rounds
from housing.config import HousingSettings
from housing.main import build_app
from housing.models import HousingApplication, HousingTalent
from housing.schemas import ProjectCreate, RoundCreate, UnitCreate, UnitsCreate
from servicekit.auth import Principal, StaticJwks
from servicekit.migrations import upgrade
from servicekit.testing import TestKeys, create_database, drop_database, serve_in_process
from sqlalchemy import insert, select

from bench.common import Figure, write_results
from bench.sqlcount import StatementCounter

SCENARIO = "housing_draw"
APPLICATIONS = 100_000
UNITS = 15_200
PROJECTS = 8
DECLINES = 1_000
ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services/housing/alembic.ini"
TIER_WEIGHTS = (("A", 1), ("B", 4), ("C", 10), ("D", 25), ("E", 60))


def _population(n: int, rng: Any) -> list[draw.Entry]:
    tiers = [t for t, w in TIER_WEIGHTS for _ in range(w)]
    return [draw.Entry(f"ha_{secrets.token_hex(10)}", rng.choice(tiers), rng.randint(20, 150)) for _ in range(n)]


def bench_ranking() -> list[Figure]:
    import random

    rng = random.Random(7)
    seed = secrets.token_bytes(32)
    sizes = (12_500, 25_000, 50_000, 100_000)
    timings: dict[int, float] = {}
    for n in sizes:
        entries = _population(n, rng)
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            draw.rank(entries, seed, unit_count=UNITS, tier_quotas={"E": 3000})
            best = min(best, time.perf_counter() - started)
        timings[n] = best
    entries = _population(APPLICATIONS, rng)
    tracemalloc.start()
    draw.rank(entries, seed, unit_count=UNITS, tier_quotas={"E": 3000})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    exponent = math.log(timings[100_000] / timings[12_500]) / math.log(100_000 / 12_500)
    figures = [
        Figure(SCENARIO, f"rank {n:,} applications", "s", timings[n], 2.0 if n == APPLICATIONS else None, False)
        for n in sizes
    ]
    figures += [
        Figure(SCENARIO, f"rank time per n·log2(n), n={n:,}", "ns", timings[n] / (n * math.log2(n)) * 1e9)
        for n in sizes
    ]
    figures.append(Figure(SCENARIO, "fitted exponent k of t ~ n^k (1 = linear)", "k", exponent, 1.3, False))
    figures.append(Figure(SCENARIO, "rank 100,000: peak memory (tracemalloc)", "MiB", peak / 2**20))
    return figures


async def _prepare_round(app: Any, keys: TestKeys) -> tuple[str, list[str]]:
    """A closed round of UNITS units and APPLICATIONS applications; returns (round id, talent ids)."""
    officer = Principal(sub="housing.city", roles=frozenset({"housing_officer"}))
    database = app.state.database
    unit_ids: list[str] = []
    async with database.transaction() as session:
        for p in range(PROJECTS):
            project = await inventory.create_project(
                session,
                officer,
                ProjectCreate(name=f"人才公寓 {p}", region_code="330402", supply_model="government", address=f"{p} 号"),
            )
            per_project = UNITS // PROJECTS
            for start in range(0, per_project, 1000):
                batch = [
                    UnitCreate(number=f"{n:05d}", unit_type=("studio", "1BR", "2BR", "3BR")[n % 4], area_m2=50,
                               monthly_rent_fen=200_000 + 10_000 * (n % 4))
                    for n in range(start, min(start + 1000, per_project))
                ]  # fmt: skip
                units = await inventory.add_units(session, officer, project.id, UnitsCreate(units=batch))
                unit_ids += [u.id for u in units]
    async with database.transaction() as session:
        round_ = await rounds.create_round(
            session,
            officer,
            RoundCreate(name="bench", unit_ids=unit_ids, closes_at=datetime.now(UTC) + timedelta(days=1)),
        )
    import random

    rng = random.Random(11)
    tiers = [t for t, w in TIER_WEIGHTS for _ in range(w)]
    talent_ids = [str(uuid.uuid4()) for _ in range(APPLICATIONS)]
    now = datetime.now(UTC)
    async with database.transaction() as session:
        talents = []
        applications = []
        for talent_id in talent_ids:
            tier, points = rng.choice(tiers), rng.randint(20, 150)
            talents.append(
                {"talent_id": talent_id, "status": "certified", "tier": tier, "points": points,
                 "certified_until": date.today() + timedelta(days=900), "works_in_city": True,
                 "owns_home_in_city": False, "voucher_used": False, "decline_count": 0, "updated_at": now}
            )  # fmt: skip
            applications.append(
                {"id": str(uuid.uuid4()), "round_id": round_.id, "talent_id": talent_id,
                 "pseudonym": "ha_" + secrets.token_hex(10), "household_size": rng.randint(1, 4),
                 "preferred_project_ids": "[]", "tier": tier, "points": points, "status": "submitted",
                 "selected": False, "created_at": now}
            )  # fmt: skip
        for start in range(0, APPLICATIONS, 10_000):
            await session.exec(insert(HousingTalent), params=talents[start : start + 10_000])
            await session.exec(insert(HousingApplication), params=applications[start : start + 10_000])
    async with database.transaction() as session:
        await rounds.close_round(session, officer, round_.id)
    return round_.id, talent_ids


async def bench_api(database_url: str) -> list[Figure]:
    keys = TestKeys()
    upgrade(ALEMBIC_INI, database_url)
    settings = HousingSettings(TALENT_ENV="dev", database_url=database_url, kafka_bootstrap_servers="127.0.0.1:1")
    app = build_app(settings, key_source=StaticJwks(keys.jwks()), run_workers=False)
    figures: list[Figure] = []
    async with serve_in_process(app) as client:
        client.timeout = 600
        started = time.perf_counter()
        round_id, _ = await _prepare_round(app, keys)
        prepare_s = time.perf_counter() - started
        officer = keys.headers("housing.city", ["housing_officer"])
        draw_statements = StatementCounter(app.state.database.engine)
        with draw_statements:
            started = time.perf_counter()
            response = await client.post(f"/api/v1/housing/rounds/{round_id}/draw", headers=officer)
            draw_s = time.perf_counter() - started
        assert response.status_code == 200, response.text
        print(f"draw: {draw_s:.2f}s, load average {os.getloadavg()[0]:.2f}; statements:")
        draw_statements.print_top(1, limit=12)
        figures.append(Figure(SCENARIO, "prepare round (service layer + bulk apps)", "s", prepare_s))
        figures.append(Figure(SCENARIO, "draw endpoint: 100,000 apps, 15,200 offers", "s", draw_s, 2.0, False))
        figures.append(Figure(SCENARIO, "draw endpoint: CPU (whole process)", "s", draw_statements.cpu_s))
        figures.append(Figure(SCENARIO, "draw endpoint: SQL statements", "statements", draw_statements.total))

        async with app.state.database.sessionmaker() as session:
            offered = (
                await session.execute(
                    select(HousingApplication.talent_id)
                    .where(HousingApplication.round_id == round_id, HousingApplication.status == "offered")
                    .order_by(HousingApplication.rank)
                    .limit(DECLINES)
                )
            ).scalars()
            decliners = list(offered)
        offers: list[tuple[dict[str, str], str]] = []
        for talent_id in decliners:
            headers = keys.headers(talent_id, ["talent"])
            mine = (await client.get("/api/v1/me/housing", headers=headers)).json()
            offers.append((headers, next(o["id"] for o in mine["offers"] if o["status"] == "open")))
        statements = StatementCounter(app.state.database.engine)
        profiler = _profiler()
        cpu_started, started = time.process_time(), time.perf_counter()
        with statements:
            if profiler is not None:
                profiler.start()
            for headers, offer_id in offers:
                declined = await client.post(f"/api/v1/me/housing/offers/{offer_id}/decline", headers=headers)
                assert declined.status_code == 200, declined.text
            if profiler is not None:
                profiler.stop()
        cascade_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
        if profiler is not None:
            print(profiler.output_text(color=False, unicode=False))
        print(f"declines: {len(offers)} in {cascade_s:.2f}s, load average {os.getloadavg()[0]:.2f}; per decline:")
        statements.print_top(len(offers))
        figures.append(Figure(SCENARIO, "offer cascade: 1,000 declines in a row (API)", "s", cascade_s, 5.0, False))
        figures.append(Figure(SCENARIO, "offer cascade: per decline", "ms", cascade_s / DECLINES * 1000))
        figures.append(
            Figure(SCENARIO, "offer cascade: CPU per decline (whole process)", "ms", cpu_s / DECLINES * 1000)
        )
        figures.append(
            Figure(SCENARIO, "offer cascade: SQL statements per decline", "statements", statements.total / DECLINES)
        )
    return figures


def _profiler() -> Any:
    """BENCH_PROFILE=1: a pyinstrument profile of the cascade (`uv run --with pyinstrument ...`)."""
    if not os.environ.get("BENCH_PROFILE"):
        return None
    from pyinstrument import Profiler

    return Profiler(async_mode="disabled")


def main() -> None:
    figures = bench_ranking()
    server = os.environ.get("BENCH_HOUSING_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL", "")
    if server.startswith("postgresql"):
        os.environ.setdefault("BENCH_DATABASE", "postgresql")  # the results file names its database
        name = f"bench_housing_{secrets.token_hex(4)}"
        url = create_database(server, name)
        try:
            figures += asyncio.run(bench_api(url))
        finally:
            drop_database(server, name)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-housing-") as tmp:
            figures += asyncio.run(bench_api(f"sqlite+aiosqlite:///{tmp}/housing.db"))
    write_results(SCENARIO, figures)


if __name__ == "__main__":
    main()
