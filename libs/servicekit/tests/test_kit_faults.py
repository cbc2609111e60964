"""Faults: a paused broker, a consumer killed mid-way, poison messages, failing handlers, duplicates."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from contracts import CloudEvent, make_event
from prometheus_client import REGISTRY
from servicekit.consumer import EventConsumer
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, Record, ensure_topics
from servicekit.models import OutboxEvent, ProcessedEvent
from servicekit.outbox import Outbox, OutboxRelay
from servicekit.testing import TansuBroker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from .conftest import (
    FAST_GROUP,
    KitTestWidget,
    WidgetMade,
    count_rows,
    eventually,
    header,
    read_topic,
    widget_names,
    write_widget,
)

PAUSE_S = 5.0


def record_of(event: CloudEvent, topic: str) -> Record:
    return Record(topic=topic, value=event.to_json(), key=(event.subject or "").encode())


def widget_event(event_type: type[WidgetMade], name: str, *, subject: str = "talent-1") -> CloudEvent:
    return make_event(event_type(name=name), source="kittest", subject=subject)


class TestBrokerPause:
    @pytest.fixture
    def own_broker(self) -> Iterator[TansuBroker]:
        """A broker of this test's own, so freezing it does not disturb the session's broker."""
        tansu = TansuBroker().start()
        try:
            yield tansu
        finally:
            tansu.stop()

    async def test_no_event_is_lost_while_the_broker_is_frozen(
        self, own_broker: TansuBroker, database: Database, event_type: type[WidgetMade]
    ) -> None:
        outbox = Outbox("kittest")
        producer = KafkaPublisher(own_broker.bootstrap_servers, request_timeout_ms=30_000)
        consumer_db = Database(database.url, pool_size=2)
        consumer = EventConsumer(
            consumer_db,
            producer,
            bootstrap_servers=own_broker.bootstrap_servers,
            group_id=f"kittest-pause-{uuid.uuid4().hex[:8]}",
            handlers={event_type: _mirror_widget},
            consumer_config=FAST_GROUP,
        )
        await ensure_topics(own_broker.bootstrap_servers, [event_type.topic])
        relay = OutboxRelay(database, producer, poll_interval_s=0.05)
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]

        async def change(name: str) -> None:
            async with database.transaction() as session:
                session.add(KitTestWidget(name=name, subject="talent-1"))
                outbox.emit(session, event_type(name=name), subject="talent-1")

        try:
            await change("before-pause")
            await eventually(lambda: _mirrored(consumer_db, 1), timeout=15, what="pipeline flowing before the pause")

            own_broker.pause()
            try:
                # The service keeps accepting changes while the broker is frozen: commits never wait for Kafka.
                paused_at = time.monotonic()
                written = 0
                while time.monotonic() - paused_at < PAUSE_S:
                    await change(f"during-pause-{written}")
                    written += 1
                    await asyncio.sleep(0.25)  # the outage lasts PAUSE_S; changes trickle in meanwhile
                assert await OutboxRelay(database, producer).pending_count() >= 1, "nothing could be published"
            finally:
                own_broker.resume()

            await change("after-resume")
            total = written + 2
            await eventually(lambda: _mirrored(consumer_db, total), timeout=30, what=f"all {total} events consumed")
            await eventually(lambda: _drained(relay), timeout=10, what="outbox drained")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
            await consumer_db.dispose()

        assert await count_rows(database, ProcessedEvent) == total
        assert await count_rows(database, OutboxEvent, col(OutboxEvent.published_at).is_(None)) == 0


async def _mirror_widget(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    """The consumer's effect in the pause test: a mirror row per event (the producer wrote the original)."""
    session.add(KitTestWidget(name=f"mirror:{data.name}", subject=event.subject or ""))


async def _mirrored(database: Database, n: int) -> bool:
    return len([w for w in await widget_names(database) if w.startswith("mirror:")]) >= n


async def _drained(relay: OutboxRelay) -> bool:
    return await relay.pending_count() == 0


class Killed(BaseException):
    """Stands for kill -9: not an Exception, so the consumer's own restart loop does not catch it."""


