"""Rebuilding insight from the topics: `insight replay` reads every event still on the applicant, benefits and
housing topics and applies it with the worker's own handlers, then stops once it has caught up.

Insight publishes nothing, so unlike the other services' `replay` (which re-publishes their outbox) its replay
is a read: into an empty database (a new deployment, a lost volume, a change to a read model) it gives the
same rows the worker built, because the facts are last-writer-wins by event time and the consumer's ledger is
the worker's (group `insight.facts`): an event the worker already applied is skipped. No consumer-group offset
is read or committed, so the running worker is not disturbed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from servicekit.consumer import EventConsumer
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, new_consumer

from insight import snapshots
from insight.components import Components
from insight.config import InsightSettings
from insight.handlers import fact_handlers

logger = logging.getLogger("insight.replay")

GROUP_ID = "insight.facts"  # the worker's group (main.CONSUMER_GROUP): one ledger for both
IDLE_MS = 1500  # how long one poll waits for records before the replay checks whether it has caught up


async def _caught_up(kafka: AIOKafkaConsumer, partition: TopicPartition, listed_end: int) -> bool:
    """At or past both the end listed at the start and the high watermark of the last fetch."""
    position: int = await kafka.position(partition)
    highwater: int | None = kafka.highwater(partition)
    if highwater is None:  # no fetch answered yet: a listed end of 0 may still hide one batch (Tansu lists its base)
        return False
    return position >= listed_end and position >= highwater


async def rebuild(settings: InsightSettings, *, since: datetime | None = None) -> int:
    """Apply every retained event (or those from `since` on) until caught up; returns how many were read."""
    components = Components.from_settings(settings)
    database = Database(settings.database_url)
    publisher = KafkaPublisher(
        settings.kafka_bootstrap_servers,
        security=settings.kafka_security,
        enable_idempotence=settings.kafka_enable_idempotence,
    )
    consumer = EventConsumer(
        database,
        publisher,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security=settings.kafka_security,
        group_id=GROUP_ID,
        handlers=fact_handlers(components.pseudonymise),
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_s=settings.consumer_retry_backoff_s,
        batch_size=settings.consumer_batch_size,
    )
    kafka = new_consumer(
        settings.kafka_bootstrap_servers, settings.kafka_security, group_id=None, enable_auto_commit=False
    )
    read = 0
    try:
        await kafka.start()
        existing = await kafka.topics()
        partitions = [
            TopicPartition(topic, partition)
            for topic in consumer.topics
            if topic in existing
            for partition in sorted(kafka.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        kafka.assign(partitions)
        if since is None:
            await kafka.seek_to_beginning(*partitions)
        else:
            found = await kafka.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            ends = await kafka.end_offsets(partitions)
            for tp in partitions:
                offset = found.get(tp)
                kafka.seek(tp, offset.offset if offset is not None else ends[tp])
        # Caught up means: past the end each partition had when the replay started, and at the high watermark
        # the last fetch reported. Both are needed: Tansu answers ListOffsets with the base offset of the last
        # batch, not the end of it, so the listed end alone would stop a replay before the last batch's
        # records; the fetch's high watermark is exact. A slow poll on a busy machine never ends the replay.
        ends = await kafka.end_offsets(partitions)
        while True:
            batches = await kafka.getmany(timeout_ms=IDLE_MS, max_records=settings.consumer_batch_size)
            for messages in batches.values():
                await consumer.handle_batch(messages)
                read += len(messages)
            if not batches and all([await _caught_up(kafka, tp, ends[tp]) for tp in partitions]):
                break
        logger.info("replayed %d events into insight", read)
        # The stored summary, from the rebuilt rows (a running worker also recomputes it after its batches).
        async with database.transaction() as session:
            await snapshots.refresh_summary(session, components)
        return read
    finally:
        await kafka.stop()
        await publisher.stop()
        await database.dispose()
