"""An idle service sleeps long between passes and is woken by the work itself (issue 17).

The outbox relay and the timer runner wait on a commit, not on a short poll: one in their own process wakes
them at once, one of another process (a second Database object here) through LISTEN/NOTIFY on PostgreSQL. A
consumer's fetch wait grows after a quiet spell and is short again as soon as records come.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from servicekit.consumer import AdaptiveWait, EventConsumer
from servicekit.db import Database, utcnow
from servicekit.kafka import KafkaPublisher, ensure_topics
from servicekit.outbox import Outbox, OutboxRelay
from servicekit.testing import TansuBroker
from servicekit.timers import ScheduledTimer, TimerRunner, schedule
from sqlmodel import SQLModel

from .conftest import FAST_GROUP, KitTestWidget, WidgetMade, eventually, read_topic

outbox = Outbox("kittest")
HOUR = 3600.0


async def commit_widget(database: Database, event_type: type[WidgetMade], seq: int) -> None:
    async with database.transaction() as session:
        name = f"w-{seq}-{uuid.uuid4().hex[:6]}"
        session.add(KitTestWidget(name=name, subject="t-1", seq=seq))
        outbox.emit(session, event_type(name=name, seq=seq), subject="t-1")


async def stopped(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class TestRelayWakeups:
    async def test_a_relay_with_an_hour_long_fallback_poll_publishes_a_commit_of_its_process_at_once(
        self, broker: TansuBroker, database: Database, publisher: KafkaPublisher, event_type: type[WidgetMade]
    ) -> None:
        relay = OutboxRelay(database, publisher, poll_interval_s=HOUR, idle_poll_s=HOUR, check_every_s=HOUR)
        task = asyncio.create_task(relay.run())
        try:
            for seq in range(3):
                await commit_widget(database, event_type, seq)
                await eventually(
                    lambda: _published(relay), timeout=30, what=f"event {seq} published with no poll due for an hour"
                )
        finally:
            await stopped(task)
        assert len(await read_topic(broker.bootstrap_servers, event_type.topic)) == 3

    async def test_on_postgresql_a_commit_of_another_process_wakes_the_relay_through_notify(
        self,
        broker: TansuBroker,
        database: Database,
        database_url: str,
        publisher: KafkaPublisher,
        event_type: type[WidgetMade],
    ) -> None:
        if database.is_sqlite:
            pytest.skip("NOTIFY is PostgreSQL's (TEST_DATABASE_URL); SQLite relies on the fallback poll")
        relay = OutboxRelay(database, publisher, poll_interval_s=HOUR, idle_poll_s=HOUR, check_every_s=HOUR)
        task = asyncio.create_task(relay.run())
        other_process = Database(database_url, pool_size=2)  # its own engine: no relay of its own
        try:
            await eventually(lambda: relay.wakeup.listening, timeout=30, what="the relay listening")
            await commit_widget(other_process, event_type, 1)
            await eventually(lambda: _published(relay), timeout=30, what="the other process's event published")
        finally:
            await stopped(task)
            await other_process.dispose()
        assert len(await read_topic(broker.bootstrap_servers, event_type.topic)) == 1

    async def test_on_sqlite_the_fallback_poll_finds_a_commit_of_another_process(
        self,
        broker: TansuBroker,
        database: Database,
        database_url: str,
        publisher: KafkaPublisher,
        event_type: type[WidgetMade],
    ) -> None:
        relay = OutboxRelay(database, publisher, poll_interval_s=0.05, idle_poll_s=0.5, check_every_s=HOUR)
        task = asyncio.create_task(relay.run())
        other_process = Database(database_url, pool_size=2)
        try:
            await commit_widget(other_process, event_type, 1)
            await eventually(lambda: _published(relay), timeout=30, what="the other process's event published")
        finally:
            await stopped(task)
            await other_process.dispose()


async def _published(relay: OutboxRelay) -> bool:
    return await relay.pending_count() == 0


@pytest.fixture
async def timers_database(database: Database) -> AsyncIterator[Database]:
    async with database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[ScheduledTimer.__table__])  # type: ignore[attr-defined]
    yield database


class TestTimerWakeups:
    async def test_a_runner_asleep_for_an_hour_fires_a_timer_scheduled_in_its_process_at_once(
        self, timers_database: Database
    ) -> None:
        fired: list[str] = []

        async def handler(session: object, timer: ScheduledTimer) -> None:
            fired.append(timer.key)

        runner = TimerRunner(timers_database, {"k": handler}, max_sleep_s=HOUR)
        task = asyncio.create_task(runner.run())
        try:
            assert await runner.next_sleep_s() == HOUR  # nothing pending: it would sleep its longest
            async with timers_database.transaction() as session:
                await schedule(session, "k", "now", utcnow())
            await eventually(lambda: fired == ["now"], timeout=30, what="the timer fired without the hour's sleep")
        finally:
            await stopped(task)

    async def test_a_runner_sleeps_until_the_next_timer_is_due_and_then_fires_it(
        self, timers_database: Database
    ) -> None:
        fired: list[str] = []

        async def handler(session: object, timer: ScheduledTimer) -> None:
            fired.append(timer.key)

        async with timers_database.transaction() as session:
            await schedule(session, "k", "soon", utcnow() + timedelta(seconds=1))
            await schedule(session, "k", "later", utcnow() + timedelta(days=1))
            await schedule(session, "other-kind", "x", utcnow() + timedelta(milliseconds=10))
        runner = TimerRunner(timers_database, {"k": handler}, max_sleep_s=HOUR)
        assert 0 < await runner.next_sleep_s() <= 1.0  # the next of ITS kinds, not the hour
        task = asyncio.create_task(runner.run())
        try:
            await eventually(lambda: fired == ["soon"], timeout=30, what="the timer fired when due")
            assert await runner.next_sleep_s() > 1.0  # now until tomorrow's, capped
        finally:
            await stopped(task)
        assert fired == ["soon"]

    async def test_on_postgresql_a_timer_scheduled_by_another_process_wakes_the_runner(
        self, timers_database: Database, database_url: str
    ) -> None:
        if timers_database.is_sqlite:
            pytest.skip("NOTIFY is PostgreSQL's (TEST_DATABASE_URL)")
        fired: list[str] = []

        async def handler(session: object, timer: ScheduledTimer) -> None:
            fired.append(timer.key)

        runner = TimerRunner(timers_database, {"k": handler}, max_sleep_s=HOUR)
        task = asyncio.create_task(runner.run())
        other_process = Database(database_url, pool_size=2)
        try:
            await eventually(lambda: runner.wakeup.listening, timeout=30, what="the runner listening")
            async with other_process.transaction() as session:
                await schedule(session, "k", "now", utcnow())
            await eventually(lambda: fired == ["now"], timeout=30, what="the other process's timer fired")
        finally:
            await stopped(task)
            await other_process.dispose()


class TestAdaptiveFetchWait:
    def test_the_wait_is_short_while_records_flow_grows_after_a_quiet_spell_and_is_short_again_on_records(
        self,
    ) -> None:
        wait = AdaptiveWait(busy_ms=50, idle_ms=1000, quiet_after_s=30.0, step_s=2.0)
        wait.records(0.0)
        wait.quiet(29.0)
        assert wait.ms == 50  # not quiet long enough
        seen = []
        for now in range(30, 60):
            wait.quiet(float(now))
            seen.append(wait.ms)
        assert seen == sorted(seen)  # only grows while quiet
        assert seen[0] > 50 and seen[-1] == 1000  # never beyond the idle wait
        wait.records(61.0)
        assert wait.ms == 50

    async def test_an_idle_consumer_fetches_with_the_long_wait_and_goes_back_to_the_short_one_on_data(
        self,
        broker: TansuBroker,
        database: Database,
        publisher: KafkaPublisher,
        event_type: type[WidgetMade],
    ) -> None:
        waits_when_applied: list[tuple[int, int | None]] = []

        async def handler(session: Any, event: Any, data: Any) -> None:
            waits_when_applied.append((consumer.wait.ms, _fetch_wait(consumer)))

        consumer = EventConsumer(
            database,
            publisher,
            bootstrap_servers=broker.bootstrap_servers,
            group_id=f"kittest-{uuid.uuid4().hex[:12]}",
            handlers={event_type: handler},
            consumer_config=FAST_GROUP,
            fetch_max_wait_ms=50,
            idle_fetch_wait_ms=400,
            quiet_after_s=0.0,
        )
        consumer.wait.step_s = 0.1
        await ensure_topics(broker.bootstrap_servers, [*consumer.topics, consumer.dead_letter_topic])
        task = asyncio.create_task(consumer.run())
        try:
            await eventually(lambda: _fetch_wait(consumer) == 400, timeout=60, what="the long wait when idle")
            await commit_widget(database, event_type, 7)
            await OutboxRelay(database, publisher).publish_pending()
            await eventually(lambda: waits_when_applied, timeout=60, what="the event applied after the quiet spell")
            assert waits_when_applied == [(50, 50)]  # the next fetch waits short again: more may follow
            await eventually(lambda: _fetch_wait(consumer) == 400, timeout=60, what="the long wait when quiet again")
        finally:
            await stopped(task)


def _fetch_wait(consumer: EventConsumer) -> int | None:
    client = consumer._consumer
    fetcher = getattr(client, "_fetcher", None) if client is not None else None
    return getattr(fetcher, "_fetch_max_wait_ms", None)


class TestIdleMemoryCheck:
    async def test_an_idle_relay_checks_the_broker_memory_at_the_idle_interval_and_a_publishing_one_at_the_short(
        self, broker: TansuBroker, database: Database, publisher: KafkaPublisher, event_type: type[WidgetMade]
    ) -> None:
        relay = OutboxRelay(database, publisher, check_every_s=0.05, idle_check_every_s=HOUR)
        await ensure_topics(broker.bootstrap_servers, [event_type.topic])
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(relay.run())
        try:
            # Nothing published since its last check: the next one is an hour away, not 50 ms.
            await eventually(lambda: relay._next_check - loop.time() > HOUR / 2, timeout=30, what="the idle interval")
            await commit_widget(database, event_type, 1)
            await eventually(lambda: _published(relay), timeout=30, what="the event published")
            assert relay._published_since_check  # so the check that comes next is followed by the short interval
        finally:
            await stopped(task)
