"""The Kafka producer shared by the outbox relay and the dead-letter path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

logger = logging.getLogger("servicekit.kafka")


@dataclass(frozen=True)
class Record:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class KafkaPublisher:
    """Publishes records with acks=all; idempotence is a setting (Tansu lacks it, Apache Kafka has it)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        enable_idempotence: bool = False,
        client_id: str | None = None,
        request_timeout_ms: int = 15_000,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._kwargs = {
            "bootstrap_servers": bootstrap_servers,
            "enable_idempotence": enable_idempotence,
            "acks": "all",
            "client_id": client_id,
            "request_timeout_ms": request_timeout_ms,
            "linger_ms": 1,
        }
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _ensure_started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**self._kwargs)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, records: Sequence[Record]) -> None:
        """Send every record and wait for all acknowledgements; order is kept per partition."""
        producer = await self._ensure_started()
        futures = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers or None) for r in records]
        await asyncio.gather(*futures)

    async def check(self, timeout: float = 2.0) -> None:
        """Raise if the broker cannot be reached (used by /readyz)."""
        producer = await asyncio.wait_for(self._ensure_started(), timeout)
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def ensure_topics(
    bootstrap_servers: str, topics: Sequence[str], *, partitions: int = 3, replication_factor: int = 1
) -> None:
    """Create topics that do not exist yet, so consumers can subscribe before the first event."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
            for t in topics
            if t not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:  # another replica may have raced us; log and go on
                logger.warning("creating topics failed: %s", exc)
    finally:
        await admin.close()
