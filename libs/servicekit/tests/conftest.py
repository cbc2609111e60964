"""Fixtures for the servicekit suite: a real Tansu broker, real databases, unique topics and groups.

SQLite by default; PostgreSQL when TEST_DATABASE_URL is set (a fresh database per test, dropped after).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import contracts.registry
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from contracts import CloudEvent, NotifyEvent
from servicekit.consumer import EventConsumer, Handler
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, ensure_topics
from servicekit.models import OutboxEvent, ProcessedEvent
from servicekit.testing import TansuBroker, create_database, drop_database
from servicekit.testing import eventually as eventually  # the tests import it from here
from sqlalchemy import func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["postgresql"] if TEST_DATABASE_URL.startswith("postgresql") else ["sqlite"]

# Tansu answers a JoinGroup after half the session timeout; keep joins (and rejoins) short in tests.
FAST_GROUP = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 300, "rebalance_timeout_ms": 1000}


# --- a tiny domain of our own ----------------------------------------------------------------------


class KitTestWidget(SQLModel, table=True):
    """The effect table of the tests: what an endpoint or a handler writes."""

    __tablename__ = "kit_test_widget"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    subject: str = Field(default="", max_length=120)
    seq: int = 0


class WidgetMade(NotifyEvent):
    """A test-only event type. Each test publishes it on a topic of its own (see `event_type`)."""

    type = "talent.notify.kittest_widget_made.v1"

    name: str
    seq: int = 0


TABLES = [OutboxEvent.__table__, ProcessedEvent.__table__, KitTestWidget.__table__]


@pytest.fixture(autouse=True)
def _registered_test_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let `contracts.parse_data` know the test event type (the registry is a snapshot taken at import)."""
    monkeypatch.setattr(
        contracts.registry, "EVENT_TYPES", MappingProxyType({**contracts.EVENT_TYPES, **{WidgetMade.type: WidgetMade}})
    )


@pytest.fixture
def event_type() -> type[WidgetMade]:
    """WidgetMade on a topic no other test uses, so no test sees another's messages."""
    topic = f"kittest.{uuid.uuid4().hex[:12]}"
    return type(f"WidgetMade_{topic[-12:]}", (WidgetMade,), {"topic": topic, "__module__": __name__})


# --- broker ---------------------------------------------------------------------------------------


# The session's broker is the `broker` fixture of the repository's root conftest.py.


@pytest.fixture
async def publisher(broker: TansuBroker) -> AsyncIterator[KafkaPublisher]:
    kafka = KafkaPublisher(broker.bootstrap_servers, client_id="kittest")
    try:
        yield kafka
    finally:
        await kafka.stop()


async def read_topic(bootstrap_servers: str, topic: str, *, timeout: float = 30.0) -> list[ConsumerRecord[Any, Any]]:
    """Every record on the topic up to its current end, partition by partition (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + timeout
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {timeout}s")
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    return next((bytes(v).decode() for k, v in record.headers or () if k == name), None)


def event_of(record: ConsumerRecord[Any, Any]) -> CloudEvent:
    return CloudEvent.from_json(record.value)


# --- databases ------------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database no other test uses, with the outbox, ledger and widget tables; dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}"
        await _create_tables(url)
        yield url
        return
    name = f"kittest_{uuid.uuid4().hex[:12]}"
    url = await asyncio.to_thread(create_database, TEST_DATABASE_URL, name)
    try:
        await _create_tables(url)
        yield url
    finally:
        await asyncio.to_thread(drop_database, TEST_DATABASE_URL, name)


async def _create_tables(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=TABLES))
    finally:
        await database.dispose()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url, pool_size=4)
    try:
        yield db
    finally:
        await db.dispose()


async def count_rows(database: Database, model: type[SQLModel], *where: Any) -> int:
    async with database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def widget_names(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list(await session.exec(select(KitTestWidget.name).order_by(col(KitTestWidget.id))))


# --- consumers ------------------------------------------------------------------------------------


async def write_widget(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    """The usual effect: one widget row per event."""
    session.add(KitTestWidget(name=data.name, subject=event.subject or "", seq=data.seq))


@dataclass
class RunningConsumer:
    consumer: EventConsumer
    task: asyncio.Task[None]

    async def stop(self) -> BaseException | None:
        if not self.task.done():
            self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            return None
        except BaseException as exc:  # a consumer "killed" on purpose ends with its exception
            return exc
        return None


@pytest.fixture
async def start_consumer(
    broker: TansuBroker, database: Database, publisher: KafkaPublisher
) -> AsyncIterator[Callable[..., Awaitable[RunningConsumer]]]:
    """Start EventConsumers (fast group settings) that are stopped when the test ends."""
    running: list[RunningConsumer] = []

    async def start(
        handlers: Mapping[type[WidgetMade], Handler],
        *,
        group_id: str | None = None,
        consumer_class: type[EventConsumer] = EventConsumer,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.01,
        db: Database | None = None,
    ) -> RunningConsumer:
        group = group_id or f"kittest-{uuid.uuid4().hex[:12]}"
        consumer = consumer_class(
            db or database,
            publisher,
            bootstrap_servers=broker.bootstrap_servers,
            group_id=group,
            handlers=handlers,  # type: ignore[arg-type]
            max_attempts=max_attempts,
            retry_backoff_s=retry_backoff_s,
            consumer_config=FAST_GROUP,
        )
        await ensure_topics(broker.bootstrap_servers, [*consumer.topics, consumer.dead_letter_topic])
        handle = RunningConsumer(consumer, asyncio.create_task(consumer.run(), name=f"consumer:{group}"))
        running.append(handle)
        return handle

    try:
        yield start
    finally:
        for handle in running:
            await handle.stop()
