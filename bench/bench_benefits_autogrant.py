"""免申即享 at scale: N `talent.certified` events → N automatic claims; then one-tap claims through the gateway.

    uv run python -m bench.bench_benefits_autogrant --events 100000     # the issue's scenario
    uv run python -m bench.bench_benefits_autogrant --events 2000       # a quick run

Starts the whole platform (tests.stack) on a fresh Tansu broker. Figures:
- auto-grant events/s: N certified events published at once (after N registrations were applied, since a
  claim needs the profile facts), divided by the time until the N-th automatic claim exists;
- p50/p99 event → claim: the event's CloudEvent time to the claim's submitted_at (includes the backlog);
- claims/s through the gateway: certified talents submitting one-tap claims, closed loop, with the CPU each
  process spends per claim (gateway, benefits, and the consumers of the claims' events), net of what the
  process spent per second in the 5 s before with no claim in flight.
Baselines are measured in the same run: the raw aiokafka ceiling (bench.baselines.event_ceiling, on a fresh Tansu
just before the certified phase) for events/s, and a bare FastAPI endpoint at the same concurrency
(bench.common.bare_endpoint_baseline) for claims/s.
The benefits database (a SQLite file or PostgreSQL: TEST_DATABASE_URL) is read directly (read-only) to observe
progress.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sqlite3
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from contracts import CloudEvent, EventData, TalentCertified, TalentRegistered, make_event
from servicekit.testing import TansuBroker

from bench.baselines import event_ceiling
from bench.common import Figure, bare_endpoint_baseline, write_results
from bench.sqlcount import ProcessCpu
from tests.stack import running_stack

SCENARIO = "benefits_autogrant"
TARGET_EVENTS_PER_S = 1500.0
BACKGROUND_WINDOW_S = 5.0  # before the one-tap claims: each process's CPU with no claim in flight
CLAIMABLE_AT_TIER_C = ("HEALTH_CHECK", "RENT_SUBSIDY", "HOUSING_VOUCHER", "TAX_REBATE", "GREEN_CARD")


def _registered(talent_id: str) -> TalentRegistered:
    return TalentRegistered(
        talent_id=talent_id,
        pseudonym=f"tp_{talent_id[:12]}",
        region_code="330402",
        locale="zh-CN",
        registered_at=datetime.now(UTC),
        degree="master",
        graduated_on=date.today() - timedelta(days=200),
        birth_date=date(1999, 1, 1),
        employer_region_code="330402",
        social_insurance_months=6,
        works_in_city=True,
    )


def _certified(talent_id: str, tier: str = "E") -> TalentCertified:
    return TalentCertified(
        talent_id=talent_id,
        pseudonym=f"tp_{talent_id[:12]}",
        tier=tier,  # type: ignore[arg-type]
        points=40,
        certified_until=date.today() + timedelta(days=1000),
        region_code="330402",
    )


async def _publish(bootstrap: str, items: list[EventData], source: str = "applicant") -> dict[str, datetime]:
    """Publish events keyed by talent id; returns each talent's event time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    times: dict[str, datetime] = {}
    try:
        futures = []
        for data in items:
            talent_id = str(getattr(data, "talent_id"))  # noqa: B009
            event: CloudEvent = make_event(data, source=source, subject=talent_id)
            times[talent_id] = event.time
            futures.append(await producer.send(data.topic, event.to_json(), key=talent_id.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return times


class BenefitsDb:
    """Read-only counts on benefits' database, SQLite file or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg: asyncpg.Connection | None = None

    async def __aenter__(self) -> BenefitsDb:
        if not self.url.startswith("sqlite"):
            self.pg = await asyncpg.connect(self.url.replace("+asyncpg", ""))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pg is not None:
            await self.pg.close()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.pg is not None:
            return [tuple(r) for r in await self.pg.fetch(sql)]
        path = self.url.split("///", 1)[1]

        def read() -> list[tuple[Any, ...]]:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
                return list(connection.execute(sql).fetchall())

        return await asyncio.to_thread(read)

    async def count(self, sql: str) -> int:
        [(value,)] = await self.rows(sql)
        return int(value)

    async def wait_for(self, sql: str, expected: int, timeout_s: float) -> float:
        started = time.perf_counter()
        count = 0
        while time.perf_counter() - started < timeout_s:
            count = await self.count(sql)
            if count >= expected:
                return time.perf_counter() - started
            await asyncio.sleep(0.2)
        raise TimeoutError(f"only {count} of {expected} after {timeout_s}s: {sql}")


def _submitted_at(value: Any) -> datetime:
    """A claim's submitted_at as read back: a datetime (PostgreSQL) or ISO text (SQLite), naive UTC either way."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def _sub_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


async def _gateway_claims(
    stack: Any, bootstrap: str, db: BenefitsDb, talents: int, concurrency: int, already_certified: int
) -> list[Figure]:
    """Sign talents in, certify them (tier C) by event, then submit every claimable policy through the gateway."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:

        async def sign_in(i: int) -> tuple[str, str]:
            phone = f"+86137{uuid.uuid4().int % 10**8:08d}"
            code = (await client.post("/api/v1/auth/otp", json={"phone": phone})).json()["dev_code"]
            token = (
                await client.post("/api/v1/auth/token", data={"grant_type": "otp", "phone": phone, "code": code})
            ).json()["access_token"]
            return _sub_of(token), token

        accounts = await asyncio.gather(*(sign_in(i) for i in range(talents)))
        ids = [sub for sub, _ in accounts]
        await _publish(bootstrap, [_registered(t) for t in ids])
        await _publish(bootstrap, [_certified(t, "C") for t in ids])
        certified = "SELECT count(*) FROM benefit_talent WHERE status='certified'"
        await db.wait_for(certified, already_certified + len(ids), timeout_s=120)
        # Benefits' events of the auto-grant phase are all published before the claims are timed.
        await db.wait_for("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL", 1, timeout_s=300)

        work = [(token, code) for _, token in accounts for code in CLAIMABLE_AT_TIER_C]
        latencies: list[float] = []
        errors = 0

        async def worker() -> None:
            nonlocal errors
            while work:
                token, code = work.pop()
                t0 = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/v1/me/claims", json={"policy_code": code}, headers={"Authorization": f"Bearer {token}"}
                    )
                except httpx.TimeoutException:  # counted as an error, not the end of the run
                    errors += 1
                    continue
                finally:
                    latencies.append((time.perf_counter() - t0) * 1000)
                errors += response.status_code != 201

        total = len(work)
        pids = {name: process.pid for name, process in stack.processes.items()}
        # What each process spends with no claim in flight (relays, timers, consumers still catching up), per
        # second: subtracted, so the CPU per claim is the claims' own even at a few claims per second.
        background = ProcessCpu(pids)
        with background:
            await asyncio.sleep(BACKGROUND_WINDOW_S)
        cpu = ProcessCpu(pids)
        with cpu:
            t_start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - t_start
    print(f"gateway claims: {total} in {seconds:.1f}s, {errors} errors, p99 {_percentile(latencies, 0.99):.0f} ms")
    net = {n: max(u - background.used.get(n, 0.0) * seconds / BACKGROUND_WINDOW_S, 0.0) for n, u in cpu.used.items()}
    print("CPU µs per claim: " + ", ".join(f"{n} {u * 1e6 / total:.0f}" for n, u in sorted(cpu.used.items()) if u))
    print(
        "  net of each process's background: " + ", ".join(f"{n} {u * 1e6 / total:.0f}" for n, u in sorted(net.items()))
    )
    bare = await bare_endpoint_baseline(concurrency=concurrency, duration_s=5.0)
    print(f"bare FastAPI endpoint: {bare.rps:.0f} req/s")
    return [
        Figure(SCENARIO, "one-tap claims through the gateway", "claims/s", (total - errors) / seconds,
               baseline=bare.rps),
        Figure(SCENARIO, "one-tap claim p99 through the gateway", "ms", _percentile(latencies, 0.99),
               higher_is_better=False),
        Figure(SCENARIO, "gateway process CPU per one-tap claim (net of background)", "µs",
               net.get("gateway", 0.0) * 1e6 / total, higher_is_better=False),
        Figure(SCENARIO, "benefits process CPU per one-tap claim (net of background)", "µs",
               net.get("benefits", 0.0) * 1e6 / total, higher_is_better=False),
    ]  # fmt: skip


async def main(events: int, talents: int, concurrency: int) -> None:
    # The load generator signs many talents in from one address: the bench stack runs without rate limits.
    os.environ["GATEWAY_RATE_LIMIT_ENABLED"] = "false"
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            async with BenefitsDb(stack.env["benefits"]["BENEFITS_DATABASE_URL"]) as db:
                figures = await _run(stack, broker, db, events, talents, concurrency)
            write_results(SCENARIO, figures)
    finally:
        broker.stop()


async def _run(
    stack: Any, broker: TansuBroker, db: BenefitsDb, events: int, talents: int, concurrency: int
) -> list[Figure]:
    ids = [str(uuid.uuid4()) for _ in range(events)]
    processed = "SELECT count(*) FROM processed_event WHERE consumer_group='benefits.talents'"

    await _publish(broker.bootstrap_servers, [_registered(t) for t in ids])
    registered_s = await db.wait_for(processed, events, timeout_s=events / 20 + 60)
    print(f"{events} registrations applied in {registered_s:.1f}s")

    ceiling_rps, _, _ = await event_ceiling(burst=5000, round_trips=20)
    print(f"raw aiokafka ceiling: {ceiling_rps:.0f} events/s")
    load_before = os.getloadavg()[0]
    cpu = ProcessCpu({name: process.pid for name, process in stack.processes.items()})
    with cpu:
        t0 = time.perf_counter()
        certified_at = await _publish(broker.bootstrap_servers, [_certified(t) for t in ids])
        auto_claims = "SELECT count(*) FROM benefit_claim WHERE auto"
        await db.wait_for(auto_claims, events, timeout_s=events / 20 + 60)
        seconds = time.perf_counter() - t0
    print(
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; CPU ms per event: "
        + ", ".join(f"{name} {used * 1000 / events:.2f}" for name, used in sorted(cpu.used.items()) if used)
    )
    rows = await db.rows("SELECT talent_id, submitted_at FROM benefit_claim WHERE auto")
    latencies = [
        (_submitted_at(at) - certified_at[str(tid)]).total_seconds() * 1000
        for tid, at in rows
        if str(tid) in certified_at
    ]
    share = events / seconds / ceiling_rps
    print(f"{events} automatic claims in {seconds:.1f}s ({share:.1%} of the raw aiokafka ceiling)")
    figures = [
        Figure(SCENARIO, "talent.certified → auto claim, end to end", "events/s", events / seconds,
               target=TARGET_EVENTS_PER_S, baseline=ceiling_rps),
        Figure(SCENARIO, "event → claim p50", "ms", _percentile(latencies, 0.5), higher_is_better=False),
        Figure(SCENARIO, "event → claim p99", "ms", _percentile(latencies, 0.99), higher_is_better=False),
        Figure(SCENARIO, "talent.registered applied (read model)", "events/s", events / registered_s),
        Figure(SCENARIO, "benefits process CPU per auto-granted event", "ms",
               cpu.used.get("benefits", 0.0) * 1000 / events, higher_is_better=False),
        Figure(SCENARIO, "whole stack CPU per auto-granted event", "ms",
               sum(cpu.used.values()) * 1000 / events, higher_is_better=False),
        Figure(SCENARIO, "load average when the auto-grant phase began", "load", load_before),
    ]  # fmt: skip
    figures += await _gateway_claims(stack, broker.bootstrap_servers, db, talents, concurrency, events)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="talent.certified events to publish")
    parser.add_argument("--talents", type=int, default=100, help="signed-in talents for the gateway part")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.talents, args.concurrency))
