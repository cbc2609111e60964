"""`insight replay`: every event retained on the topics, read from their beginning into an empty database, gives
the rows the worker built — on a real broker."""

from __future__ import annotations

from typing import Any

import pytest
from contracts import TOPICS, topic_for
from fastapi import FastAPI
from insight.config import InsightSettings
from insight.replay import rebuild
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, Record, ensure_topics
from servicekit.migrations import upgrade
from servicekit.testing import TansuBroker

from .conftest import ALEMBIC_INI, TESTBED, apply, dump, sample_city

pytestmark = pytest.mark.asyncio


async def test_replay_into_an_empty_database_rebuilds_the_same_rows(
    insight_app: FastAPI, insight_databases: Any
) -> None:
    # A broker of its own: the sample's canary events must never reach the session broker, whose topics the
    # cross-service stacks' consumers read (they would retry and dead-letter them, slowing every stack test).
    broker = TansuBroker().start()
    try:
        await _replay_rebuilds_the_same_rows(insight_app, insight_databases, broker)
    finally:
        broker.stop()


async def _replay_rebuilds_the_same_rows(insight_app: FastAPI, insight_databases: Any, broker: TansuBroker) -> None:
    city = sample_city()
    # Three partitions: a talent's events travel under different keys (its own id, its cases', the event's id),
    # so the replay applies them in another order than they were published — the facts must not care.
    await ensure_topics(broker.bootstrap_servers, list(TOPICS), partitions=3)
    publisher = KafkaPublisher(broker.bootstrap_servers)
    try:
        records = [
            Record(topic=topic_for(e.type), value=e.to_json(), key=(e.subject or e.id).encode()) for e in city.events
        ]
        await publisher.publish(records)
    finally:
        await publisher.stop()
    # The app's database may hold rows other tests applied straight to it (never on the topics): the sample's
    # own rows are what applying its events added.
    before = await dump(insight_app.state.database)
    await apply(insight_app, city.events)
    after = await dump(insight_app.state.database)
    expected = {table: sorted(set(rows) - set(before[table]), key=repr) for table, rows in after.items()}
    assert any(expected.values())

    with insight_databases.fresh() as url:
        settings: InsightSettings = TESTBED.settings(url, broker)
        upgrade(ALEMBIC_INI, url)
        read = await rebuild(settings)
        assert read >= len(city.events)
        database = Database(url)
        try:
            rebuilt = await dump(database)
        finally:
            await database.dispose()
        # The topics may also hold other tests' events: the sample's own rows must be there, identical.
        for table, rows in expected.items():
            assert set(rows) <= set(rebuilt[table]), table
        # And a second replay into the same database changes nothing (the ledger, then last-writer-wins).
        assert await rebuild(settings) >= len(city.events)
        database = Database(url)
        try:
            assert await dump(database) == rebuilt
        finally:
            await database.dispose()
