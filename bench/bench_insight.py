"""Insight: how fast the consumer applies events from the broker, and the summary's latency at city size.

Phase 1 (events/s): insight runs as a real process (`insight serve`, consumers in process) on a Tansu broker
of its own; `--events` talent events (registered, then certified, for `--events / 2` talents) are produced at
once and the clock stops when insight's database shows every talent certified. `run_all` puts the figure next
to the raw aiokafka produce → consume ceiling measured in the same run.

Phase 2 (summary latency): `--talents` talents (and their certification cases and 0.6 claims each) are loaded
straight into insight's database — multi-row inserts on SQLite, COPY on PostgreSQL — and
`GET /api/v1/insight/summary` is called `--requests` times one after another with the answer cache off
(`INSIGHT_CACHE_TTL_S=0`), twice: first by an insight without workers, so every call computes every table
(the cost the worker now pays ahead), then by one with workers, which stores the summary at start (timed) and
answers from it (insight.snapshots) — the city-scale read a leader meets.

Both phases run on SQLite, and on PostgreSQL too when `TEST_DATABASE_URL` is set (a database of its own,
dropped afterwards).

    uv run python -m bench.bench_insight                       # quick: 4,000 events, 20,000 talents
    uv run python -m bench.bench_insight --talents 1700000     # the city's size (BENCH_FULL=1 does this)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from contracts import TalentCertified, TalentRegistered, make_event
from servicekit.testing import TansuBroker, TestKeys, free_port

from bench.common import Figure, write_results

SCENARIO = "insight"
ROOT = Path(__file__).resolve().parents[1]
FULL_TALENTS = 1_700_000
REGIONS = ["330402", "330411", "330421", "330424", "330481", "330482", "330483"]
TIERS = ["A", "B", "C", "D", "E"]
TIER_WEIGHTS = [1, 4, 10, 30, 55]
DEGREES = ["bachelor", "master", "doctor"]
ROUTES = ["degree", "title", "skill", "programme"]
POLICIES = ["RENT", "SETTLE", "HOUSE_PURCHASE", "HEALTH_CHECK", "TRANSPORT"]
TALENT_COLUMNS = [
    "pseudonym",
    "region_code",
    "degree",
    "shortage",
    "registered_on",
    "route",
    "status",
    "tier",
    "certified_on",
]
CERTIFICATION_COLUMNS = [
    "certification_id",
    "region_code",
    "route",
    "submitted_at",
    "county_decided_at",
    "city_decided_at",
    "county_escalated",
    "city_escalated",
    "county_hours",
    "city_hours",
    "status",
]
CLAIM_COLUMNS = [
    "claim_id",
    "pseudonym",
    "policy_code",
    "year",
    "submitted_on",
    "submitted_at",
    "status",
    "amount_fen",
    "paid_fen",
    "manual",
    "county_hours",
    "city_hours",
    "county_escalated",
    "city_escalated",
]
CLAIM_STATUSES = ["submitted", "county_approved", "city_approved", "publicized", "disbursed", "rejected"]


# --- the insight process -----------------------------------------------------------------------------------


def serve_jwks(keys: TestKeys) -> tuple[ThreadingHTTPServer, str]:
    """The gateway's JWKS, which is all insight asks of the gateway."""
    body = json.dumps(keys.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"


class Insight:
    """`insight serve` as the stack starts it, on its own database and broker."""

    def __init__(self, database_url: str, bootstrap: str, jwks_url: str, log: Path, *, workers: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "INSIGHT_DATABASE_URL": database_url,
            "INSIGHT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "INSIGHT_JWKS_URL": jwks_url,
            "INSIGHT_CACHE_TTL_S": "0",
            # Without workers nothing recomputes the stored summary: every read computes it (the "before").
            "INSIGHT_WORKERS_IN_PROCESS": "true" if workers else "false",
            "INSIGHT_LOG_LEVEL": "WARNING",
            "TALENT_ENV": "dev",
        }
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "insight.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"insight exited with {self.process.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("insight did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# --- the database: a fresh one per run, read and loaded directly ---------------------------------------------


class Database:
    def __init__(self, postgres_url: str | None) -> None:
        self.postgres_url = postgres_url
        self.kind = "PostgreSQL" if postgres_url else "SQLite"
        if postgres_url:
            self.name = f"bench_insight_{uuid.uuid4().hex[:8]}"
            base = postgres_url.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"
            self.admin = f"{base}/postgres".replace("+asyncpg", "")
            self.dsn = self.url.replace("+asyncpg", "")
            asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))
        else:
            self.directory = tempfile.mkdtemp(prefix="bench-insight-", dir=ROOT / "var")
            self.path = Path(self.directory) / "insight.db"
            self.url = f"sqlite+aiosqlite:///{self.path}"

    async def _admin(self, statement: str) -> None:
        connection = await asyncpg.connect(self.admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def count(self, sql: str) -> int:
        if self.postgres_url:
            return asyncio.run(self._fetchval(sql))
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return int(connection.execute(sql).fetchone()[0])
        finally:
            connection.close()

    def execute(self, sql: str) -> None:
        if self.postgres_url:
            asyncio.run(self._admin_execute(sql))
            return
        connection = sqlite3.connect(self.path)
        try:
            connection.execute(sql)
            connection.commit()
        finally:
            connection.close()

    async def _admin_execute(self, sql: str) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def _fetchval(self, sql: str) -> int:
        connection = await asyncpg.connect(self.dsn)
        try:
            return int(await connection.fetchval(sql))
        finally:
            await connection.close()

    def load(self, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]], chunk: int = 2000) -> None:
        if self.postgres_url:
            asyncio.run(self._copy(table, columns, rows, chunk))
            return
        connection = sqlite3.connect(self.path)
        try:
            per_statement = max(1, 30_000 // len(columns))  # SQLite's bound-parameter limit
            row_sql = "(" + ",".join("?" * len(columns)) + ")"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == per_statement:
                    self._insert(connection, table, columns, row_sql, batch)
                    batch = []
            if batch:
                self._insert(connection, table, columns, row_sql, batch)
            connection.commit()
        finally:
            connection.close()

    @staticmethod
    def _insert(
        connection: sqlite3.Connection, table: str, columns: list[str], row_sql: str, batch: list[tuple[Any, ...]]
    ) -> None:
        values = ",".join([row_sql] * len(batch))
        flat = [_sqlite_value(v) for row in batch for v in row]
        # Table and column names are this file's constants, never input.
        connection.execute(f"INSERT INTO {table} ({','.join(columns)}) VALUES {values}", flat)  # noqa: S608

    async def _copy(self, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]], chunk: int) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == chunk * 10:
                    await connection.copy_records_to_table(table, records=batch, columns=columns)
                    batch = []
            if batch:
                await connection.copy_records_to_table(table, records=batch, columns=columns)
            await connection.execute(f"ANALYZE {table}")
        finally:
            await connection.close()

    def drop(self) -> None:
        if self.postgres_url:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        else:
            for file in Path(self.directory).iterdir():
                file.unlink()
            Path(self.directory).rmdir()


