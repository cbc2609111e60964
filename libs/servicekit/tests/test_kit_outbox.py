"""The transactional outbox: written with the change, relayed in order, kept for retention, replayable."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from contracts import CloudEvent
from servicekit.context import request_id_var
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, ensure_topics
from servicekit.models import OutboxEvent
from servicekit.outbox import Outbox, OutboxRelay, replay
from servicekit.testing import TansuBroker, free_port
from sqlalchemy import update
from sqlmodel import col, select

from .conftest import BACKENDS, KitTestWidget, WidgetMade, count_rows, event_of, eventually, header, read_topic

outbox = Outbox("kittest")


async def commit_widgets(
    database: Database, event_type: type[WidgetMade], items: Sequence[tuple[str, int]], *, request_id: str | None = None
) -> list[str]:
    """Write one widget and its event per (subject, seq) in a single transaction; returns the event ids."""
    token = request_id_var.set(request_id)
    try:
        ids = []
        async with database.transaction() as session:
            for subject, seq in items:
                name = f"{subject}-{seq}-{uuid.uuid4().hex[:6]}"
                session.add(KitTestWidget(name=name, subject=subject, seq=seq))
                ids.append(outbox.emit(session, event_type(name=name, seq=seq), subject=subject).id)
        return ids
    finally:
        request_id_var.reset(token)


async def outbox_rows(database: Database) -> list[OutboxEvent]:
    async with database.sessionmaker() as session:
        return list(await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))))


@pytest.fixture
async def topic(broker: TansuBroker, event_type: type[WidgetMade]) -> str:
    await ensure_topics(broker.bootstrap_servers, [event_type.topic])
    return event_type.topic


class TestOutbox:
    async def test_event_is_stored_in_the_same_transaction_as_the_change(
        self, database: Database, event_type: type[WidgetMade]
    ) -> None:
        [event_id] = await commit_widgets(database, event_type, [("t-1", 1)], request_id="req-store-1")

        [row] = await outbox_rows(database)
        assert row.event_id == event_id
        assert row.topic == event_type.topic
        assert row.key == "t-1"
        assert row.event_type == WidgetMade.type
        assert row.request_id == "req-store-1"
        assert row.published_at is None
        assert event_of_payload(row).subject == "t-1"

    async def test_rolled_back_change_leaves_no_event(self, database: Database, event_type: type[WidgetMade]) -> None:
        with pytest.raises(RuntimeError, match="domain rule broken"):
            async with database.transaction() as session:
                session.add(KitTestWidget(name="rolled-back", subject="t-1"))
                outbox.emit(session, event_type(name="rolled-back"), subject="t-1")
                await session.flush()
                raise RuntimeError("domain rule broken")

        assert await count_rows(database, OutboxEvent) == 0
        assert await count_rows(database, KitTestWidget) == 0


def event_of_payload(row: OutboxEvent) -> CloudEvent:
    return CloudEvent.from_json(row.payload)


class TestOutboxRelay:
    async def test_committed_event_is_published_in_structured_mode_with_subject_as_key_and_the_request_id(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        [event_id] = await commit_widgets(database, event_type, [("talent-42", 1)], request_id="req-abc-123")

        published = await OutboxRelay(database, publisher).publish_pending()

        assert published == 1
        [record] = await read_topic(broker.bootstrap_servers, topic)
        assert record.key == b"talent-42"
        assert header(record, "x-request-id") == "req-abc-123"
        assert header(record, "content-type") == "application/cloudevents+json; charset=UTF-8"
        assert not [name for name, _ in record.headers if name.startswith("ce_")]  # those would mean binary mode
        event = event_of(record)
        assert (event.id, event.type, event.source) == (event_id, WidgetMade.type, "kittest")
        assert event.subject == "talent-42"
        assert (event.data["seq"], getattr(event, "partitionkey", None)) == (1, "talent-42")

    async def test_rolled_back_change_publishes_nothing(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                outbox.emit(session, event_type(name="never"), subject="t-1")
                raise RuntimeError("rolled back")

        assert await OutboxRelay(database, publisher).publish_pending() == 0
        assert await read_topic(broker.bootstrap_servers, topic) == []

    async def test_published_rows_are_marked_and_not_published_again(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        await commit_widgets(database, event_type, [("t-1", 1), ("t-2", 1)])
        relay = OutboxRelay(database, publisher)
        before = datetime.now(UTC)

        assert await relay.publish_pending() == 2
        assert await relay.publish_pending() == 0

        rows = await outbox_rows(database)
        assert all(r.published_at is not None and r.published_at >= before - timedelta(seconds=1) for r in rows)
        assert await relay.pending_count() == 0
        assert len(await read_topic(broker.bootstrap_servers, topic)) == 2

    async def test_order_per_subject_is_kept_over_many_events(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        subjects = [f"talent-{i}" for i in range(5)]
        relay = OutboxRelay(database, publisher, batch_size=17, poll_interval_s=0.02)
        task = asyncio.create_task(relay.run())
        try:
            # 5 subjects x 60 events, interleaved, in 30 transactions committed while the relay runs.
            expected: list[str] = []
            for chunk in range(30):
                items = [(s, chunk * 2 + k) for k in range(2) for s in subjects]
                expected += await commit_widgets(database, event_type, items)
            await eventually(lambda: _zero(relay), timeout=15, what="outbox drained")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        records = await read_topic(broker.bootstrap_servers, topic)
        assert sorted(event_of(r).id for r in records) == sorted(expected)
        by_subject: dict[str, list[int]] = defaultdict(list)
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            by_subject[record.key.decode()].append(event_of(record).data["seq"])
        assert set(by_subject) == set(subjects)
        for subject, seqs in by_subject.items():
            assert seqs == list(range(60)), f"{subject} out of order: {seqs}"

    async def test_a_commit_wakes_the_relay_before_its_next_poll(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        relay = OutboxRelay(database, publisher, poll_interval_s=30.0)
        task = asyncio.create_task(relay.run())
        try:
            # Whenever a commit lands (before, during or after a relay pass), it must not wait 30 s.
            for seq in range(3):
                await commit_widgets(database, event_type, [("t-1", seq)])
                await eventually(lambda: _zero(relay), timeout=5, what=f"event {seq} published without the poll")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert len(await read_topic(broker.bootstrap_servers, topic)) == 3

    async def test_rows_stay_pending_while_the_broker_is_unreachable(
        self, database: Database, event_type: type[WidgetMade]
    ) -> None:
        await commit_widgets(database, event_type, [("t-1", 1)])
        nowhere = KafkaPublisher(f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
        try:
            with pytest.raises(Exception):  # noqa: B017 - whichever connection error aiokafka raises
                await OutboxRelay(database, nowhere).publish_pending()
        finally:
            await nowhere.stop()
        assert await OutboxRelay(database, nowhere).pending_count() == 1

    async def test_prune_deletes_only_published_rows_older_than_the_retention(
        self, database: Database, publisher: KafkaPublisher, topic: str, event_type: type[WidgetMade]
    ) -> None:
        now = datetime.now(UTC)
        old_published, recent_published, old_unpublished = await commit_widgets(
            database, event_type, [("t-1", 1), ("t-1", 2), ("t-1", 3)]
        )
        async with database.engine.begin() as conn:
            for event_id, published_at in [(old_published, now - timedelta(days=15)), (recent_published, now)]:
                await conn.execute(
                    update(OutboxEvent)
                    .where(col(OutboxEvent.event_id) == event_id)
                    .values(published_at=published_at, created_at=now - timedelta(days=15))
                )
            await conn.execute(
                update(OutboxEvent)
                .where(col(OutboxEvent.event_id) == old_unpublished)
                .values(created_at=now - timedelta(days=30))
            )

        deleted = await OutboxRelay(database, publisher, retention=timedelta(days=14)).prune()

        assert deleted == 1
        assert {r.event_id for r in await outbox_rows(database)} == {recent_published, old_unpublished}


async def _zero(relay: OutboxRelay) -> bool:
    return await relay.pending_count() == 0


class TestReplay:
    async def test_replay_republishes_exactly_the_rows_of_the_range(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        ids = await commit_widgets(database, event_type, [("t-1", seq) for seq in range(6)])
        base = datetime(2030, 1, 1, tzinfo=UTC)
        async with database.engine.begin() as conn:
            for hour, event_id in enumerate(ids):  # created at 00:00, 01:00, ... 05:00
                await conn.execute(
                    update(OutboxEvent)
                    .where(col(OutboxEvent.event_id) == event_id)
                    .values(created_at=base + timedelta(hours=hour))
                )
        assert await OutboxRelay(database, publisher).publish_pending() == 6
        first_pass = len(await read_topic(broker.bootstrap_servers, topic))

        count = await replay(
            database, publisher, since=base + timedelta(hours=1), until=base + timedelta(hours=4), batch_size=2
        )

        records = await read_topic(broker.bootstrap_servers, topic)
        replayed = [event_of(r).id for r in sorted(records, key=lambda r: r.offset)[first_pass:]]
        assert first_pass == 6
        assert count == 3
        assert replayed == ids[1:4]  # since is inclusive, until exclusive, order kept
        assert await OutboxRelay(database, publisher).pending_count() == 0

    async def test_replay_of_an_empty_range_publishes_nothing(
        self, database: Database, publisher: KafkaPublisher, event_type: type[WidgetMade]
    ) -> None:
        await commit_widgets(database, event_type, [("t-1", 1)])
        future = datetime.now(UTC) + timedelta(days=1)

        assert await replay(database, publisher, since=future, until=future + timedelta(hours=1)) == 0


@pytest.mark.skipif(BACKENDS != ["postgresql"], reason="several relay replicas need PostgreSQL (set TEST_DATABASE_URL)")
class TestOutboxRelayReplicas:
    async def test_two_relays_on_one_database_publish_every_row_once_in_order(
        self,
        broker: TansuBroker,
        database_url: str,
        database: Database,
        publisher: KafkaPublisher,
        topic: str,
        event_type: type[WidgetMade],
    ) -> None:
        assert not database.is_sqlite
        replica = Database(database_url, pool_size=4)
        replica_publisher = KafkaPublisher(broker.bootstrap_servers, client_id="kittest-replica")
        relays = [
            OutboxRelay(database, publisher, batch_size=7, poll_interval_s=0.01),
            OutboxRelay(replica, replica_publisher, batch_size=7, poll_interval_s=0.01),
        ]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        subjects = [f"talent-{i}" for i in range(4)]
        expected: list[str] = []
        try:
            for chunk in range(40):
                expected += await commit_widgets(database, event_type, [(s, chunk) for s in subjects])
            await eventually(lambda: _zero(relays[0]), timeout=20, what="outbox drained")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await replica_publisher.stop()
            await replica.dispose()

        records = await read_topic(broker.bootstrap_servers, topic)
        published_ids = [event_of(r).id for r in records]
        assert len(published_ids) == len(expected) == 160
        assert sorted(published_ids) == sorted(expected), "every row exactly once"
        by_subject: dict[str, list[int]] = defaultdict(list)
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            by_subject[record.key.decode()].append(event_of(record).data["seq"])
        assert all(seqs == list(range(40)) for seqs in by_subject.values()), by_subject
