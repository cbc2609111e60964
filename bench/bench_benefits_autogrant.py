"""免申即享 at scale: N `talent.certified` events → N automatic claims; then one-tap claims through the gateway.

    uv run python -m bench.bench_benefits_autogrant --events 100000     # the issue's scenario
    uv run python -m bench.bench_benefits_autogrant --events 2000       # a quick run

Starts the whole platform (tests.stack) on a fresh Tansu broker. Figures:
- auto-grant events/s: N certified events published at once (after N registrations were applied, since a
  claim needs the profile facts), divided by the time until the N-th automatic claim exists;
- p50/p99 event → claim: the event's CloudEvent time to the claim's submitted_at (includes the backlog);
- claims/s through the gateway: certified talents submitting one-tap claims, closed loop.
The benefits database is read directly (read-only) to observe progress.
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
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from contracts import CloudEvent, EventData, TalentCertified, TalentRegistered, make_event
from servicekit.testing import TansuBroker

from bench.common import Figure, write_results
from bench.sqlcount import ProcessCpu
from tests.stack import running_stack

SCENARIO = "benefits_autogrant"
TARGET_EVENTS_PER_S = 1500.0
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


def _query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        return list(connection.execute(sql, args).fetchall())


async def _wait_for(db: Path, sql: str, expected: int, timeout_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        [(count,)] = await asyncio.to_thread(_query, db, sql)
        if count >= expected:
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    raise TimeoutError(f"only {count} of {expected} after {timeout_s}s: {sql}")


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def _sub_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


async def _gateway_claims(
    gateway_url: str, bootstrap: str, db: Path, talents: int, concurrency: int, already_certified: int
) -> Figure:
    """Sign talents in, certify them (tier C) by event, then submit every claimable policy through the gateway."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:

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
        await _wait_for(db, certified, already_certified + len(ids), timeout_s=120)

        work = [(token, code) for _, token in accounts for code in CLAIMABLE_AT_TIER_C]
        latencies: list[float] = []
        errors = 0

        async def worker() -> None:
            nonlocal errors
            while work:
                token, code = work.pop()
                t0 = time.perf_counter()
                response = await client.post(
                    "/api/v1/me/claims", json={"policy_code": code}, headers={"Authorization": f"Bearer {token}"}
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += response.status_code != 201

        total = len(work)
        t_start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - t_start
    print(f"gateway claims: {total} in {seconds:.1f}s, {errors} errors, p99 {_percentile(latencies, 0.99):.0f} ms")
    return Figure(SCENARIO, "one-tap claims through the gateway", "claims/s", (total - errors) / seconds)


async def main(events: int, talents: int, concurrency: int) -> None:
    # The load generator signs many talents in from one address: the bench stack runs without rate limits.
    os.environ["GATEWAY_RATE_LIMIT_ENABLED"] = "false"
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            url = stack.env["benefits"]["BENEFITS_DATABASE_URL"]
            if not url.startswith("sqlite"):
                raise SystemExit("this bench observes the benefits database as a SQLite file; unset TEST_DATABASE_URL")
            db = Path(url.split("///", 1)[1])
            ids = [str(uuid.uuid4()) for _ in range(events)]
            processed = "SELECT count(*) FROM processed_event WHERE consumer_group='benefits.talents'"

            t0 = time.perf_counter()
            await _publish(broker.bootstrap_servers, [_registered(t) for t in ids])
            registered_s = await _wait_for(db, processed, events, timeout_s=events / 20 + 60)
            print(f"{events} registrations applied in {registered_s:.1f}s")

            load_before = os.getloadavg()[0]
            cpu = ProcessCpu({name: process.pid for name, process in stack.processes.items()})
            with cpu:
                t0 = time.perf_counter()
                certified_at = await _publish(broker.bootstrap_servers, [_certified(t) for t in ids])
                auto_claims = "SELECT count(*) FROM benefit_claim WHERE auto"
                await _wait_for(db, auto_claims, events, timeout_s=events / 20 + 60)
                seconds = time.perf_counter() - t0
            print(
                f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; CPU ms per event: "
                + ", ".join(f"{name} {used * 1000 / events:.2f}" for name, used in sorted(cpu.used.items()) if used)
            )
            rows = await asyncio.to_thread(_query, db, "SELECT talent_id, submitted_at FROM benefit_claim WHERE auto")
            latencies = [
                (datetime.fromisoformat(at).replace(tzinfo=UTC) - certified_at[tid]).total_seconds() * 1000
                for tid, at in rows
                if tid in certified_at
            ]
            print(f"{events} automatic claims in {seconds:.1f}s")

            figures = [
                Figure(
                    SCENARIO,
                    "talent.certified → auto claim, end to end",
                    "events/s",
                    events / seconds,
                    target=TARGET_EVENTS_PER_S,
                ),
                Figure(SCENARIO, "event → claim p50", "ms", _percentile(latencies, 0.5), higher_is_better=False),
                Figure(SCENARIO, "event → claim p99", "ms", _percentile(latencies, 0.99), higher_is_better=False),
                Figure(SCENARIO, "talent.registered applied (read model)", "events/s", events / registered_s),
                Figure(
                    SCENARIO,
                    "benefits process CPU per auto-granted event",
                    "ms",
                    cpu.used.get("benefits", 0.0) * 1000 / events,
                    higher_is_better=False,
                ),
                Figure(SCENARIO, "load average when the auto-grant phase began", "load", load_before),
                await _gateway_claims(stack.gateway_url, broker.bootstrap_servers, db, talents, concurrency, events),
            ]
            write_results(SCENARIO, figures)
    finally:
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="talent.certified events to publish")
    parser.add_argument("--talents", type=int, default=100, help="signed-in talents for the gateway part")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.talents, args.concurrency))
