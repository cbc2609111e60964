"""A broker that loses its memory (Tansu keeps its log in memory: kill -9 and a restart leave it empty).

The relay notices that the broker no longer holds what it acknowledged and publishes the retained outbox
again; consumers, whose committed offsets went too, start over from the earliest record and apply each event
once (their ledger drops what they had applied before).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from contracts import CloudEvent
from prometheus_client import REGISTRY
from servicekit.consumer import EventConsumer
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, ensure_topics
from servicekit.models import OutboxEvent, ProcessedEvent
from servicekit.outbox import Outbox, OutboxRelay
from servicekit.testing import TansuBroker
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .conftest import FAST_GROUP, KitTestWidget, WidgetMade, count_rows, event_of, eventually, read_topic

outbox = Outbox("kittest")
SUBJECTS = ("talent-a", "talent-b", "talent-c")


@pytest.fixture
def own_broker() -> Iterator[TansuBroker]:
    """A broker of this test's own: it is killed and restarted empty."""
    tansu = TansuBroker().start()
    try:
        yield tansu
    finally:
        tansu.kill()


async def commit_widgets(database: Database, event_type: type[WidgetMade], prefix: str, count: int) -> list[str]:
    """One widget and its event per change, spread over three subjects; returns the event ids in order."""
    ids = []
    for seq in range(count):
        async with database.transaction() as session:
            subject = SUBJECTS[seq % len(SUBJECTS)]
            name = f"{prefix}-{seq}"
            session.add(KitTestWidget(name=name, subject=subject, seq=seq))
            ids.append(outbox.emit(session, event_type(name=name, seq=seq), subject=subject).id)
    return ids