def _sqlite_value(value: Any) -> Any:
    # Stored as SQLAlchemy stores them on SQLite: ISO text for dates and times.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- phase 1: events/s ------------------------------------------------------------------------------------------


async def produce(bootstrap: str, talents: int) -> None:
    """Registered then certified for each talent, produced at once (keyed by talent, as the services do)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    headers = [("content-type", b"application/cloudevents+json")]
    try:
        futures = []
        for _ in range(talents):
            talent_id = str(uuid.uuid4())
            region = random.choice(REGIONS)
            for data in (
                TalentRegistered(
                    talent_id=talent_id,
                    pseudonym=f"tp_{uuid.uuid4().hex[:16]}",
                    region_code=region,
                    locale="zh-CN",
                    registered_at=datetime.now(UTC),
                    degree=random.choice(DEGREES),
                    birth_date=date(1990, 1, 1),
                ),
                TalentCertified(
                    talent_id=talent_id,
                    pseudonym=f"tp_{uuid.uuid4().hex[:16]}",
                    tier=random.choices(TIERS, TIER_WEIGHTS)[0],
                    points=60,
                    certified_until=date(2030, 1, 1),
                    region_code=region,
                ),
            ):
                event = make_event(data, source=data.topic.split(".")[1], subject=talent_id)
                futures.append(
                    await producer.send(data.topic, event.to_json(), key=talent_id.encode(), headers=headers)
                )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def wait_certified(database: Database, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while database.count("SELECT count(*) FROM insight_talent WHERE status = 'certified'") < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"insight did not apply {expected} certifications in {timeout:.0f} s")
        time.sleep(0.05)


def consumer_rate(database: Database, bootstrap: str, events: int) -> float:
    # Warm-up: the consumer group has joined and the topics exist before the clock starts.
    asyncio.run(produce(bootstrap, 1))
    wait_certified(database, 1, timeout=120)
    talents = events // 2
    started = time.perf_counter()
    asyncio.run(produce(bootstrap, talents))
    wait_certified(database, 1 + talents, timeout=1800)
    return 2 * talents / (time.perf_counter() - started)


# --- phase 2: the summary at city size ---------------------------------------------------------------------------


def city_rows(talents: int, seed: int = 18) -> dict[str, tuple[list[str], Iterator[tuple[Any, ...]]]]:
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    start = datetime.now(UTC) - timedelta(days=3 * 365)

    def talent_rows() -> Iterator[tuple[Any, ...]]:
        r = random.Random(seed)
        for i in range(talents):
            day = today - timedelta(days=r.randrange(3 * 365))
            status = "certified" if r.random() < 0.9 else r.choice(["registered", "expired", "revoked"])
            tier = r.choices(TIERS, TIER_WEIGHTS)[0] if status != "registered" else None
            yield (
                f"tp{i:012d}",
                r.choice(REGIONS),
                r.choice(DEGREES),
                r.random() < 0.3,
                day,
                r.choice(ROUTES),
                status,
                tier,
                day if tier else None,
            )

    def certification_rows() -> Iterator[tuple[Any, ...]]:
        r = random.Random(seed + 1)
        for i in range(talents):
            submitted = start + timedelta(hours=r.randrange(3 * 365 * 24))
            county, city = r.randrange(4, 200), r.randrange(4, 200)
            yield (
                f"c{i:035d}",
                r.choice(REGIONS),
                r.choice(ROUTES),
                submitted,
                submitted + timedelta(hours=county),
                submitted + timedelta(hours=county + city),
                county > 120,
                city > 120,
                county,
                city,
                "certified",
            )

    def claim_rows() -> Iterator[tuple[Any, ...]]:
        r = random.Random(seed + 2)
        for i in range(int(talents * 0.6)):
            submitted = start + timedelta(hours=r.randrange(3 * 365 * 24))
            status = r.choice(CLAIM_STATUSES)
            amount = r.choice([50_000, 120_000, 500_000, 2_000_000])
            manual = r.random() < 0.4
            county = r.randrange(4, 150) if manual else None
            city = r.randrange(4, 150) if manual else None
            yield (
                f"k{i:035d}",
                f"tp{r.randrange(talents):012d}",
                r.choice(POLICIES),
                submitted.year,
                submitted.date(),
                submitted,
                status,
                amount,
                amount if status == "disbursed" else None,
                manual,
                county,
                city,
                county is not None and county > 120,
                city is not None and city > 120,
            )

    def budget_rows() -> Iterator[tuple[Any, ...]]:
        for code in POLICIES:
            yield (code, rng.randrange(10, 500) * 1_000_000_00)

    return {
        "insight_talent": (
            TALENT_COLUMNS,
            talent_rows(),
        ),
        "insight_certification": (
            CERTIFICATION_COLUMNS,
            certification_rows(),
        ),
        "insight_claim": (
            CLAIM_COLUMNS,
            claim_rows(),
        ),
        "insight_policy_budget": (["policy_code", "yearly_budget_fen"], budget_rows()),
    }


def summary_latencies(insight: Insight, keys: TestKeys, requests: int, *, stored: bool) -> list[float]:
    """`requests` summary reads; `stored`: each must be the worker's stored summary (Last-Modified), else none."""
    headers = keys.headers("leader.bench", ["leader"], lifetime=timedelta(hours=3))
    latencies: list[float] = []
    with httpx.Client(base_url=insight.url, timeout=600) as client:
        response = client.get("/api/v1/insight/summary", headers=headers)  # warm-up (connection, plans)
        response.raise_for_status()
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get("/api/v1/insight/summary", headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            if ("last-modified" in response.headers) != stored:
                raise RuntimeError(f"expected a {'stored' if stored else 'computed'} summary")
    return latencies


def wait_stored(database: Database, started: float, timeout: float = 3600) -> float:
    """Seconds from `started` (the process's spawn) until the worker stored the summary of the loaded city."""
    while database.count("SELECT COUNT(*) FROM insight_snapshot") == 0:
        if time.perf_counter() - started > timeout:
            raise TimeoutError("insight did not store the summary")
        time.sleep(0.2)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(postgres_url: str | None, *, events: int, talents: int, requests: int) -> list[Figure]:
    keys = TestKeys()
    jwks, jwks_url = serve_jwks(keys)
    broker = TansuBroker().start()
    database = Database(postgres_url)
    log = ROOT / "var" / "bench" / f"insight-{database.kind.lower()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    insight = Insight(database.url, broker.bootstrap_servers, jwks_url, log)
    try:
        insight.wait_ready()
        rate = consumer_rate(database, broker.bootstrap_servers, events)
        print(f"{database.kind}: the consumer applied {rate:,.0f} events/s", flush=True)
        insight.stop()
        loaded = time.perf_counter()
        for table, (columns, rows) in city_rows(talents).items():
            database.load(table, columns, rows)
        database.execute("DELETE FROM insight_snapshot")  # phase 1's; the city loaded behind insight's back
        print(f"{database.kind}: loaded {talents:,} talents in {time.perf_counter() - loaded:.1f} s", flush=True)
        # Before: no worker, so every read computes the summary from the rows (what the worker now does ahead).
        insight = Insight(database.url, broker.bootstrap_servers, jwks_url, log, workers=False)
        insight.wait_ready()
        computed = summary_latencies(insight, keys, requests, stored=False)
        insight.stop()
        # After: the worker stores the summary at start (and after applied batches); reads answer from it.
        spawned = time.perf_counter()
        insight = Insight(database.url, broker.bootstrap_servers, jwks_url, log)
        insight.wait_ready()
        first_store = wait_stored(database, spawned)
        stored = summary_latencies(insight, keys, requests, stored=True)
    finally:
        insight.stop()
        broker.stop()
        jwks.shutdown()
        database.drop()
    size = f"{talents:,} talents"
    figures = [
        Figure(SCENARIO, f"insight consumer applies talent events from the broker ({database.kind})", "events/s", rate),
        Figure(
            SCENARIO,
            f"worker has stored the summary at {size} ({database.kind}, from the process's spawn, start-up included)",
            "ms",
            first_store * 1000,
            None,
            False,
        ),
    ]
    for latencies, how in ((computed, "computed each time"), (stored, "the worker's stored summary")):
        where = f"{database.kind}, direct, {how}"
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            figures.append(
                Figure(
                    SCENARIO,
                    f"GET /api/v1/insight/summary {name} at {size} ({where})",
                    "ms",
                    percentile(latencies, q),
                    None,
                    False,
                )
            )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    full = os.environ.get("BENCH_FULL", "") not in ("", "0", "false")
    parser.add_argument("--events", type=int, default=20_000 if full else 4_000)
    parser.add_argument("--talents", type=int, default=FULL_TALENTS if full else 20_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even with TEST_DATABASE_URL")
    args = parser.parse_args(argv)
    (ROOT / "var").mkdir(exist_ok=True)
    figures = run(None, events=args.events, talents=args.talents, requests=args.requests)
    postgres = os.environ.get("TEST_DATABASE_URL", "")
    if postgres.startswith("postgresql") and not args.sqlite_only:
        figures += run(postgres, events=args.events, talents=args.talents, requests=args.requests)
    write_results(SCENARIO, figures)


if __name__ == "__main__":
    main()