class DiesBeforeFirstOffsetCommit(EventConsumer):
    """Dies after its first effect has committed but before the Kafka offset is committed."""

    async def commit_offset(self, consumer: AIOKafkaConsumer, message: ConsumerRecord[Any, Any]) -> None:
        raise Killed("process killed between the effect's commit and the offset commit")


class TestConsumerCrash:
    async def test_redelivery_after_a_crash_before_the_offset_commit_is_applied_once(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        calls: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            calls.append(event.id)
            await write_widget(session, event, data)

        group = f"kittest-crash-{uuid.uuid4().hex[:8]}"
        first = await start_consumer({event_type: handler}, group_id=group, consumer_class=DiesBeforeFirstOffsetCommit)
        event = widget_event(event_type, "w-once")
        await publisher.publish([record_of(event, event_type.topic)])

        await eventually(lambda: first.task.done(), timeout=15, what="first consumer dies")
        assert isinstance(await first.stop(), Killed)
        assert await count_rows(database, KitTestWidget) == 1, "the effect had committed before the crash"

        await start_consumer({event_type: handler}, group_id=group)  # a fresh consumer, same group
        later = widget_event(event_type, "w-later")  # same subject, same partition: read after the redelivery
        await publisher.publish([record_of(later, event_type.topic)])
        await eventually(lambda: len(calls) == 2, timeout=15, what="the later event applied")
        # Both may come in one batch, whose outcomes are counted after its commit, just after the handler ran.
        await eventually(lambda: _consumed(group, "duplicate") == 1, timeout=5, what="the duplicate counted")

        assert _consumed(group, "duplicate") == 1, "the fresh consumer got the event again"
        assert calls == [event.id, later.id], "the redelivered event did not run the handler again"
        assert await widget_names(database) == ["w-once", "w-later"]
        assert await count_rows(database, ProcessedEvent) == 2


def _consumed(group: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("consumer_events_total", {"group": group, "outcome": outcome}) or 0.0


class TestPoisonMessages:
    async def test_a_message_that_is_not_json_goes_to_the_dead_letter_topic_and_later_events_flow(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        start_consumer: Any,
        event_type: type[WidgetMade],
    ) -> None:
        running = await start_consumer({event_type: write_widget})
        await publisher.publish(
            [
                Record(event_type.topic, b"\x00not json{", key=b"talent-1", headers=[("x-request-id", b"req-poison")]),
                record_of(widget_event(event_type, "w-after-poison"), event_type.topic),
            ]
        )

        await eventually(lambda: count_rows(database, KitTestWidget), what="later event applied")
        [dead] = await _dead_letters(broker, running.consumer)
        assert dead.value == b"\x00not json{"
        assert dead.key == b"talent-1"
        assert "not a CloudEvent" in (header(dead, "dlq-reason") or "")
        assert (header(dead, "dlq-source") or "").startswith(f"{event_type.topic}/")
        assert header(dead, "x-request-id") == "req-poison", "original headers are kept"
        assert await widget_names(database) == ["w-after-poison"]

    async def test_an_envelope_whose_data_fails_validation_is_dead_lettered_without_retries(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        start_consumer: Any,
        event_type: type[WidgetMade],
    ) -> None:
        calls: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            calls.append(data.name)
            await write_widget(session, event, data)

        running = await start_consumer({event_type: handler}, max_attempts=5, retry_backoff_s=1.0)
        bad = CloudEvent(source="kittest", type=WidgetMade.type, subject="talent-1", data={"seq": "not a number"})
        await publisher.publish(
            [record_of(bad, event_type.topic), record_of(widget_event(event_type, "w-after-bad"), event_type.topic)]
        )

        # Waiting on the committed effect, not on the handler's call (it runs before its transaction commits).
        await eventually(lambda: count_rows(database, KitTestWidget), what="later event applied and committed")
        [dead] = await _dead_letters(broker, running.consumer)
        assert CloudEvent.from_json(dead.value).id == bad.id
        reason = header(dead, "dlq-reason") or ""
        assert "invalid data" in reason and "name" in reason
        assert calls == ["w-after-bad"]
        assert await count_rows(database, ProcessedEvent) == 1

    async def test_a_handler_that_always_fails_is_retried_then_dead_lettered_and_the_consumer_goes_on(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        start_consumer: Any,
        event_type: type[WidgetMade],
    ) -> None:
        attempts: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            await write_widget(session, event, data)  # written, then rolled back with the failure
            if data.name == "w-cursed":
                attempts.append(event.id)
                raise RuntimeError("downstream rule always fails")

        running = await start_consumer({event_type: handler}, max_attempts=4, retry_backoff_s=0.01)
        cursed = widget_event(event_type, "w-cursed")
        await publisher.publish(
            [record_of(cursed, event_type.topic), record_of(widget_event(event_type, "w-fine"), event_type.topic)]
        )

        await eventually(lambda: count_rows(database, KitTestWidget), what="the next event applied")
        assert attempts == [cursed.id] * 4
        [dead] = await _dead_letters(broker, running.consumer)
        assert CloudEvent.from_json(dead.value).id == cursed.id
        assert "RuntimeError: downstream rule always fails" in (header(dead, "dlq-reason") or "")
        assert await widget_names(database) == ["w-fine"], "the failed attempts left nothing behind"
        assert await count_rows(database, ProcessedEvent, ProcessedEvent.event_id == cursed.id) == 0

    async def test_a_handler_that_fails_once_succeeds_on_retry(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        attempts: list[int] = []

        async def flaky(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            attempts.append(1)
            await write_widget(session, event, data)
            if len(attempts) == 1:
                raise ConnectionError("transient")

        await start_consumer({event_type: flaky}, max_attempts=3)
        await publisher.publish([record_of(widget_event(event_type, "w-flaky"), event_type.topic)])

        await eventually(lambda: count_rows(database, KitTestWidget), what="applied on the second attempt")
        assert len(attempts) == 2
        assert await widget_names(database) == ["w-flaky"]


async def _dead_letters(broker: TansuBroker, consumer: EventConsumer) -> list[ConsumerRecord[Any, Any]]:
    assert consumer.dead_letter_topic == f"{consumer.group_id}.dlq"
    return await read_topic(broker.bootstrap_servers, consumer.dead_letter_topic)


class TestDuplicates:
    async def test_a_duplicate_delivery_of_the_same_event_id_is_applied_once(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        calls: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            calls.append(data.name)
            await write_widget(session, event, data)

        await start_consumer({event_type: handler})
        event = widget_event(event_type, "w-dup")
        # The same event three times (a replay, a producer retry), then a different one.
        await publisher.publish([record_of(event, event_type.topic)] * 3)
        await publisher.publish([record_of(widget_event(event_type, "w-next"), event_type.topic)])

        # The handler runs before its transaction commits: wait for the effect itself, not for the call.
        async def next_committed() -> bool:
            return "w-next" in await widget_names(database)

        await eventually(next_committed, what="the next event applied and committed")
        assert calls == ["w-dup", "w-next"]
        assert await widget_names(database) == ["w-dup", "w-next"]

    async def test_replicas_of_one_group_racing_on_the_same_event_apply_it_once(
        self, database: Database, start_consumer: Any, publisher: KafkaPublisher, event_type: type[WidgetMade]
    ) -> None:
        """Two consumers of one group (a rebalance) handle the same event at once: one applies, one sees a duplicate."""
        gate = asyncio.Event()
        entered: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            entered.append(event.id)
            if len(entered) == 1:
                await gate.wait()  # hold the first transaction open until the second has applied
            await write_widget(session, event, data)

        group = f"kittest-race-{uuid.uuid4().hex[:8]}"
        consumer = EventConsumer(
            database,
            publisher,
            bootstrap_servers="unused:0",
            group_id=group,
            handlers={event_type: handler},
        )
        event = widget_event(event_type, "w-race")
        slow = asyncio.create_task(consumer.apply(event, handler))
        await eventually(lambda: entered, what="first replica inside the handler")
        fast = asyncio.create_task(consumer.apply(event, handler))
        if not database.is_sqlite:
            # PostgreSQL: the second replica is not blocked; it applies while the first still holds its
            # transaction, whose commit then hits the ledger's primary key and turns into a duplicate.
            await eventually(fast.done, what="second replica done")
        # (SQLite has one writer: the second replica waits for the first, then finds the ledger row.)
        gate.set()

        assert sorted(await asyncio.gather(slow, fast)) == [False, True]
        assert await widget_names(database) == ["w-race"]
        assert await count_rows(database, ProcessedEvent) == 1