class Mirror:
    """A consumer group's effect: a mirror row per event, and the order in which each subject's events came."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.order: defaultdict[str, list[str]] = defaultdict(list)

    async def __call__(self, session: AsyncSession, event: CloudEvent, data: Any) -> None:
        session.add(KitTestWidget(name=f"{self.group}:{data.name}", subject=event.subject or ""))
        self.order[event.subject or ""].append(data.name)


async def mirrored(database: Database, group: str) -> list[str]:
    async with database.sessionmaker() as session:
        names = await session.exec(select(KitTestWidget.name).where(col(KitTestWidget.name).startswith(f"{group}:")))
        return [name.split(":", 1)[1] for name in names]


async def ledger(database: Database, group: str) -> int:
    return await count_rows(database, ProcessedEvent, ProcessedEvent.consumer_group == group)


def lost_total() -> float:
    return REGISTRY.get_sample_value("outbox_broker_memory_lost_total") or 0.0


class TestBrokerMemoryLoss:
    async def test_after_a_kill_and_an_empty_restart_every_event_reaches_every_group_once(
        self, own_broker: TansuBroker, database: Database, event_type: type[WidgetMade]
    ) -> None:
        servers = own_broker.bootstrap_servers
        publisher = KafkaPublisher(servers, request_timeout_ms=10_000)
        consumer_db = Database(database.url, pool_size=2)
        relay = OutboxRelay(database, publisher, poll_interval_s=0.05, check_every_s=1.0)
        tasks: list[asyncio.Task[None]] = []

        def start_group(name: str) -> Mirror:
            mirror = Mirror(f"{name}-{uuid.uuid4().hex[:6]}")
            consumer = EventConsumer(
                consumer_db,
                publisher,
                bootstrap_servers=servers,
                group_id=mirror.group,
                handlers={event_type: mirror},
                consumer_config=FAST_GROUP,
            )
            tasks.append(asyncio.create_task(consumer.run()))
            return mirror

        await ensure_topics(servers, [event_type.topic])
        losses_before = lost_total()
        try:
            tasks.append(asyncio.create_task(relay.run()))
            caught_up = start_group("caught-up")
            before = await commit_widgets(database, event_type, "before", 12)
            await eventually(lambda: _has(database, caught_up.group, 12), timeout=60, what="12 events consumed")
            await eventually(lambda: _pending_is(relay, 0), timeout=30, what="outbox drained")

            own_broker.kill()
            own_broker.restart()  # same port, empty: no topics, no records, no committed offsets

            await eventually(lambda: lost_total() > losses_before, timeout=60, what="the relay finds the loss")
            await eventually(lambda: _pending_is(relay, 0), timeout=60, what="the retained window published again")
            assert set(before) <= {event_of(r).id for r in await read_topic(servers, event_type.topic)}
            assert lost_total() == losses_before + 1

            after = await commit_widgets(database, event_type, "after", 3)
            # A group that had never read the events before the loss: they are on the new broker for it.
            late = start_group("late")
            everything = sorted([f"before-{i}" for i in range(12)] + [f"after-{i}" for i in range(3)])
            for mirror in (caught_up, late):
                await eventually(lambda m=mirror: _has(database, m.group, 15), timeout=60, what=f"{mirror.group}")
                await eventually(lambda m=mirror: _pending_is(relay, 0), timeout=30, what="outbox drained")
            # Settled: nothing more arrives for either group (the republished duplicates are skipped).
            await eventually(lambda: _ledger_is(database, late.group, 15), timeout=30, what="late ledger")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await publisher.stop()
            await consumer_db.dispose()

        for mirror in (caught_up, late):
            assert sorted(await mirrored(database, mirror.group)) == everything, mirror.group
            assert await ledger(database, mirror.group) == len(before) + len(after)
        # The late group saw each subject's events in the order they were written.
        for subject, names in late.order.items():
            sequence = [int(n.split("-")[1]) for n in names if n.startswith("before-")]
            assert sequence == sorted(sequence), (subject, names)
        assert await count_rows(database, OutboxEvent, col(OutboxEvent.published_at).is_(None)) == 0

    async def test_a_group_whose_position_is_past_the_new_end_still_gets_every_later_event(
        self, own_broker: TansuBroker, database: Database, event_type: type[WidgetMade]
    ) -> None:
        """The events it had read were pruned from the outbox: the new log is shorter than its old position. The
        consumer is another service's (its own publisher): it finds the loss from the fetches' log ends."""
        servers = own_broker.bootstrap_servers
        publisher = KafkaPublisher(servers, request_timeout_ms=10_000)
        consumer_publisher = KafkaPublisher(servers, request_timeout_ms=10_000)
        consumer_db = Database(database.url, pool_size=2)
        relay = OutboxRelay(database, publisher, poll_interval_s=0.05, check_every_s=1.0)
        mirror = Mirror(f"past-end-{uuid.uuid4().hex[:6]}")
        consumer = EventConsumer(
            consumer_db,
            consumer_publisher,
            bootstrap_servers=servers,
            group_id=mirror.group,
            handlers={event_type: mirror},
            consumer_config=FAST_GROUP,
        )
        await ensure_topics(servers, [event_type.topic])
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            await commit_widgets(database, event_type, "before", 12)
            await eventually(lambda: _has(database, mirror.group, 12), timeout=60, what="12 events consumed")
            async with database.transaction() as session:  # as if pruned after the retention period
                await session.exec(delete(OutboxEvent))  # type: ignore[call-overload]

            own_broker.kill()
            own_broker.restart()
            await commit_widgets(database, event_type, "after", 3)

            await eventually(lambda: _has(database, mirror.group, 15), timeout=60, what="the later events consumed")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await publisher.stop()
            await consumer_publisher.stop()
            await consumer_db.dispose()
        assert sorted(await mirrored(database, mirror.group)) == sorted(
            [f"before-{i}" for i in range(12)] + [f"after-{i}" for i in range(3)]
        )

    async def test_a_relay_started_after_the_loss_finds_it_from_the_retained_rows(
        self, own_broker: TansuBroker, database: Database, event_type: type[WidgetMade]
    ) -> None:
        """The whole platform restarted with the broker: the new relay has no memory, the outbox has."""
        servers = own_broker.bootstrap_servers
        await ensure_topics(servers, [event_type.topic])
        first = KafkaPublisher(servers)
        try:
            await commit_widgets(database, event_type, "w", 5)
            assert await OutboxRelay(database, first).publish_pending() == 5
        finally:
            await first.stop()

        own_broker.kill()
        own_broker.restart()
        publisher = KafkaPublisher(servers)
        try:
            relay = OutboxRelay(database, publisher)
            assert await relay.check_broker_memory() == 5
            assert await relay.pending_count() == 5
            assert await relay.publish_pending() == 5
            assert await relay.check_broker_memory() == 0, "the topic holds them again"
            ids = [event_of(r).id for r in await read_topic(servers, event_type.topic)]
            assert len(ids) == len(set(ids)) == 5
        finally:
            await publisher.stop()

    async def test_the_next_publication_gives_the_loss_away_without_waiting_for_the_interval(
        self, own_broker: TansuBroker, database: Database, event_type: type[WidgetMade]
    ) -> None:
        servers = own_broker.bootstrap_servers
        await ensure_topics(servers, [event_type.topic])
        publisher = KafkaPublisher(servers, request_timeout_ms=10_000)
        relay = OutboxRelay(database, publisher, poll_interval_s=0.05, check_every_s=3600.0)
        task = asyncio.create_task(relay.run())
        try:
            before = await commit_widgets(database, event_type, "before", 6)
            await eventually(lambda: _pending_is(relay, 0), timeout=30, what="published before the loss")
            own_broker.kill()
            own_broker.restart()
            losses = lost_total()
            after = await commit_widgets(database, event_type, "after", 1)  # acknowledged at an offset gone back

            await eventually(lambda: lost_total() > losses, timeout=60, what="the loss found within the hour")
            await eventually(lambda: _pending_is(relay, 0), timeout=60, what="the retained window published again")
            ids = {event_of(r).id for r in await read_topic(servers, event_type.topic)}
            assert set(before + after) <= ids
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await publisher.stop()

    async def test_a_broker_that_kept_its_log_is_not_mistaken_for_a_new_one(
        self, broker: TansuBroker, database: Database, publisher: KafkaPublisher, event_type: type[WidgetMade]
    ) -> None:
        await ensure_topics(broker.bootstrap_servers, [event_type.topic])
        await commit_widgets(database, event_type, "w", 7)
        relay = OutboxRelay(database, publisher, batch_size=3)
        assert await relay.publish_pending() == 7

        assert await relay.check_broker_memory() == 0  # from what it was acknowledged at
        assert await OutboxRelay(database, publisher).check_broker_memory() == 0  # from the retained rows
        assert await relay.pending_count() == 0


async def _has(database: Database, group: str, n: int) -> bool:
    return len(await mirrored(database, group)) >= n


async def _pending_is(relay: OutboxRelay, n: int) -> bool:
    return await relay.pending_count() == n


async def _ledger_is(database: Database, group: str, n: int) -> bool:
    return await ledger(database, group) == n
