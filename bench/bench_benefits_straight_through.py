"""Straight-through 免申即享 to the bank and back, at city scale, and a batch decision through the gateway.

    uv run python -m bench.bench_benefits_straight_through --talents 100000   # the issue's scenario
    uv run python -m bench.bench_benefits_straight_through                    # quick: 5,000

Starts the whole platform (tests.stack) on a fresh Tansu broker, SQLite files or PostgreSQL databases
(TEST_DATABASE_URL). N talents whose facts are attested (employer and social insurance employer-attested,
education officer-confirmed, as employer.demo's confirmation and a certification leave them) are registered and
then certified by event; benefits grants the living allowance straight through (or draws it for sampled review,
5% by the seeded policy). Once their 公示 has ended, finance builds one payment batch through the gateway,
downloads its bank file and uploads the bank's result file (1% of lines failed), then the same file again.
Figures:
- certified → straight-through claim, end to end (events/s): N events published at once until the N-th
  automatic claim exists (run_all gives it the raw aiokafka produce → consume ceiling as its baseline);
- manual decisions per clean claim: claims of clean talents left for a reviewer other than the sampled ones
  (0 when straight-through works; the sampled share is its own row);
- payment batch: building it (gathering N claims), exporting the bank file, importing the result file and the
  same file again, in seconds for N lines, through the gateway;
- peak resident memory of the benefits process and of this load generator (MB);
- a batch decision of 500 claims (talents without attested facts, so a reviewer decides) through the gateway:
  seconds, and per claim against 50 single decisions through the gateway (ms per claim) as its baseline.
Baselines are measured in the same run: the raw aiokafka ceiling (bench.baselines.event_ceiling, on a fresh
Tansu just before the certified phase) for events/s, and the single decisions for the batch's per-claim cost.
The benefits database is read directly (read-only queries) to observe progress.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import resource
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from contracts import FactSource, TalentCertified, TalentRegistered
from servicekit.testing import TansuBroker

from bench.baselines import event_ceiling
from bench.bench_benefits_autogrant import BenefitsDb, _publish
from bench.common import Figure, write_results
from bench.sqlcount import ProcessCpu
from tests.stack import running_stack

SCENARIO = "benefits_straight_through"
POLICY = "LIVING_ALLOWANCE"
REGION = "330402"
BATCH_DECISION_SIZE = 500  # the contract's most claims per batch decision
SINGLE_DECISIONS = 50  # decided one request each: the batch's per-claim baseline
FAILED_SHARE = 0.01
ATTESTED = {
    "employer": FactSource.EMPLOYER_ATTESTED,
    "social_insurance_months": FactSource.EMPLOYER_ATTESTED,
    "education": FactSource.OFFICER_CONFIRMED,
}


def _registered(talent_id: str, *, attested: bool) -> TalentRegistered:
    return TalentRegistered(
        talent_id=talent_id,
        pseudonym=f"tp_{talent_id[:12]}",
        region_code=REGION,
        locale="zh-CN",
        registered_at=datetime.now(UTC),
        degree="master",
        graduated_on=date.today() - timedelta(days=200),
        birth_date=date(1999, 1, 1),
        employer_region_code=REGION,
        social_insurance_months=6,
        works_in_city=True,
        provenance=ATTESTED if attested else {},
    )


def _certified(talent_id: str) -> TalentCertified:
    return TalentCertified(
        talent_id=talent_id,
        pseudonym=f"tp_{talent_id[:12]}",
        tier="E",
        points=40,
        certified_until=date.today() + timedelta(days=1000),
        region_code=REGION,
    )


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM) in MB, from /proc (0.0 where there is none)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def _token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": "dev-password"}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _in(ids: list[str]) -> str:
    return ",".join(f"'{i}'" for i in ids)  # uuids made by this process, never outside input


async def _payment_round_trip(client: httpx.AsyncClient, lines_expected: int) -> list[Figure]:
    finance = await _token(client, "finance.city")
    t0 = time.perf_counter()
    created = await client.post(
        "/api/v1/finance/payment-batches", json={"policy_code": POLICY}, headers=finance, timeout=600
    )
    create_s = time.perf_counter() - t0
    created.raise_for_status()
    batch = created.json()
    print(f"payment batch of {batch['lines']} lines ({lines_expected} expected) built in {create_s:.1f}s")

    t0 = time.perf_counter()
    exported = await client.get(f"/api/v1/finance/payment-batches/{batch['id']}/file", headers=finance, timeout=600)
    export_s = time.perf_counter() - t0
    exported.raise_for_status()
    rows = [r for r in csv.reader(io.StringIO(exported.content.decode("utf-8"))) if r and not r[0].startswith("#")]
    header, *lines = rows
    ref = header.index("line_ref")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line_ref", "status", "bank_reference"])
    every = max(int(1 / FAILED_SHARE), 1)
    for number, line in enumerate(lines):
        writer.writerow([line[ref], "failed" if number % every == 0 else "paid", f"B{uuid.uuid4().hex[:20]}"])
    result = out.getvalue().encode("utf-8")

    imports: list[float] = []
    answers: list[dict[str, Any]] = []
    for _ in range(2):  # the second time changes nothing
        t0 = time.perf_counter()
        answer = await client.post(
            f"/api/v1/finance/payment-batches/{batch['id']}/results",
            content=result,
            headers={**finance, "Content-Type": "text/csv"},
            timeout=1800,
        )
        imports.append(time.perf_counter() - t0)
        answer.raise_for_status()
        answers.append(answer.json())
    first, again = answers
    print(f"export {export_s:.1f}s ({len(exported.content) / 1e6:.1f} MB); import {imports[0]:.1f}s {first['paid']} "
          f"paid {first['failed']} failed; again {imports[1]:.1f}s, {again['ignored']} ignored")  # fmt: skip
    if again["paid"] or again["failed"]:
        raise SystemExit(f"the same result file applied twice: {again}")
    n = len(lines)
    return [
        Figure(SCENARIO, f"payment batch built ({n} lines)", "s", create_s, higher_is_better=False),
        Figure(SCENARIO, f"bank file exported ({n} lines)", "s", export_s, higher_is_better=False),
        Figure(SCENARIO, f"result file imported ({n} lines)", "s", imports[0], higher_is_better=False),
        Figure(SCENARIO, f"same result file again, no-op ({n} lines)", "s", imports[1], higher_is_better=False),
    ]


async def _batch_decision(client: httpx.AsyncClient, db: BenefitsDb, talent_ids: list[str]) -> list[Figure]:
    reviewer = await _token(client, "reviewer.nanhu")
    rows = await db.rows(
        f"SELECT id FROM benefit_claim WHERE status = 'accepted' AND talent_id IN ({_in(talent_ids)})"  # noqa: S608
    )
    claim_ids = [str(r[0]) for r in rows][:BATCH_DECISION_SIZE]
    singles = [str(r[0]) for r in rows][BATCH_DECISION_SIZE:]
    t0 = time.perf_counter()
    for claim_id in singles:
        one = await client.post(
            f"/api/v1/reviews/claims/{claim_id}/decisions",
            json={"decision": "approve", "reason": "facts checked"},
            headers=reviewer,
        )
        one.raise_for_status()
    single_ms = (time.perf_counter() - t0) * 1000 / max(len(singles), 1)
    t0 = time.perf_counter()
    response = await client.post(
        "/api/v1/reviews/claims/batch-decisions",
        json={"claim_ids": claim_ids, "decision": "approve", "reason": "facts checked in bulk"},
        headers=reviewer,
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    if response.status_code == 504:
        # The gateway gave up waiting (upstream_timeout_s); the figure says so rather than the run failing.
        print(f"batch decision: the gateway timed out after {seconds:.1f}s")
        return [Figure(SCENARIO, f"batch decision of {len(claim_ids)} claims: gateway timeout after", "s", seconds,
                       higher_is_better=False)]  # fmt: skip
    response.raise_for_status()
    decided = sum(item["outcome"] == "decided" for item in response.json()["items"])
    print(f"batch decision: {decided} of {len(claim_ids)} decided in {seconds:.2f}s; single {single_ms:.1f} ms each")
    return [
        Figure(SCENARIO, f"batch decision of {len(claim_ids)} claims through the gateway", "s", seconds,
               higher_is_better=False),
        Figure(SCENARIO, "batch decision, per claim (baseline: one decision per request)", "ms",
               seconds * 1000 / max(len(claim_ids), 1), higher_is_better=False, baseline=single_ms),
    ]  # fmt: skip


async def main(talents: int) -> None:
    os.environ["GATEWAY_RATE_LIMIT_ENABLED"] = "false"
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            async with BenefitsDb(stack.env["benefits"]["BENEFITS_DATABASE_URL"]) as db:
                figures = await _run(stack, broker, db, talents)
            figures.append(Figure(SCENARIO, "benefits process peak memory", "MB",
                                  peak_rss_mb(stack.processes["benefits"].pid), higher_is_better=False))  # fmt: skip
            figures.append(Figure(SCENARIO, "load generator peak memory", "MB",
                                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                  higher_is_better=False))  # fmt: skip
            write_results(SCENARIO, figures)
    finally:
        broker.stop()


async def _run(stack: Any, broker: TansuBroker, db: BenefitsDb, talents: int) -> list[Figure]:
    bootstrap = broker.bootstrap_servers
    clean = [str(uuid.uuid4()) for _ in range(talents)]
    unconfirmed = [str(uuid.uuid4()) for _ in range(BATCH_DECISION_SIZE + SINGLE_DECISIONS)]
    processed = "SELECT count(*) FROM processed_event WHERE consumer_group = 'benefits.talents'"
    await _publish(bootstrap, [_registered(t, attested=True) for t in clean])
    await _publish(bootstrap, [_registered(t, attested=False) for t in unconfirmed])
    registered_s = await db.wait_for(processed, len(clean) + len(unconfirmed), timeout_s=talents / 20 + 120)
    print(f"{len(clean) + len(unconfirmed)} registrations applied in {registered_s:.1f}s")

    ceiling_rps, _, _ = await event_ceiling(burst=5000, round_trips=20)
    print(f"raw aiokafka ceiling: {ceiling_rps:.0f} events/s")
    load_before = os.getloadavg()[0]
    cpu = ProcessCpu({name: process.pid for name, process in stack.processes.items()})
    auto = f"SELECT count(*) FROM benefit_claim WHERE auto AND policy_code = '{POLICY}'"  # noqa: S608
    with cpu:
        t0 = time.perf_counter()
        await _publish(bootstrap, [_certified(t) for t in clean])
        await db.wait_for(auto, talents, timeout_s=talents / 2 + 300)
        seconds = time.perf_counter() - t0
    print(f"{talents} straight-through claims in {seconds:.1f}s (load {load_before:.2f} before)")

    straight = await db.count(f"{auto} AND straight_through")
    sampled = await db.count(f"{auto} AND sampled")
    left = await db.count(f"{auto} AND NOT straight_through AND NOT sampled")
    print(f"straight through {straight}, sampled {sampled}, left for a reviewer otherwise {left}")
    figures = [
        Figure(SCENARIO, "certified → straight-through claim, end to end", "events/s", talents / seconds,
               baseline=ceiling_rps),
        Figure(SCENARIO, "manual decisions per clean claim (sampled aside)", "count", left / talents, target=0.0,
               higher_is_better=False),
        Figure(SCENARIO, "clean claims drawn for sampled review", "share", sampled / talents),
        Figure(SCENARIO, "benefits process CPU per certified event", "ms",
               cpu.used.get("benefits", 0.0) * 1000 / talents, higher_is_better=False),
        Figure(SCENARIO, "load average when the certified phase began", "load", load_before),
    ]  # fmt: skip

    # 公示 (2 s on the test stack) ends by each claim's timer; then every straight-through claim is payable.
    ended = f"{auto} AND straight_through AND publicity_ended_at IS NOT NULL"
    ended_s = await db.wait_for(ended, straight, timeout_s=talents / 10 + 300)
    print(f"公示 ended for {straight} claims after {ended_s:.1f}s more")

    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
        figures += await _payment_round_trip(client, straight)
        await _publish(bootstrap, [_certified(t) for t in unconfirmed])
        accepted = f"SELECT count(*) FROM benefit_claim WHERE status = 'accepted' AND talent_id IN ({_in(unconfirmed)})"  # noqa: S608
        await db.wait_for(accepted, len(unconfirmed), timeout_s=300)
        figures += await _batch_decision(client, db, unconfirmed)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talents", type=int, default=5_000, help="certified talents with attested facts")
    args = parser.parse_args()
    asyncio.run(main(args.talents))
