"""The idempotent consumer: effect and ledger in one transaction, then the offset; poison to a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from contracts import CloudEvent, EventData, InvalidEvent, dead_letter_topic, parse_data
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.context import KAFKA_REQUEST_ID_HEADER, request_id_var
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, Record
from servicekit.models import ProcessedEvent

logger = logging.getLogger("servicekit.consumer")

CONSUMED = Counter("consumer_events_total", "Events seen by a consumer, by outcome", ["group", "outcome"])

# (session, envelope, typed data) -> effect, inside the transaction that also records the event as processed.
Handler = Callable[[AsyncSession, CloudEvent, Any], Awaitable[None]]


class PoisonMessage(Exception):
    """A message no retry can fix (not an event, or data that does not validate)."""


class _LogRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group: str) -> None:
        self.group = group

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Offsets are committed after every effect, so nothing is pending here.
        logger.info("%s: partitions revoked %s", self.group, sorted(str(tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        logger.info("%s: partitions assigned %s", self.group, sorted(str(tp) for tp in assigned))


class EventConsumer:
    """Consumes a consumer group's topics and applies each event exactly once to the database."""

    def __init__(
        self,
        database: Database,
        publisher: KafkaPublisher,
        *,
        bootstrap_servers: str,
        group_id: str,
        handlers: Mapping[type[EventData], Handler],
        max_attempts: int = 5,
        retry_backoff_s: float = 0.2,
        consumer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.handlers = {data_type.type: handler for data_type, handler in handlers.items()}
        self.topics: Sequence[str] = sorted({data_type.topic for data_type in handlers})
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.dead_letter_topic = dead_letter_topic(group_id)
        # Extra AIOKafkaConsumer settings, e.g. a short session_timeout_ms in tests: Tansu answers a
        # JoinGroup only after half the session timeout, so the default 10 s costs 5 s per join.
        self.consumer_config = dict(consumer_config or {})
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        """Consume until cancelled, reconnecting when the broker goes away."""
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self.consumer_config,
            )
            try:
                await consumer.start()
                consumer.subscribe(list(self.topics), listener=_LogRebalance(self.group_id))
                self._consumer = consumer
                async for message in consumer:
                    await self.handle(message)
                    await self.commit_offset(consumer, message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s: consumer failed, restarting: %s", self.group_id, exc)
                await asyncio.sleep(1.0)
            finally:
                self._consumer = None
                await consumer.stop()

    async def commit_offset(self, consumer: AIOKafkaConsumer, message: ConsumerRecord[Any, Any]) -> None:
        await consumer.commit({TopicPartition(message.topic, message.partition): message.offset + 1})

    async def handle(self, message: ConsumerRecord[Any, Any]) -> None:
        """Apply one message: at most once thanks to the ledger, retried, then dead-lettered."""
        token = request_id_var.set(_header(message, KAFKA_REQUEST_ID_HEADER))
        try:
            try:
                event = CloudEvent.from_json(message.value)
            except InvalidEvent as exc:
                await self._dead_letter(message, f"not a CloudEvent: {exc}")
                return
            handler = self.handlers.get(event.type)
            if handler is None:
                CONSUMED.labels(self.group_id, "ignored").inc()
                return
            for attempt in range(1, self.max_attempts + 1):
                try:
                    applied = await self.apply(event, handler)
                    CONSUMED.labels(self.group_id, "applied" if applied else "duplicate").inc()
                    logger.info(
                        "%s: %s %s %s",
                        self.group_id,
                        "applied" if applied else "skipped duplicate",
                        event.type,
                        event.id,
                    )
                    return
                except PoisonMessage as exc:
                    await self._dead_letter(message, str(exc))
                    return
                except Exception as exc:
                    if attempt == self.max_attempts:
                        logger.exception("%s: %s failed %d times", self.group_id, event.type, attempt)
                        await self._dead_letter(message, f"{type(exc).__name__}: {exc}")
                        return
                    logger.warning("%s: %s attempt %d failed: %s", self.group_id, event.type, attempt, exc)
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
        finally:
            request_id_var.reset(token)

    async def apply(self, event: CloudEvent, handler: Handler) -> bool:
        """Run the handler and record the event in one transaction; False when it was already applied."""
        try:
            data = parse_data(event)
        except (InvalidEvent, ValidationError) as exc:
            raise PoisonMessage(f"invalid data for {event.type}: {exc}") from exc
        try:
            async with self.database.transaction() as session:
                if await session.get(ProcessedEvent, (self.group_id, event.id)) is not None:
                    return False
                await handler(session, event, data)
                session.add(ProcessedEvent(consumer_group=self.group_id, event_id=event.id, event_type=event.type))
            return True
        except IntegrityError:
            # A replica in the same group applied it concurrently (rebalance); then it is a duplicate.
            async with self.database.sessionmaker() as session:
                if await session.get(ProcessedEvent, (self.group_id, event.id)) is not None:
                    return False
            raise

    async def _dead_letter(self, message: ConsumerRecord[Any, Any], reason: str) -> None:
        CONSUMED.labels(self.group_id, "dead_lettered").inc()
        logger.error(
            "%s: dead-lettering %s[%d]@%d: %s", self.group_id, message.topic, message.partition, message.offset, reason
        )
        headers = list(message.headers or ())
        headers += [
            ("dlq-reason", reason[:1000].encode()),
            ("dlq-source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        ]
        await self.publisher.publish(
            [Record(topic=self.dead_letter_topic, value=message.value or b"", key=message.key, headers=headers)]
        )


def _header(message: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in message.headers or ():
        if key == name and value:
            return bytes(value).decode(errors="replace")
    return None
