"""Notify under load: events at a steady rate → inbox rows, and webhook throughput to a slow partner.

Phase 1: person events (points, claims, certification applications) are published straight onto the broker
at `--rate` per second for `--duration` seconds; a poller reads notify's database and records, for every
event, the time from the event's `time` to its inbox row being visible (target: p99 < 250 ms at 200/s).

Phase 2: partner.hospital subscribes (through the gateway) with an endpoint that answers in 200 ms, and
`--webhook-events` TalentCertified events are published at the same rate; reported: deliveries per second,
delivery latency, and the inbox latency of those same events while the webhooks queue up (the inbox must
not notice a slow partner).

    uv run python -m bench.bench_notify_inbox                      # the full scenario (200/s for 60 s)
    uv run python -m bench.bench_notify_inbox --duration 10 --webhook-events 300   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from contracts import (
    CertificationSubmitted,
    ClaimDecided,
    ClaimSubmitted,
    CloudEvent,
    EventData,
    TalentCertified,
    TalentPointsChanged,
    make_event,
)
from servicekit.testing import TansuBroker

from bench.common import Figure, production_shape, write_results
from tests.stack import Stack, running_stack

SCENARIO = "notify_inbox"
# make bench runs it on PostgreSQL in the production shape too (BENCH_SHAPE=production: notify's consumers in
# a `notify worker` process of their own).
BENCH_PRODUCTION_SHAPE = True


def person_event(talent_id: str) -> EventData:
    kind = random.randrange(4)
    if kind == 0:
        return TalentPointsChanged(talent_id=talent_id, points=random.randrange(20, 150), previous_points=20)
    if kind == 1:
        return ClaimSubmitted(
            claim_id=str(uuid.uuid4()),
            talent_id=talent_id,
            policy_code="RENT_SUBSIDY",
            policy_version=1,
            amount_fen=200000,
            status="accepted",
        )
    if kind == 2:
        return ClaimDecided(
            claim_id=str(uuid.uuid4()),
            talent_id=talent_id,
            policy_code="HEALTH_CHECK",
            stage="county",
            decision="approve",
            status="county_approved",
            decided_by="reviewer.nanhu",
        )
    return CertificationSubmitted(
        certification_id=str(uuid.uuid4()), talent_id=talent_id, route="degree", claimed_tier="E", region_code="330402"
    )


def certified_event(talent_id: str) -> EventData:
    return TalentCertified(
        talent_id=talent_id,
        pseudonym=f"tp_{uuid.uuid4().hex[:16]}",
        tier="E",
        points=30,
        certified_until=date(2030, 1, 1),
        region_code="330402",
    )


async def publish_steadily(
    bootstrap: str, build: Callable[[str], EventData], *, rate: float, count: int
) -> dict[str, datetime]:
    """Publish `count` events at `rate` per second (on schedule, not back to back); returns id → event time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await producer.start()
    sent: dict[str, datetime] = {}
    pending = []
    talents = [str(uuid.uuid4()) for _ in range(1000)]
    try:
        started = time.perf_counter()
        for index in range(count):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            talent_id = random.choice(talents)
            data = build(talent_id)
            event = make_event(data, source=data.topic.split(".")[1], subject=talent_id)
            sent[event.id] = event.time
            pending.append(await producer.send(data.topic, event.to_json(), key=talent_id.encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


class InboxPoller:
    """Watches notify's database for new inbox rows and notes when each source event's row became visible."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.seen: dict[str, float] = {}  # source event id -> wall-clock time the row was first seen
        self._stop = asyncio.Event()

    async def run(self) -> None:
        if self.database_url.startswith("sqlite"):
            await self._run_sqlite(self.database_url.split("///", 1)[1])
        else:
            await self._run_postgres(self.database_url.replace("+asyncpg", ""))

    def stop(self) -> None:
        self._stop.set()

    async def _run_sqlite(self, path: str) -> None:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        last_rowid = 0
        try:
            while not self._stop.is_set():
                rows = connection.execute(
                    "SELECT rowid, source_event_id FROM notify_notification WHERE rowid > ? ORDER BY rowid",
                    (last_rowid,),
                ).fetchall()
                now = time.time()
                for rowid, source in rows:
                    self.seen.setdefault(source, now)
                    last_rowid = max(last_rowid, rowid)
                await asyncio.sleep(0.005)
        finally:
            connection.close()

    async def _run_postgres(self, dsn: str) -> None:
        connection = await asyncpg.connect(dsn)
        since = datetime.now(UTC) - timedelta(minutes=5)
        try:
            while not self._stop.is_set():
                rows = await connection.fetch(
                    "SELECT source_event_id, created_at FROM notify_notification WHERE created_at >= $1", since
                )
                now = time.time()
                for row in rows:
                    self.seen.setdefault(row["source_event_id"], now)
                    since = max(since, row["created_at"] - timedelta(seconds=2))
                await asyncio.sleep(0.005)
        finally:
            await connection.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def latencies_ms(sent: dict[str, datetime], seen: dict[str, float]) -> list[float]:
    return [(seen[i] - t.timestamp()) * 1000 for i, t in sent.items() if i in seen]


async def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


class SlowPartner:
    """The partner's endpoint: answers 200 after `delay_s`, noting when each CloudEvent id arrived."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.arrived: dict[str, float] = {}
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def close_connections(self) -> None:
        for writer in list(self.writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                await asyncio.sleep(self.delay_s)
                self.arrived.setdefault(CloudEvent.from_json(body).id, time.time())
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


async def subscribe_hospital(stack: Stack, url: str) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as gateway:
        form = {"grant_type": "client_credentials", "client_id": "partner.hospital", "client_secret": "dev-secret"}
        token = (await gateway.post("/api/v1/auth/token", data=form)).json()["access_token"]
        body = {"event_types": [TalentCertified.type], "url": url, "secret": "bench-webhook-secret-0001"}
        response = await gateway.post(
            "/api/v1/partners/subscriptions", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()


async def run(stack: Stack, args: argparse.Namespace) -> list[Figure]:
    database_url = stack.env["notify"]["NOTIFY_DATABASE_URL"]
    bootstrap = stack.broker.bootstrap_servers
    poller = InboxPoller(database_url)
    polling = asyncio.create_task(poller.run())
    figures: list[Figure] = []
    try:
        # Warm-up: consumers joined, connections open.
        await publish_steadily(bootstrap, person_event, rate=args.rate, count=int(args.rate))
        await asyncio.sleep(2)

        count = int(args.rate * args.duration)
        started = time.perf_counter()
        sent = await publish_steadily(bootstrap, person_event, rate=args.rate, count=count)
        publish_rate = count / (time.perf_counter() - started)
        await wait_for(lambda: all(i in poller.seen for i in sent), timeout=30)
        inbox = latencies_ms(sent, poller.seen)
        lost = count - len(inbox)
        figures += [
            Figure(SCENARIO, "events published per second", "events/s", publish_rate, target=args.rate * 0.98),
            Figure(
                SCENARIO, "inbox latency p50 (event time → row)", "ms", percentile(inbox, 0.5), higher_is_better=False
            ),
            Figure(
                SCENARIO,
                "inbox latency p99 (event time → row)",
                "ms",
                percentile(inbox, 0.99),
                target=250,
                higher_is_better=False,
            ),
            Figure(SCENARIO, "inbox latency max", "ms", max(inbox, default=float("nan")), higher_is_better=False),
            Figure(
                SCENARIO, "events without an inbox row after 30 s", "events", lost, target=0, higher_is_better=False
            ),
        ]

        partner = SlowPartner(delay_s=args.webhook_delay)
        server = await partner.start()
        try:
            await subscribe_hospital(stack, f"http://127.0.0.1:{partner.port}/hooks")
            started_wall = time.time()
            sent = await publish_steadily(bootstrap, certified_event, rate=args.rate, count=args.webhook_events)
            await wait_for(lambda: all(i in poller.seen for i in sent), timeout=30)
            inbox_during = latencies_ms(sent, poller.seen)
            await wait_for(lambda: len(partner.arrived) >= len(sent), timeout=args.webhook_events / 5 + 60)
            arrived = [partner.arrived[i] for i in sent if i in partner.arrived]
            webhook = [(partner.arrived[i] - t.timestamp()) * 1000 for i, t in sent.items() if i in partner.arrived]
            elapsed = (max(arrived) - started_wall) if arrived else float("nan")
        finally:
            server.close()
            partner.close_connections()
        figures += [
            Figure(SCENARIO, "webhook deliveries per second (200 ms endpoint)", "deliveries/s", len(arrived) / elapsed),
            Figure(SCENARIO, "webhook delivery latency p50", "ms", percentile(webhook, 0.5), higher_is_better=False),
            Figure(SCENARIO, "webhook delivery latency p99", "ms", percentile(webhook, 0.99), higher_is_better=False),
            Figure(
                SCENARIO,
                "webhooks not delivered",
                "deliveries",
                len(sent) - len(arrived),
                target=0,
                higher_is_better=False,
            ),
            Figure(
                SCENARIO,
                "inbox latency p99 while webhooks queue",
                "ms",
                percentile(inbox_during, 0.99),
                target=250,
                higher_is_better=False,
            ),
        ]
    finally:
        poller.stop()
        await polling
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of steady inbox load")
    parser.add_argument("--webhook-events", type=int, default=2000, help="TalentCertified events for the partner")
    parser.add_argument("--webhook-delay", type=float, default=0.2, help="the partner endpoint's answer time, s")
    args = parser.parse_args(argv)
    os.environ.setdefault("TALENT_ENV", "dev")
    broker = TansuBroker().start()
    try:
        with running_stack(broker, split_workers=production_shape()) as stack:
            figures = asyncio.run(run(stack, args))
    finally:
        broker.stop()
    write_results(SCENARIO, figures)


if __name__ == "__main__":
    main()
